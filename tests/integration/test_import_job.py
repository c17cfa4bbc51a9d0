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
