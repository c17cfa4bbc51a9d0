"""Feature snapshots through the service, CLI, API and pages: exact values on hand-made data."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from customers.models import CustomerFeatures, FeatureSnapshot
from customers.selectors import feature_catalogue, feature_snapshot_current
from customers.services.features import features_compute_create, features_execute
from tests.customers.factories import CustomerFactory, TransactionFactory

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 6, 1, 12, tzinfo=UTC)


def buy(customer, days_before, amount, invoice, quantity=1, **extra):
    return TransactionFactory(customer=customer, timestamp=DAY - timedelta(days=days_before), invoice_id=invoice,
                              quantity=quantity, unit_price=abs(Decimal(amount)) / abs(quantity),
                              amount=Decimal(amount), **extra)


@pytest.fixture
def shop():
    """Three customers: a regular, a one-off buyer, and one who only returned something."""
    regular, once, returner = (CustomerFactory(external_id=x) for x in ("REG", "ONCE", "RET"))
    buy(regular, 100, "50.00", "A1")
    buy(regular, 60, "30.00", "A2", channel="store")
    buy(regular, 10, "20.00", "A3")
    buy(regular, 10, "-5.00", "A3R", quantity=-1)  # a return
    buy(once, 30, "200.00", "B1")
    buy(returner, 5, "-40.00", "C1", quantity=-2)
    return {"regular": regular, "once": once, "returner": returner}


def compute(**options):
    snapshot = features_compute_create(**options)
    features_execute(snapshot_id=snapshot.pk)
    snapshot.refresh_from_db()
    assert snapshot.status == "succeeded", snapshot.error
    return snapshot


def row(snapshot, customer):
    return CustomerFeatures.objects.get(snapshot=snapshot, customer=customer)


def test_features_of_hand_made_customers(shop):
    snapshot = compute()
    assert snapshot.as_of == (DAY - timedelta(days=5) + timedelta(days=1)).replace(hour=0)  # day after the last
    regular = row(snapshot, shop["regular"])
    # recency from the as-of date (the day after the last transaction, at midnight)
    assert regular.recency == pytest.approx((snapshot.as_of - (DAY - timedelta(days=10))).total_seconds() / 86400)
    assert (regular.frequency, regular.monetary) == (3, 95.0)  # the return is netted, not a purchase
    assert regular.avg_order_value == pytest.approx(95 / 3)
    assert regular.mean_days_between == pytest.approx(45.0)
    assert regular.return_rate == pytest.approx(5 / 105)
    assert regular.channel_mix == {"online": pytest.approx(2 / 3, abs=1e-3), "store": pytest.approx(1 / 3, abs=1e-3)}
    assert regular.rfm_code and regular.rfm_segment
    assert snapshot.customers == 3


def test_a_single_purchase_gets_scores_but_not_enough_data_for_a_lifetime_value(shop):
    once = row(compute(), shop["once"])
    assert once.frequency == 1 and once.monetary == 200.0 and once.mean_days_between is None
    assert once.rfm_segment and once.clv is None and once.clv_status


def test_a_customer_with_only_returns_has_no_purchase_and_negative_spend(shop):
    returner = row(compute(), shop["returner"])
    assert returner.frequency == 0 and returner.monetary == -40.0
    assert returner.rfm_segment == "No purchases" and returner.r_score is None


def test_features_change_when_new_transactions_arrive_and_the_old_snapshot_stays_readable(shop):
    first = compute()
    buy(shop["once"], 1, "70.00", "B2")
    pending = features_compute_create()
    assert feature_snapshot_current() == first  # the new one has not finished: pages read the first
    features_execute(snapshot_id=pending.pk)
    second = feature_snapshot_current()
    assert second.pk == pending.pk
    assert row(second, shop["once"]).frequency == 2 and row(first, shop["once"]).frequency == 1


def test_as_of_leaves_later_transactions_out(shop):
    snapshot = compute(as_of=DAY - timedelta(days=50))
    regular = row(snapshot, shop["regular"])
    assert (regular.frequency, regular.monetary) == (2, 80.0)  # A1 and A2; A3 and its return come later
    assert regular.recency == pytest.approx(10.0)


def test_cli_prints_the_fitted_parameters_and_refuses_a_bad_date(shop, capsys, django_capture_on_commit_callbacks):
    with pytest.raises(CommandError, match="--as-of takes a date"):
        call_command("compute_features", "--as-of", "yesterday")
    assert FeatureSnapshot.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=False):
        call_command("compute_features", "--json", "--no-wait")
    snapshot = FeatureSnapshot.objects.get()
    features_execute(snapshot_id=snapshot.pk)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["snapshot_id"] == snapshot.pk and "bgnbd" in summary


def test_api_computes_and_returns_a_customer(shop, api_client, analyst, manager, django_capture_on_commit_callbacks):
    assert api_client(manager).post("/api/v1/features/compute/", {}, format="json").status_code == 403
    assert api_client(analyst).get("/api/v1/feature-snapshots/current/").status_code == 404
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client(analyst).post("/api/v1/features/compute/", {}, format="json")
    assert response.status_code == 202, response.content
    features_execute(snapshot_id=response.json()["id"])
    current = api_client(manager).get("/api/v1/feature-snapshots/current/").json()
    assert current["status"] == "succeeded" and set(current["clv"]) >= {"bgnbd", "gamma_gamma", "diagnostics"}
    body = api_client(manager).get("/api/v1/customers/REG/").json()
    assert body["external_id"] == "REG" and body["features"]["frequency"] == 3
    assert body["features"]["rfm_segment"] and body["segment"] is None
    assert api_client(manager).get("/api/v1/customers/NOPE/").status_code == 404
    assert api_client().get("/api/v1/customers/REG/").status_code == 401


def test_pages_features_explore_and_customer(shop, client, analyst, manager):
    client.force_login(manager)
    assert "No features computed yet" in client.get(reverse("customers:features")).content.decode()
    assert client.post(reverse("customers:features-compute")).status_code == 403
    compute()
    page = client.get(reverse("customers:features")).content.decode()
    assert "Champions" in page and "R 4-5" in page and "BG/NBD" in page
    explore = client.get(reverse("customers:features-explore")).content.decode()
    # the run form's names for the features (customers.selectors.feature_catalogue)
    assert "feature-summary" in explore and feature_catalogue()["monetary"].label in explore
    found = client.get(reverse("customers:customer-search"), {"q": "REG"})
    assert found.status_code == 302 and found["Location"] == reverse("customers:customer-detail", args=["REG"])
    detail = client.get(found["Location"]).content.decode()
    assert "Customer REG" in detail and "A3R" in detail and "RFM segment" in detail
    assert "No customer has an id starting with" in client.get(reverse("customers:customer-search"), {"q": "ZZ"}).content.decode()


def test_segmentation_reads_the_snapshot_and_offers_its_extra_features(shop):
    from customers.selectors import customer_feature_frame, feature_catalogue

    assert "clv" not in feature_catalogue()  # only once a snapshot exists
    live = customer_feature_frame(features=["frequency", "monetary"])
    snapshot = compute()
    assert {"clv", "p_alive", "return_rate"} <= set(feature_catalogue())
    frame = customer_feature_frame(features=["frequency", "return_rate", "age"])
    regular = shop["regular"].pk
    assert frame.loc[regular, "frequency"] == row(snapshot, shop["regular"]).frequency == live.loc[regular, "frequency"]
    assert frame.loc[regular, "return_rate"] == pytest.approx(5 / 105)
    assert frame.loc[regular, "age"] == shop["regular"].age
    assert list(frame.columns) == ["frequency", "return_rate", "age"] and len(frame) == 3


def test_without_categories_the_top_category_share_is_missing_not_zero(client, manager, api_client):
    # given a customer whose purchases name no category (Online Retail has no such column)
    plain = CustomerFactory(external_id="PLAIN")
    buy(plain, 20, "30.00", "P1", category="")
    buy(plain, 10, "10.00", "P2", category="")
    snapshot = compute()
    # then the share is missing everywhere: row, API, customer page, explore page
    assert row(snapshot, plain).top_category_share is None and row(snapshot, plain).distinct_categories == 0
    assert api_client(manager).get("/api/v1/customers/PLAIN/").json()["features"]["top_category_share"] is None
    client.force_login(manager)
    detail = client.get(reverse("customers:customer-detail", args=["PLAIN"])).content.decode()
    assert "Top category's share of spend</td><td class=\"num\">–</td>" in detail
    explore = client.get(reverse("customers:features-explore")).content.decode()
    assert "<td>Share spent in top category</td><td class=\"num\">0</td>" in explore  # nobody has a value


def test_explore_shows_gender_and_country_as_counts(shop, client, manager):
    from customers import charts
    from customers.selectors import feature_sample

    snapshot = compute()
    sample = feature_sample(snapshot=snapshot)
    assert sample["gender"].dtype == "category" and set(sample["gender"].dropna()) <= {"Female", "Male"}
    assert sample["country"].tolist() == ["United Kingdom"] * 3
    histograms = charts.histograms_figure(sample, {})
    bars = [trace for trace in histograms["data"] if trace["type"] == "bar"]
    assert [trace["x"] for trace in bars][-1] == ["United Kingdom"] and bars[-1]["y"] == [3]
    correlation = charts.correlation_figure(sample, {})
    assert "country" not in correlation["data"][0]["x"]
    client.force_login(manager)
    assert client.get(reverse("customers:features-explore")).status_code == 200


def test_customers_without_transactions_get_a_snapshot_of_no_purchases():
    # given customers imported before any transaction (a customers file first)
    CustomerFactory.create_batch(3)
    # when the features are computed, as they are after that import
    snapshot = compute()
    # then the job succeeds, and every customer reads "No purchases"
    assert snapshot.status == "succeeded", snapshot.error
    assert snapshot.summary["rfm_segments"] == {"No purchases": 3}
    assert set(CustomerFeatures.objects.filter(snapshot=snapshot).values_list("frequency", flat=True)) <= {None, 0}


def test_an_error_after_the_snapshot_succeeded_keeps_it_and_its_rows(monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from customers.services import features as feature_services
    from tests.customers.factories import planted_customers

    # given customers with purchases, and pruning old snapshots that runs out of time
    planted_customers(per_group=5)

    def out_of_time():
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(feature_services, "_prune", out_of_time)
    # when the features are computed
    snapshot = feature_services.features_compute_create(enqueue=False)
    feature_services.features_execute(snapshot_id=snapshot.pk)
    # then the snapshot that committed as succeeded keeps its rows (before the fix, the
    # failure path deleted them under a "succeeded" snapshot)
    snapshot = FeatureSnapshot.objects.get(pk=snapshot.pk)
    assert snapshot.status == "succeeded"
    assert CustomerFeatures.objects.filter(snapshot=snapshot).count() == snapshot.customers == 15
