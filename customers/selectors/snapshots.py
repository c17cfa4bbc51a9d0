"""Reads of feature snapshots: the current one, RFM counts and grid, samples and aggregates."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from django.db.models import Count, Max, Min, Sum

from customers.models import Transaction
from customers.selectors.categories import GENDER_LABELS, CategoryCodes
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
EXPLORE_COLUMNS = [
    "recency", "frequency", "monetary", "avg_order_value", "tenure", "mean_days_between", "return_rate",
    "distinct_products", "distinct_categories", "top_category_share", "p_alive", "expected_purchases", "clv",
]


# Categorical features of the customer record shown beside the snapshot's on that page (as
# counts per value): read through the sample's customers, so only the sample joins.
EXPLORE_CATEGORICAL = {"gender": "customer__gender", "country": "customer__country"}


def feature_sample(*, snapshot, size: int = EXPLORE_SAMPLE, seed: int = 0) -> pd.DataFrame:
    """A uniform random sample of the snapshot's rows, read by primary key: a snapshot's rows
    are written in one COPY, so their ids are (nearly) contiguous and the cost is the sample's,
    not the snapshot's. The EXPLORE_COLUMNS are float columns; gender and country follow as
    "category" columns (labels, NaN when unknown), like customer_feature_frame's."""
    from customers.models import CustomerFeatures

    rows = CustomerFeatures.objects.filter(snapshot=snapshot)
    # PostgreSQL finds these by walking the primary key past every other snapshot's rows
    # (0.5 s with five 1M-row snapshots kept): once per snapshot
    bounds = cached("feature-id-bounds", lambda: rows.aggregate(low=Min("id"), high=Max("id")), stamp(snapshot))
    columns = [*EXPLORE_COLUMNS, *EXPLORE_CATEGORICAL]
    if bounds["low"] is None:
        return pd.DataFrame(columns=columns)
    span = bounds["high"] - bounds["low"] + 1
    if span <= size:
        picked = rows
    else:
        ids = np.random.default_rng(seed).choice(span, size=size, replace=False) + bounds["low"]
        picked = rows.filter(id__in=ids.tolist())
    records = list(picked.values_list(*EXPLORE_COLUMNS, *EXPLORE_CATEGORICAL.values()))
    sample = pd.DataFrame.from_records(records, columns=columns)
    sample[EXPLORE_COLUMNS] = sample[EXPLORE_COLUMNS].astype("float64")
    for name in EXPLORE_CATEGORICAL:
        encoder = CategoryCodes(labels=GENDER_LABELS if name == "gender" else None)
        sample[name] = encoder.categorical(encoder.encode(sample[name]))
    return sample


def feature_aggregates(*, snapshot) -> dict[str, dict]:
    """Exact count, mean, smallest and largest of each feature over the whole snapshot (SQL)."""
    from django.db.models import Avg

    from customers.models import CustomerFeatures

    aggregates = {}
    for name in EXPLORE_COLUMNS:
        aggregates.update({f"{name}__count": Count(name), f"{name}__mean": Avg(name),
                           f"{name}__min": Min(name), f"{name}__max": Max(name)})
    values = cached("feature-aggregates",
                    lambda: CustomerFeatures.objects.filter(snapshot=snapshot).aggregate(**aggregates), stamp(snapshot))
    return {name: {stat: values[f"{name}__{stat}"] for stat in ("count", "mean", "min", "max")} for name in EXPLORE_COLUMNS}


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
