"""Aggregates over immutable rows are computed once; without Redis they are still right."""

from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from custseg_site import aggregate_cache
from tests.customers.factories import CustomerFactory
from tests.segments.factories import RunFactory, segmented_run

pytestmark = pytest.mark.django_db

LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "aggregates"}}


@override_settings(CACHES=LOCAL_CACHE)
def test_a_comparison_of_two_finished_runs_is_counted_once(django_assert_num_queries):
    from segments.selectors import run_comparison

    customers = CustomerFactory.create_batch(6)
    finished = {"finished_at": timezone.now()}
    run_a = segmented_run(groups={0: customers[:3], 1: customers[3:]}, **finished)
    run_b = segmented_run(groups={0: customers[:2], 1: customers[2:]}, **finished)
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


@override_settings(CACHES=LOCAL_CACHE)
def test_nothing_is_kept_for_a_run_that_has_not_finished():
    compute = mock.Mock(side_effect=[1, 2])
    run = RunFactory()  # pending: its memberships may still be written
    assert aggregate_cache.cached("pairs", compute, aggregate_cache.stamp(run)) == 1
    assert aggregate_cache.cached("pairs", compute, aggregate_cache.stamp(run)) == 2
