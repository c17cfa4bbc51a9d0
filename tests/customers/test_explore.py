"""The Explore page shows every feature a run can use, and a correlation matrix whose
numbers can be read."""

import statistics

import pytest
from django.urls import reverse

from customers import charts
from customers.models import CustomAttribute
from customers.selectors import feature_catalogue, feature_sample, feature_snapshot_current
from segments.forms import RunForm
from tests.customers.factories import CustomerFactory
from tests.customers.test_features import buy, compute

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop_with_attributes():
    """Twelve customers with demographics, a number and a category attribute from an import, and purchases."""
    CustomAttribute.objects.create(key="Spending score", feature_name="attr_spending_score", type="number")
    CustomAttribute.objects.create(key="Tier", feature_name="attr_tier", type="category")
    customers = [CustomerFactory(attributes={"Spending score": 10 + 7 * i, "Tier": "gold" if i % 3 else "silver"})
                 for i in range(12)]
    for i, customer in enumerate(customers):
        for purchase in range(1 + i % 4):
            buy(customer, 5 + 20 * purchase + i, f"{10 + 3 * i}.00", f"I{i}-{purchase}")
    return customers


def test_explore_shows_every_feature_the_run_form_offers(shop_with_attributes, client, manager):
    compute()
    client.force_login(manager)
    response = client.get(reverse("customers:features-explore"))
    assert response.status_code == 200
    offered = dict(RunForm().fields["features"].choices)  # what a run can use, by label
    sample = feature_sample(snapshot=feature_snapshot_current())
    nobody_has = {offered[name] for name in offered if sample[name].isna().all()}  # e.g. CLV without a fit
    histograms = response.context["histograms_chart"]
    titles = {annotation["text"] for annotation in histograms["layout"]["annotations"]}
    # one chart per feature, numbers and categories alike
    assert titles == set(offered.values()) - nobody_has
    assert {"Age", "Annual income", "Gender", "Country", "Spending score", "Tier"} <= titles
    numeric = {f.label for f in feature_catalogue().values() if not f.categorical}
    summary = {row["label"] for row in response.context["summary"]}
    assert summary == numeric
    assert {"Age", "Annual income", "Spending score"} <= summary


def test_explore_summarises_demographics_and_attributes_over_all_customers(shop_with_attributes, client, manager):
    compute()
    client.force_login(manager)
    rows = {row["name"]: row for row in client.get(reverse("customers:features-explore")).context["summary"]}
    ages = [c.age for c in shop_with_attributes]
    scores = [c.attributes["Spending score"] for c in shop_with_attributes]
    assert (rows["age"]["count"], rows["age"]["min"], rows["age"]["max"]) == (12, min(ages), max(ages))
    assert rows["age"]["mean"] == pytest.approx(statistics.mean(ages))
    assert rows["attr_spending_score"]["mean"] == pytest.approx(statistics.mean(scores))
    assert rows["attr_spending_score"]["median"] == pytest.approx(statistics.median(scores))


def test_correlations_include_demographics_and_attributes(shop_with_attributes, client, manager):
    compute()
    client.force_login(manager)
    heatmap = client.get(reverse("customers:features-explore")).context["correlation_chart"]["data"][0]
    assert {"Age", "Annual income", "Spending score"} <= set(heatmap["x"])
    assert "Tier" not in heatmap["x"]  # a category has no order to correlate


def test_correlation_cells_keep_a_readable_size_however_many_features():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    for count in (4, 12, 24):
        sample = pd.DataFrame(rng.normal(size=(200, count)), columns=[f"feature {i}" for i in range(count)])
        figure = charts.correlation_figure(sample, {})
        heatmap, layout = figure["data"][0], figure["layout"]
        assert heatmap["textfont"]["size"] >= 11 and "%{x}" in heatmap["hovertemplate"]
        margin = layout["margin"]
        plot_height = layout["height"] - margin["t"] - margin["b"]
        plot_width = figure["min_width"] - margin["l"] - margin["r"] - 60  # less the colour bar
        assert plot_height / count >= 36 and plot_width / count >= 36
