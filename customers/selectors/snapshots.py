"""Reads of feature snapshots: the current one, RFM counts and grid, samples and aggregates."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from django.db.models import Count, Max, Min, Sum

from customers.models import Transaction
from custseg_site.aggregate_cache import cached, stamp


def feature_as_of():
    """The day after the last transaction: recency is measured from there."""
    last = Transaction.objects.aggregate(last=Max("timestamp"))["last"]
    if last is None:
        return None
    return (last + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def feature_snapshot_current():
    """The newest succeeded feature snapshot, or None: what pages and the API read."""
    from customers.models import FeatureSnapshot

    return (FeatureSnapshot.objects.filter(status=FeatureSnapshot.Status.SUCCEEDED)
            .order_by("-finished_at", "-id").first())


def customer_features_current(*, customer_id: int):
    """The customer's row in the current feature snapshot, or None."""
    from customers.models import CustomerFeatures

    snapshot = feature_snapshot_current()
    if snapshot is None:
        return None
    return CustomerFeatures.objects.filter(snapshot=snapshot, customer_id=customer_id).select_related("snapshot").first()


def clv_reliability(*, snapshot) -> dict | None:
    """The lifetime-value fit's verdict on P(alive) ("verdict", "p_alive_reliable", "reasons",
    the checks' numbers and "holdout"; customers.analytics.clv_reliability), or None when the
    snapshot has none: no snapshot, a fit that failed, or one computed before the check."""
    if snapshot is None:
        return None
    return ((snapshot.clv or {}).get("diagnostics") or {}).get("reliability") or None


def rfm_segment_counts(*, snapshot) -> dict[str, dict]:
    """Per named RFM segment: customers, their total net spend and mean lifetime value."""
    from django.db.models import Avg

    from customers.models import CustomerFeatures

    def compute():
        rows = (CustomerFeatures.objects.filter(snapshot=snapshot).values("rfm_segment")
                .annotate(customers=Count("id"), spend=Sum("monetary"), clv=Avg("clv")))
        return {row["rfm_segment"]: row for row in rows}

    # a GROUP BY over every row of the snapshot (1 s at a million): once per snapshot
    return cached("rfm-segments", compute, stamp(snapshot))


def rfm_distribution(*, snapshot) -> list[dict]:
    """Customers per named RFM segment, in the rules' order (best to worst) then "No
    purchases": the overview's bar chart. The feature job stores these counts on the
    snapshot, so this is free; a snapshot without them falls back to one GROUP BY."""
    from customers.services.features import rfm_segment_rules

    counts = (snapshot.summary or {}).get("rfm_segments")
    if counts is None:
        counts = {name: row["customers"] for name, row in rfm_segment_counts(snapshot=snapshot).items()}
    total = sum(counts.values()) or 1
    names = [rule.name for rule in rfm_segment_rules()] + ["No purchases"]
    return [{"name": name, "customers": counts.get(name, 0), "share": counts.get(name, 0) / total} for name in names]


def rfm_grid(*, snapshot) -> list[dict]:
    """Customers per (R score, F score) cell, with their mean net spend: the RFM heatmap."""
    from django.db.models import Avg

    from customers.models import CustomerFeatures

    return cached("rfm-grid", lambda: list(
        CustomerFeatures.objects.filter(snapshot=snapshot, r_score__isnull=False)
        .values("r_score", "f_score").annotate(customers=Count("id"), spend=Avg("monetary"))
        .order_by("r_score", "f_score")), stamp(snapshot))


def feature_snapshot_list():
    from customers.models import FeatureSnapshot

    return FeatureSnapshot.objects.select_related("created_by").order_by("-created_at", "-id")


def feature_snapshot_active():
    from customers.models import FeatureSnapshot

    return FeatureSnapshot.objects.filter(status__in=FeatureSnapshot.ACTIVE_STATUSES).order_by("-id").first()


# Customers drawn for the exploration page's charts: enough for smooth histograms and a
# stable correlation, small enough to send to a browser.
EXPLORE_SAMPLE = 5_000
# The snapshot's columns the exploration page summarises exactly in SQL.
EXPLORE_COLUMNS = [
    "recency", "frequency", "monetary", "avg_order_value", "tenure", "mean_days_between", "return_rate",
    "distinct_products", "distinct_categories", "top_category_share", "p_alive", "expected_purchases", "clv",
]


