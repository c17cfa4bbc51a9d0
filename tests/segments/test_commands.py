import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from segments.models import SegmentationRun
from tests.customers.factories import planted_customers

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "options, message",
    [
        ({"features": "recency,shoe_size"}, "Unknown feature(s): shoe_size"),
        ({"k": 1}, "between 2 and 50"),
        ({"k": 16}, "more than the 15 customers"),
    ],
)
def test_bad_input_exits_non_zero_with_the_message_and_writes_nothing(options, message):
    planted_customers(per_group=5)
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("segment", **options)
    assert SegmentationRun.objects.count() == 0


def test_empty_database_exits_non_zero():
    with pytest.raises(CommandError, match="no customers yet"):
        call_command("segment", "--json")
    assert SegmentationRun.objects.count() == 0


def test_unknown_algorithm_is_refused_by_the_parser():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("segment", "--algorithm", "magic")


def test_no_wait_prints_the_queued_run_as_json(capsys, django_capture_on_commit_callbacks):
    planted_customers(per_group=5)
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("segment", "--k", "3", "--json", "--no-wait")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "pending" and summary["k"] == 3
    assert SegmentationRun.objects.get().pk == summary["run_id"]
    assert len(callbacks) == 1
