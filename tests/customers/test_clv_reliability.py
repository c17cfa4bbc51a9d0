"""Lifetime value on data where the drop-out model learns nothing (issue 14, item 2): the
features page, the customer page and the API say "not reliable for this data" and why, and
show no chance still active; on data from the BG/NBD story they show it."""

from decimal import Decimal

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from customers.models import Customer, CustomerFeatures, Transaction
from customers.services.features import features_compute_create, features_execute
from segments.models import SegmentationRun
from segments.services.runs import run_validate
from tests.customers.analytics.conftest import bgnbd_transactions, no_dropout_transactions

pytestmark = pytest.mark.django_db

START = "2025-01-01"
DAYS = 400
AS_OF = pd.Timestamp(START, tz="UTC") + pd.Timedelta(days=DAYS)


def store(lines: pd.DataFrame) -> dict[int, Customer]:
    customers = Customer.objects.bulk_create(
        [Customer(external_id=f"C{number}") for number in sorted(lines["customer_id"].unique())])
    by_number = {int(c.external_id[1:]): c for c in customers}
    Transaction.objects.bulk_create([
        Transaction(customer=by_number[line.customer_id], invoice_id=line.invoice_id, timestamp=line.timestamp,
                    quantity=1, unit_price=Decimal(f"{line.amount:.2f}"), amount=Decimal(f"{line.amount:.2f}"),
                    product="Mug", category="Home", channel="online")
        for line in lines.itertuples()
    ])
    return by_number


def compute():
    snapshot = features_compute_create(as_of=AS_OF.to_pydatetime(), enqueue=False)
    features_execute(snapshot_id=snapshot.pk)
    snapshot.refresh_from_db()
    assert snapshot.status == "succeeded", snapshot.error
    return snapshot


def long_silent_repeat_customer(snapshot) -> Customer:
    """A customer with repeat purchases and none in the last 180 days: the one Online Retail
    showed as 98% still active."""
    row = (CustomerFeatures.objects.filter(snapshot=snapshot, frequency__gte=2, recency__gt=180)
           .select_related("customer").order_by("-recency").first())
    assert row is not None
    return row.customer


@pytest.fixture
def never_leaving():
    return store(no_dropout_transactions(customers=500, days=DAYS, seed=3, start=START))


@pytest.fixture
def bgnbd_shop():
    return store(bgnbd_transactions(customers=500, days=DAYS, seed=3, start=START))


def test_an_uninformative_fit_is_stored_as_not_reliable_with_no_chance_still_active(never_leaving):
    snapshot = compute()
    diagnostics = snapshot.clv["diagnostics"]
    # the diagnostics keep their shape (converged, log_likelihood...) and gain the verdict
    assert diagnostics["converged"] is True and "log_likelihood" in diagnostics
    assert diagnostics["reliability"]["verdict"] == "not reliable"
    assert diagnostics["reliability"]["reasons"]
    rows = CustomerFeatures.objects.filter(snapshot=snapshot)
    assert not rows.filter(p_alive__isnull=False).exists()
    assert rows.filter(expected_purchases__isnull=False).count() > 250


def test_pages_say_not_reliable_and_why(never_leaving, client, manager):
    snapshot = compute()
    client.force_login(manager)
    reasons = snapshot.clv["diagnostics"]["reliability"]["reasons"]

    page = client.get(reverse("customers:features")).content.decode()
    assert "Chance a customer is still active: not reliable for this data" in page
    assert all(reason in page for reason in reasons)
    holdout = snapshot.clv["diagnostics"]["reliability"]["holdout"]
    assert f"The {holdout['silent_customers']:,} repeat customers silent for 120+ days" in page
    assert f"{holdout['silent_mean_p_alive'] * 100:.0f}% chance of still being active by that fit" in page

    customer = long_silent_repeat_customer(snapshot)
    detail = client.get(reverse("customers:customer-detail", args=[customer.external_id])).content.decode()
    cell = detail.split('id="p-alive">', 1)[1].split("</td>", 1)[0]
    assert cell == "not reliable for this data" and "%" not in cell
    assert reasons[0] in detail
    # the explore page copes with a chance still active that nobody has
    assert client.get(reverse("customers:features-explore")).status_code == 200


def test_api_gives_no_p_alive_and_says_why(never_leaving, api_client, manager):
    snapshot = compute()
    customer = long_silent_repeat_customer(snapshot)
    features = api_client(manager).get(f"/api/v1/customers/{customer.external_id}/").json()["features"]
    assert features["p_alive"] is None and features["p_alive_reliable"] is False
    assert features["p_alive_note"].startswith("Not reliable for this data: ")
    current = api_client(manager).get("/api/v1/feature-snapshots/current/").json()
    assert current["clv_reliability"] == snapshot.clv["diagnostics"]["reliability"]
    assert current["clv_reliability"]["verdict"] == "not reliable"
    schema = api_client(manager).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    assert {"verdict", "p_alive_reliable", "reasons", "holdout"} <= set(components["CLVReliability"]["properties"])
    assert "clv_reliability" in components["FeatureSnapshot"]["properties"]


def test_a_reliable_fit_shows_the_chance_still_active(bgnbd_shop, client, manager, api_client):
    snapshot = compute()
    assert snapshot.clv["diagnostics"]["reliability"]["verdict"] == "reliable"
    customer = long_silent_repeat_customer(snapshot)
    row = CustomerFeatures.objects.get(snapshot=snapshot, customer=customer)
    client.force_login(manager)
    detail = client.get(reverse("customers:customer-detail", args=[customer.external_id])).content.decode()
    cell = detail.split('id="p-alive">', 1)[1].split("</td>", 1)[0]
    assert cell == f"{row.p_alive * 100:.0f}%"
    page = client.get(reverse("customers:features")).content.decode()
    assert "Chance a customer is still active: reliable on this data" in page
    features = api_client(manager).get(f"/api/v1/customers/{customer.external_id}/").json()["features"]
    assert features["p_alive"] == pytest.approx(row.p_alive) and features["p_alive_reliable"] is True
    assert features["p_alive_note"] == ""
    # and segmentation may use it
    assert run_validate(features=["recency", "p_alive"], algorithm="kmeans", k=3)["features"] == ["recency", "p_alive"]


def test_a_run_on_the_chance_still_active_is_refused_in_words_when_it_is_not_reliable(never_leaving):
    compute()
    with pytest.raises(ValidationError) as refused:
        run_validate(features=["recency", "p_alive"], algorithm="kmeans", k=3)
    assert "Chance still active is not reliable for this data" in str(refused.value)
    assert not SegmentationRun.objects.exists()
