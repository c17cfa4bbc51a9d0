"""The demo_data command and the demo_data_load service, against the database."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from customers.models import Customer, Transaction
from customers.services import DemoDataError, demo_data_load

END_DATE = datetime.date(2026, 6, 30)
WINDOW_START = datetime.datetime(2025, 7, 1, tzinfo=datetime.UTC)
WINDOW_END = datetime.datetime(2026, 7, 1, tzinfo=datetime.UTC)  # exclusive

pytestmark = pytest.mark.django_db


def run_demo_data(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("demo_data", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_command_writes_the_customers_and_their_year_of_transactions():
    # when
    stdout, stderr = run_demo_data("--customers", "300", "--seed", "1", "--end-date", "2026-06-30")

    # then
    transactions = Transaction.objects.count()
    assert Customer.objects.count() == 300
    assert 300 * 5 < transactions < 300 * 15
    assert stdout.startswith(f"Wrote 300 customers and {transactions:,} transactions in ")
    assert "300 / 300 customers" in stderr
    assert not Transaction.objects.filter(timestamp__lt=WINDOW_START).exists()
    assert not Transaction.objects.filter(timestamp__gte=WINDOW_END).exists()
    assert not Transaction.objects.filter(timestamp__date__lt=F("customer__signup_date")).exists()
    assert set(
        Customer.objects.values_list("attributes__demo_group", flat=True).distinct()
    ) == {"Champions", "Bargain regulars", "Big occasional spenders", "Lapsed", "New customers"}


def test_each_transaction_belongs_to_the_customer_it_was_generated_for():
    # given chunks smaller than the dataset, so ids are looked up chunk by chunk
    calls = []

    # when
    summary = demo_data_load(
        customers=250, seed=2, end_date=END_DATE, chunk_size=100,
        progress=lambda done, total: calls.append((done, total)),
    )

    # then invoice INV00000042-007 belongs to customer C00000042
    assert calls == [(100, 250), (200, 250), (250, 250)]
    assert summary.customers == Customer.objects.count() == 250
    assert summary.transactions == Transaction.objects.count()
    pairs = Transaction.objects.values_list("invoice_id", "customer__external_id")
    assert all(invoice[3:11] == external_id[1:] for invoice, external_id in pairs)


def test_stored_returns_have_negative_quantity_and_amount():
    demo_data_load(customers=400, seed=3, end_date=END_DATE)

    returns = Transaction.objects.filter(quantity__lt=0)
    assert returns.exists()
    assert not returns.filter(amount__gte=0).exists()
    assert not Transaction.objects.filter(unit_price__lte=0).exists()
    for quantity, unit_price, amount in Transaction.objects.values_list(
        "quantity", "unit_price", "amount"
    )[:500]:
        assert Decimal(quantity) * unit_price == amount


def test_second_run_without_flush_fails_and_writes_nothing():
    # given
    run_demo_data("--customers", "120", "--seed", "4")
    before = list(Transaction.objects.order_by("id").values_list("id", "amount"))

    # when / then
    with pytest.raises(CommandError, match="already holds 120 customers. Pass --flush"):
        run_demo_data("--customers", "50", "--seed", "5")
    assert Customer.objects.count() == 120
    assert list(Transaction.objects.order_by("id").values_list("id", "amount")) == before


def test_flush_replaces_the_existing_customers():
    # given
    run_demo_data("--customers", "120", "--seed", "4")
    old_ids = set(Customer.objects.values_list("id", flat=True))

    # when
    run_demo_data("--customers", "80", "--seed", "6", "--flush")

    # then
    assert Customer.objects.count() == 80
    assert not Customer.objects.filter(id__in=old_ids).exists()
    assert not Transaction.objects.filter(customer_id__in=old_ids).exists()
    assert Transaction.objects.exists()


@pytest.mark.parametrize("customers", ["0", "-5", "10000001"])
def test_impossible_customer_counts_are_refused(customers):
    with pytest.raises(CommandError, match="between 1 and 10,000,000"):
        run_demo_data("--customers", customers)
    assert not Customer.objects.exists()


def test_a_bad_end_date_is_refused():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run_demo_data("--customers", "10", "--end-date", "30/06/2026")


def test_service_refuses_existing_customers_with_a_clear_message():
    Customer.objects.create(external_id="X1")

    with pytest.raises(DemoDataError, match="already holds 1 customer. Pass --flush"):
        demo_data_load(customers=10, seed=0)
