"""Aggregates over immutable rows are computed once; without Redis they are still right."""

from unittest import mock

import pytest
from django.test import override_settings
from redis.exceptions import ConnectionError as RedisConnectionError

from custseg_site import aggregate_cache
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db

LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "aggregates"}}


@override_settings(CACHES=LOCAL_CACHE)
def test_a_comparison_of_two_finished_runs_is_counted_once(django_assert_num_queries):
    from segments.selectors import run_comparison

    customers = CustomerFactory.create_batch(6)
    run_a = segmented_run(groups={0: customers[:3], 1: customers[3:]})
    run_b = segmented_run(groups={0: customers[:2], 1: customers[2:]})
    first = run_comparison(run_a=run_a, run_b=run_b)
    # the second time only the two runs' segments are read; the join is not run again
    with django_assert_num_queries(2):
        again = run_comparison(run_a=run_a, run_b=run_b)
    assert again == first and first["matrix"] == [[2, 1], [0, 3]]


def test_without_redis_the_value_is_computed_and_the_page_still_answers():
    compute = mock.Mock(return_value={"customers": 3})
    with mock.patch.object(aggregate_cache.cache, "get", side_effect=RedisConnectionError("down")):
        assert aggregate_cache.cached("anything", compute) == {"customers": 3}
    with mock.patch.object(aggregate_cache.cache, "get", return_value=None), \
            mock.patch.object(aggregate_cache.cache, "set", side_effect=RedisConnectionError("down")):
        assert aggregate_cache.cached("anything", compute) == {"customers": 3}
    assert compute.call_count == 2
