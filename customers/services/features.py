"""Feature snapshots: every customer's features, RFM and lifetime value, as of a date.

The job streams transactions by ranges of customer ids (each customer's rows arrive
together), computes each range's features with customers.analytics (set-based pandas),
then scores RFM over everyone, fits the lifetime-value models, and writes one row per
customer. The snapshot turns "succeeded" in the same transaction that writes its rows, so
pages and the API go on reading the previous snapshot until the new one is complete.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from customers import selectors
from customers.analytics.clv import STATUS_NOT_ENOUGH_DATA, CLVConfig, CLVFitError, fit_clv
from customers.analytics.features import customer_features
from customers.analytics.rfm import RFM_SEGMENTS, rfm_scores
from customers.models import CustomerFeatures, FeatureSnapshot
from custseg_site.bulk import insert_frame
from custseg_site.jobs.lifecycle import job_boundary, job_claim, job_enqueue, job_progress, job_succeed
from custseg_site.json_safe import json_safe
from custseg_site.warm import page_caches_warm_enqueue

logger = logging.getLogger(__name__)

# Succeeded snapshots kept with their rows: the current one and the one before it (pages
# may still be reading it while a new one lands); older rows are deleted.
KEEP_SNAPSHOTS = 2

FLOAT_COLUMNS = [
    "recency", "frequency", "monetary", "avg_order_value", "tenure", "mean_days_between", "return_rate",
    "distinct_products", "distinct_categories", "top_category_share", "p_alive", "expected_purchases", "clv",
]


def features_compute_create(*, as_of: datetime | None = None, trigger: str = "", created_by=None,
                            enqueue: bool = True) -> FeatureSnapshot:
    """Store a pending snapshot and enqueue its job once committed (not with enqueue False:
    the caller runs features_execute itself, as the command line can).

    A snapshot already pending or running is returned instead of a second one.
    """
    if as_of is not None and timezone.is_naive(as_of):
        raise ValidationError({"as_of": ["Give the as-of date with a time zone (or a plain date)."]})
    with transaction.atomic():
        active = FeatureSnapshot.objects.select_for_update().filter(status__in=FeatureSnapshot.ACTIVE_STATUSES).first()
        if active is not None:
            return active
        snapshot = FeatureSnapshot.objects.create(
            requested_as_of=as_of, trigger=trigger[:100], stage="Waiting for a worker",
            created_by=created_by if created_by is not None and created_by.is_authenticated else None,
        )
        if enqueue:
            job_enqueue(snapshot)
    logger.info("customers.features_requested snapshot_id=%s trigger=%s", snapshot.pk, trigger)
    return snapshot


def features_execute(*, snapshot_id: int) -> None:
    """The job body. Safe to call twice: a finished snapshot is left alone."""
    snapshot = job_claim(FeatureSnapshot, snapshot_id)
    if snapshot is None:
        return
    with job_boundary(snapshot, on_stop=lambda: CustomerFeatures.objects.filter(snapshot_id=snapshot_id).delete()):
        _compute(snapshot)


def _compute(snapshot: FeatureSnapshot) -> None:
    snapshot_id = snapshot.pk
    started = time.monotonic()
    as_of = snapshot.requested_as_of or selectors.feature_as_of()
    if as_of is None:
        as_of = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    config = CLVConfig()
    # the lifetime-value fit is tested on the last quarter it did not see (clv_reliability)
    holdout_start = as_of_ts.floor("D") - pd.Timedelta(days=config.holdout_days)
    timings = {}

    job_progress(snapshot, 2, "Reading transactions")
    # one list for every chunk, so each chunk has the same channel columns
    channels = selectors.transaction_channels()
    parts = []
    for frame, fraction in selectors.transaction_frames():
        frame = frame[frame["timestamp"] < as_of_ts]  # as of that date: later rows are not known yet
        if not frame.empty:
            parts.append(customer_features(frame, as_of=as_of_ts, channels=channels, holdout_start=holdout_start))
        job_progress(snapshot, 2 + int(68 * fraction), f"Features of customers: {fraction:.0%}")
    timings["features_seconds"] = round(time.monotonic() - started, 2)

    ids = selectors.all_customer_ids()
    # no transactions yet (a customers file imported first): every customer gets the
    # empty features, "No purchases", rather than the job failing on missing columns
    features = pd.concat(parts) if parts else customer_features(pd.DataFrame(), as_of=as_of_ts, channels=channels,
                                                                holdout_start=holdout_start)
    features = features.reindex(pd.Index(ids, name="customer_id"))

    job_progress(snapshot, 72, "Scoring RFM")
    scores = rfm_scores(features)
    job_progress(snapshot, 76, "Fitting lifetime-value models")
    clv_started = time.monotonic()
    clv_report = {"horizon_days": config.horizon_days, "discount_rate_annual": config.discount_rate_annual}
    try:
        clv = fit_clv(features, config)
    except CLVFitError as error:
        # too little history for the models: every customer says so, the rest stands
        clv_report.update(bgnbd={}, gamma_gamma={}, diagnostics={"message": str(error)})
        per_customer = pd.DataFrame({"clv_status": STATUS_NOT_ENOUGH_DATA}, index=features.index)
    else:
        clv_report.update(bgnbd=clv.bgnbd_params, gamma_gamma=clv.gg_params, diagnostics=clv.diagnostics)
        per_customer = clv.per_customer
    timings["clv_seconds"] = round(time.monotonic() - clv_started, 2)

    rows = _rows(snapshot_id, features, scores, per_customer)
    summary = {
        "rfm_segments": {k: int(v) for k, v in rows["rfm_segment"].value_counts().items()},
        "customers_with_purchases": int(features["frequency"].fillna(0).gt(0).sum()) if "frequency" in features else 0,
        **timings,
    }
    job_progress(snapshot, 85, f"Writing {len(rows):,} customers")
    with transaction.atomic():
        insert_frame(CustomerFeatures, rows, json_text=("channel_mix",))
        summary["seconds"] = round(time.monotonic() - started, 2)
        job_succeed(snapshot, as_of=as_of, customers=len(rows), summary=json_safe(summary),
                    clv=json_safe(clv_report))
    _prune()
    if connection.vendor == "postgresql":
        # the snapshot's rows just arrived in one COPY: fresh statistics for the joins
        # of pages (persona cards, segment profiles) that read them
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(CustomerFeatures._meta.db_table)}")
    # the features page's, explore's and persona cards' aggregates of the new snapshot,
    # computed before the first visitor (at once in a worker, where no transaction is open)
    transaction.on_commit(page_caches_warm_enqueue)
    logger.info("customers.features_succeeded snapshot_id=%s customers=%s seconds=%s",
                snapshot_id, len(rows), summary["seconds"])


def _rows(snapshot_id: int, features: pd.DataFrame, scores: pd.DataFrame, clv: pd.DataFrame) -> pd.DataFrame:
    table = features.join(scores, how="left").join(clv, how="left")
    rows = pd.DataFrame({"customer_id": table.index.to_numpy(dtype="int64"), "snapshot_id": snapshot_id})
    for name in FLOAT_COLUMNS:
        rows[name] = table[name].to_numpy(dtype="float64") if name in table else np.nan
    for name in ("first_purchase", "last_purchase"):
        # .array, not .to_numpy(): the latter makes a Timestamp object per customer (2.8 s at 1M)
        rows[name] = table[name].array if name in table else pd.NaT
    for name in ("r_score", "f_score", "m_score"):
        rows[name] = pd.array(table[name].to_numpy(), dtype="Int64") if name in table else pd.NA
    rows["rfm_code"] = table["rfm_code"].fillna("").to_numpy() if "rfm_code" in table else ""
    rows["rfm_segment"] = table["rfm_segment"].fillna("").to_numpy() if "rfm_segment" in table else ""
    rows["clv_status"] = table["clv_status"].fillna("").to_numpy() if "clv_status" in table else ""
    channels = [c for c in table.columns if c.startswith("channel_")]
    # JSON text in an Arrow-backed column: COPY takes it without a round trip through Python str
    rows["channel_mix"] = pd.arrays.ArrowExtensionArray(_channel_mix_json(table[channels])) if channels else "{}"
    for name in ("first_purchase", "last_purchase"):
        rows[name] = pd.to_datetime(rows[name], utc=True)
    return rows


def _channel_mix_json(shares: pd.DataFrame) -> pa.Array:
    """Each customer's channel mix as JSON text, {"online": 0.6667, "store": 0.3333}: the
    channels with a share above 0, rounded to 4 places. Built column-wise with Arrow
    string kernels; a Python dict per customer cost ~7 s of a 1M-customer job."""
    body = pa.array(np.full(len(shares), "{", dtype=object), type=pa.string())
    for column in shares.columns:
        values = shares[column].to_numpy(dtype="float64", na_value=np.nan)
        text = pc.cast(pa.array(np.round(values, 4)), pa.string())
        key = json.dumps(column.removeprefix("channel_")) + ": "
        piece = pc.if_else(pa.array(values > 0), pc.binary_join_element_wise(key, text, ", ", ""), "")
        body = pc.binary_join_element_wise(body, piece, "")
    # every piece ends in ", " and a number ends in a digit, so trimming takes just the last separator
    return pc.binary_join_element_wise(pc.utf8_rtrim(body, characters=", "), "}", "")


def _prune() -> None:
    keep = list(FeatureSnapshot.objects.filter(status=FeatureSnapshot.Status.SUCCEEDED)
                .order_by("-finished_at", "-id").values_list("pk", flat=True)[:KEEP_SNAPSHOTS])
    CustomerFeatures.objects.exclude(snapshot_id__in=keep).delete()


def rfm_segment_rules():
    """The named RFM segments with their rules, for the pages and the API."""
    return RFM_SEGMENTS
