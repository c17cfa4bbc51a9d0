"""Runs on data with real-world gaps, through the service, the run page and the API: who is
segmented, who is left out and why, and what was done to each feature."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from segments.models import Membership, SegmentationRun
from tests.customers.factories import CustomerFactory, TransactionFactory, planted_customers
from tests.segments.factories import finished_run

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page's words, tags and runs of spaces removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_customers_who_never_bought_are_left_out_of_an_rfm_feature_run_and_said_so(client, analyst):
    # given 30 buyers and 12 customers who never bought
    planted_customers(per_group=10)
    never = CustomerFactory.create_batch(12)
    # when a k-means run on recency, frequency and monetary finishes
    run = finished_run(k=3)
    # then only the buyers are in its segments
    members = set(Membership.objects.filter(run=run).values_list("customer_id", flat=True))
    assert len(members) == 30 and not members & {c.pk for c in never}
    assert sum(run.segments.values_list("size", flat=True)) == 30
    # and the run page counts both, in words
    client.force_login(analyst)
    page = text(client.get(reverse("segments:run-detail", args=[run.pk])))
    assert "30 customers segmented of 42" in page
    assert "12 left out: 12 with no purchases" in page
    assert "12 customers without any purchase left out" in page


def test_a_run_on_customer_record_features_keeps_customers_who_never_bought():
    planted_customers(per_group=10)
    CustomerFactory.create_batch(12)
    run = finished_run(features=["age", "annual_income"], k=3)
    assert Membership.objects.filter(run=run).count() == 42
    assert run.metrics["no_purchases"] == 0


def test_left_out_customers_are_not_counted_as_segmented(client, analyst):
    # given 25 customers with an age and 40 without
    CustomerFactory.create_batch(25)
    CustomerFactory.create_batch(40, age=None)
    # when a run leaves customers with a missing value out
    run = finished_run(features=["age", "annual_income"], k=2, missing="drop")
    client.force_login(analyst)
    page = text(client.get(reverse("segments:run-detail", args=[run.pk])))
    # then the page counts the 25 it segmented, and the 40 it left out and why
    assert "25 customers segmented of 65" in page
    assert "40 left out: 40 missing a value" in page
    assert "65 customers segmented" not in page
    assert "label -1" not in page


def test_outliers_of_a_density_run_are_named_as_such(client, analyst):
    planted_customers(per_group=15)
    loner = CustomerFactory()
    TransactionFactory(customer=loner, timestamp=timezone.now() - timedelta(days=900),
                       unit_price=Decimal("9000.00"), amount=Decimal("9000.00"))
    run = finished_run(algorithm="dbscan", eps=0.5, min_samples=3)
    assert run.metrics["noise_count"] >= 1
    client.force_login(analyst)
    page = text(client.get(reverse("segments:run-detail", args=[run.pk])))
    assert "Outliers (not in any segment)" in page
    assert f"{run.metrics['noise_count']} outliers (not in any segment)" in page
    assert f"{46 - run.metrics['noise_count']} customers segmented of 46" in page
    assert "Unassigned" not in page and "label -1" not in page


def returners():
    """Buyers with a long-tailed spend, three of whom returned more than they bought."""
    planted_customers(per_group=10)
    now = timezone.now()
    for position in range(3):
        customer = CustomerFactory()
        TransactionFactory(customer=customer, invoice_id=f"R{position}-1", timestamp=now - timedelta(days=40),
                           unit_price=Decimal("20.00"), amount=Decimal("20.00"))
        TransactionFactory(customer=customer, invoice_id=f"R{position}-2", timestamp=now - timedelta(days=30),
                           quantity=-5, unit_price=Decimal("20.00"), amount=Decimal("-100.00"))


def test_log_of_spend_with_net_returns_runs_and_the_page_says_what_was_done(client, analyst):
    # given customers whose net spend is below 0
    returners()
    # when the log transform of monetary is asked for explicitly
    run = finished_run(k=3, log_features=["monetary"])
    # then the run succeeds and its page says what was done to each feature and why
    client.force_login(analyst)
    page = text(client.get(reverse("segments:run-detail", args=[run.pk])))
    assert "3 customers have a negative value (such as net returns)" in page
    assert "Asked for in the run options." in page
    assert "Standard (z-score)" in page
    # and the API says the same
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(analyst)
    body = api.get(reverse("api:run-detail", args=[run.pk])).json()
    treatment = {row["feature"]: row for row in body["feature_treatment"]}
    assert treatment["monetary"]["transform"] == "log" and treatment["monetary"]["negative_values"] == 3
    assert treatment["recency"]["transform"] == "none" and treatment["recency"]["scaling"] == "standard"
    assert body["coverage"] == {"customers": 33, "in_run": 33, "segmented": 33, "outliers": 0, "left_out": 0,
                                "missing_values": 0, "no_purchases": 0}


def test_an_impossible_log_choice_is_refused_before_any_run_is_written(client, analyst):
    from rest_framework.test import APIClient

    returners()
    client.force_login(analyst)
    form = client.post(reverse("segments:run-create"), {"features": ["recency", "monetary"], "k": "3",
                                                         "log_features": "recency, country"})
    assert form.status_code == 400
    assert "Only chosen number features can be log-transformed: country." in text(form)
    api = APIClient()
    api.force_authenticate(analyst)
    response = api.post(reverse("api:run-list"), {"features": ["recency", "monetary", "gender"], "k": 3,
                                                  "log_features": ["gender", "tenure"]}, format="json")
    assert response.status_code == 400
    assert "log_features" in response.json()["error"]["fields"]
    with pytest.raises(CommandError, match="Only chosen number features"):
        call_command("segment", "--features", "recency,monetary", "--k", "3", "--log-features", "frequency")
    assert SegmentationRun.objects.count() == 0


def test_unscaled_features_of_very_different_spread_are_warned_about_on_the_page(client, analyst):
    CustomerFactory.create_batch(40)
    run = finished_run(features=["age", "annual_income"], k=3, scaling="none")
    client.force_login(analyst)
    page = text(client.get(reverse("segments:run-detail", args=[run.pk])))
    assert "Scaling is off" in page and "Annual income alone decides the segments" in page


def test_the_run_form_says_how_customers_without_purchases_are_treated(client, analyst):
    planted_customers(per_group=3)
    client.force_login(analyst)
    page = text(client.get(reverse("segments:run-create")))
    assert "Customers who never bought are left out of runs on purchase features" in page
    assert "none keeps raw units, so a feature in dollars outweighs one in years" in page


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_cli_summary_counts_who_was_left_out(celery_worker, capsys):
    import json

    planted_customers(per_group=10)
    CustomerFactory.create_batch(4)  # never bought
    call_command("segment", "--features", "recency,frequency,monetary", "--k", "3", "--stability-resamples", "0",
                 "--json")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert summary["coverage"]["segmented"] == 30 and summary["coverage"]["no_purchases"] == 4
    call_command("segment", "--features", "recency,frequency,monetary", "--k", "3", "--stability-resamples", "0")
    assert ", 4 left out," in capsys.readouterr().out
