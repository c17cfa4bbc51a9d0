"""The CLI import runs on a real Celery worker over Redis and prints its summary."""

import json

import pytest
from django.core.management import call_command

from customers.models import Customer, Transaction
from tests.customers.test_imports import RETAIL, write

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_cli_import_on_the_worker(celery_worker, tmp_path, capsys):
    path = write(tmp_path, "retail.csv.gz", RETAIL, compress=True)
    call_command("import_data", "transactions", str(path), "--json")
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert (summary["rows"], summary["created"], summary["rejected"]) == (7, 4, 3)
    assert summary["created"] + summary["updated"] + summary["unchanged"] + summary["rejected"] == summary["rows"]
    assert "[100%] succeeded" in captured.err
    assert Transaction.objects.count() == 4 and Customer.objects.count() == 2


def test_an_import_that_changes_data_refreshes_the_features_on_the_worker(celery_worker, tmp_path):
    import time

    from customers.models import CustomerFeatures, FeatureSnapshot

    call_command("import_data", "transactions", str(write(tmp_path, "retail.csv", RETAIL)), "--json")
    deadline = time.monotonic() + 60
    snapshot = FeatureSnapshot.objects.first()
    while snapshot is not None and snapshot.status in FeatureSnapshot.ACTIVE_STATUSES and time.monotonic() < deadline:
        time.sleep(0.5)
        snapshot.refresh_from_db()
    assert snapshot is not None and snapshot.trigger.startswith("import #")
    assert snapshot.status == "succeeded", snapshot.error
    # two customers are too few for the lifetime-value models: said, not failed
    assert "needs at least" in snapshot.clv["diagnostics"]["message"]
    assert CustomerFeatures.objects.filter(snapshot=snapshot).count() == Customer.objects.count() == 2