def feature_sample(*, snapshot, size: int = EXPLORE_SAMPLE, seed: int = 0) -> pd.DataFrame:
    """A uniform random sample of the snapshot's customers with every feature a run can
    use (customers.selectors.feature_catalogue: the snapshot's, the customer record's,
    imported attributes), as customer_feature_frame gives them: float columns, and
    "category" columns for categorical ones. The sample is drawn by the snapshot rows'
    primary key: they are written in one COPY, so their ids are (nearly) contiguous and
    the cost is the sample's, not the snapshot's."""
    from customers.models import CustomerFeatures
    from customers.selectors.frames import customer_feature_frame, feature_catalogue

    catalogue = feature_catalogue()
    rows = CustomerFeatures.objects.filter(snapshot=snapshot)
    # PostgreSQL finds these by walking the primary key past every other snapshot's rows
    # (0.5 s with five 1M-row snapshots kept): once per snapshot
    bounds = cached("feature-id-bounds", lambda: rows.aggregate(low=Min("id"), high=Max("id")), stamp(snapshot))
    if bounds["low"] is None:
        return pd.DataFrame(columns=list(catalogue))
    span = bounds["high"] - bounds["low"] + 1
    if span <= size:
        picked = rows
    else:
        ids = np.random.default_rng(seed).choice(span, size=size, replace=False) + bounds["low"]
        picked = rows.filter(id__in=ids.tolist())
    customer_ids = list(picked.values_list("customer_id", flat=True))
    return customer_feature_frame(features=list(catalogue), customer_ids=customer_ids).reset_index(drop=True)


def feature_aggregates(*, snapshot) -> dict[str, dict]:
    """Exact count, mean, smallest and largest of each number feature a run can use, over
    all customers (SQL): the snapshot's columns from the snapshot, the customer record's
    and number attributes from the customers."""
    from django.db.models import Avg, F, FloatField
    from django.db.models.fields.json import KeyTransform
    from django.db.models.functions import Cast

    from customers.models import Customer, CustomerFeatures
    from customers.selectors.frames import RECORD_FEATURES, feature_catalogue

    stats = ("count", "mean", "min", "max")

    def summaries(expressions: dict):
        return {f"{name}__{stat}": function(expression) for name, expression in expressions.items()
                for stat, function in zip(stats, (Count, Avg, Min, Max))}

    catalogue = feature_catalogue()
    others = [f for name, f in catalogue.items()
              if not f.categorical and name not in EXPLORE_COLUMNS and (f.attribute_key or name in RECORD_FEATURES)]
    # imports store number attributes as JSON numbers, so the cast is exact (as customer_feature_frame's)
    record = {f.name: Cast(KeyTransform(f.attribute_key, "attributes"), FloatField()) if f.attribute_key else F(f.name)
              for f in others}

    def compute():
        values = CustomerFeatures.objects.filter(snapshot=snapshot).aggregate(
            **summaries({name: F(name) for name in EXPLORE_COLUMNS}))
        if record:
            values.update(Customer.objects.aggregate(**summaries(record)))
        return values

    # the key names the catalogue: an imported attribute adds a feature (and a new snapshot follows)
    values = cached(f"feature-aggregates:{','.join(sorted(f.name for f in others))}", compute, stamp(snapshot))
    return {name: {stat: values[f"{name}__{stat}"] for stat in stats} for name in [*EXPLORE_COLUMNS, *(f.name for f in others)]}


def features_summary_of(*, snapshot, customer_ids) -> dict:
    """For a group of customers (a values("customer_id") queryset, kept as a subquery so
    the database does the join): how many have a row in the snapshot, their mean lifetime
    value, and how many fall in each named RFM segment. Two aggregate queries."""
    from django.db.models import Avg

    from customers.models import CustomerFeatures

    rows = CustomerFeatures.objects.filter(snapshot=snapshot, customer_id__in=customer_ids)
    totals = rows.aggregate(customers=Count("id"), with_clv=Count("clv"), avg_clv=Avg("clv"),
                            avg_monetary=Avg("monetary"))
    rfm = {row["rfm_segment"] or "Not scored": row["customers"]
           for row in rows.values("rfm_segment").annotate(customers=Count("id")).order_by("-customers", "rfm_segment")}
    return {**totals, "rfm": rfm}
