"""Frames for the jobs: the feature frame segmentation reads, transactions in COPY chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, FloatField, Max, Min, Q, Sum
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast

from customers.features import CATEGORICAL, FEATURES, NUMERIC, FeatureDefinition, attribute_feature, attribute_label
from customers.models import CustomAttribute, Customer, Transaction
from customers.selectors.categories import GENDER_LABELS, CategoryCodes
from customers.selectors.customers import FEATURE_FETCH_CHUNK, customer_id_bounds
from customers.selectors.snapshots import feature_as_of, feature_snapshot_current


def feature_catalogue() -> dict[str, FeatureDefinition]:
    """Every feature a run can use: the computed ones (those only a snapshot has, once one
    exists), the customer record's (numeric, then gender and country), then each custom
    attribute by key: number attributes numeric, category attributes categorical."""
    has_snapshot = feature_snapshot_current() is not None
    catalogue = {name: f for name, f in FEATURES.items() if has_snapshot or not f.snapshot_only}
    kinds = {CustomAttribute.Type.NUMBER: NUMERIC, CustomAttribute.Type.CATEGORY: CATEGORICAL}
    attributes = CustomAttribute.objects.filter(type__in=list(kinds)).order_by("key")
    for name, key, type_ in attributes.values_list("feature_name", "key", "type"):
        catalogue[name] = attribute_feature(name=name, key=key, kind=kinds[type_])
    return catalogue


def feature_labels(catalogue: dict[str, FeatureDefinition] | None = None) -> dict[str, str]:
    """Every feature's display name by feature name, including features no run can use right
    now (those only a snapshot has, before one exists), so an older run's names still read.
    One query (the custom attributes), none when given the `catalogue` already read."""
    labels = {name: f.label for name, f in FEATURES.items()}
    if catalogue is None:
        attributes = CustomAttribute.objects.values_list("feature_name", "key")
        labels.update({name: attribute_label(key) for name, key in attributes})
    else:
        labels.update({name: f.label for name, f in catalogue.items()})
    return labels


# Fields of the customer record that are features under their own name.
RECORD_FEATURES = ("age", "annual_income", "gender", "country")


def customer_feature_frame(
    *, features: Iterable[str], progress: Callable[[int], None] | None = None,
    customer_ids: list[int] | None = None,
) -> pd.DataFrame:
    """One row per customer (index: customer id, ordered), one column per feature.

    Numeric features are float64 columns. Categorical ones (gender, country, category
    attributes; see customers.features) are pandas "category" columns whose categories are
    the values present, sorted; a missing or empty value is NaN, and gender reads Female,
    Male or Other. Transaction features come from the current feature snapshot when there
    is one, else they are aggregated in the database (see customers.features). Rows stream
    in chunks into typed numpy arrays (a categorical as integer codes), so memory stays at
    a few dozen bytes per customer and feature. `progress(rows)` is called after each
    chunk (and may raise to stop the load). `customer_ids` limits the frame to a few
    thousand customers (an IN list), e.g. to assign them to a run's segments.
    """
    requested = list(features)
    catalogue = feature_catalogue()
    snapshot = feature_snapshot_current()
    from_snapshot = [name for name in requested if snapshot is not None and catalogue[name].in_snapshot]
    features = [name for name in requested if name not in from_snapshot]
    columns: dict[str, str] = {}
    queryset = Customer.objects.order_by("id")
    if customer_ids is not None:
        queryset = queryset.filter(pk__in=customer_ids)
    needs_transactions = any(catalogue[name].needs_transactions for name in features)
    if needs_transactions:
        # the nearest SQL equivalent of customers.analytics: dated by purchase lines only
        purchase = Q(transactions__amount__gt=0, transactions__is_cancellation=False)
        queryset = queryset.annotate(
            first_purchase=Min("transactions__timestamp", filter=purchase),
            last_purchase=Max("transactions__timestamp", filter=purchase),
            purchases=Count("transactions__invoice_id", distinct=True, filter=purchase),
            net_spend=Sum("transactions__amount"),
        )
        columns.update(
            first_purchase="first_purchase",
            last_purchase="last_purchase",
            purchases="purchases",
            net_spend="net_spend",
        )
    for name in RECORD_FEATURES:
        if name in features:
            columns[name] = name
    source = {name: name for name in features}  # feature -> its column in the fetched rows
    for position, name in enumerate(features):
        definition = catalogue[name]
        if definition.attribute_key:
            alias = f"attribute_{position}"
            if definition.categorical:
                # the text of a JSON string (not its quoted JSON); a missing key is NULL
                expression = KeyTextTransform(definition.attribute_key, "attributes")
            else:
                # imports store number attributes as JSON numbers, so the cast is exact
                expression = Cast(KeyTransform(definition.attribute_key, "attributes"), FloatField())
            queryset = queryset.annotate(**{alias: expression})
            columns[alias] = alias
            source[name] = alias
    fields = ["id", *columns.values()]
    encoders = {
        source[name]: CategoryCodes(labels=GENDER_LABELS if name == "gender" else None)
        for name in features if catalogue[name].categorical
    }

    chunks = []
    batch: list[tuple] = []
    for row in queryset.values_list(*fields).iterator(chunk_size=FEATURE_FETCH_CHUNK):
        batch.append(row)
        if len(batch) >= FEATURE_FETCH_CHUNK:
            chunks.append(_typed_chunk(batch, fields, encoders))
            batch = []
            if progress is not None:
                progress(len(chunks) * FEATURE_FETCH_CHUNK)
    if batch:
        chunks.append(_typed_chunk(batch, fields, encoders))
    if not chunks:
        return pd.DataFrame({
            name: pd.Series(dtype="category" if catalogue[name].categorical else "float64") for name in requested
        })
    raw = pd.concat(chunks)

    frame = pd.DataFrame(index=raw.index)
    if needs_transactions:
        as_of = feature_as_of()
        as_of_value = pd.Timestamp(as_of) if as_of is not None else pd.NaT
        last = pd.to_datetime(raw["last_purchase"], utc=True)
        first = pd.to_datetime(raw["first_purchase"], utc=True)
        purchases = raw["purchases"].astype("float64")
        spend = raw["net_spend"].astype("float64").fillna(0.0)
        derived = {
            "recency": (as_of_value - last).dt.total_seconds() / 86400,
            "tenure": (as_of_value - first).dt.total_seconds() / 86400,
            "frequency": purchases,
            "monetary": spend,
            "avg_order_value": (spend / purchases.replace(0, np.nan)),
        }
    else:
        derived = {}
    for name in features:
        if catalogue[name].categorical:
            frame[name] = encoders[source[name]].categorical(raw[source[name]].to_numpy())
            continue
        values = derived[name] if name in derived else raw[source[name]]
        frame[name] = pd.to_numeric(values, errors="coerce").astype("float64")
    if from_snapshot:
        # customers who arrived after the snapshot have no row there: missing, like any gap
        frame = frame.join(_snapshot_columns(snapshot=snapshot, names=from_snapshot, customer_ids=customer_ids))
    return frame[requested]


def _snapshot_columns(*, snapshot, names: list[str], customer_ids: list[int] | None = None) -> pd.DataFrame:
    """Feature columns of a snapshot, streamed in chunks into float arrays (index: customer id)."""
    from customers.models import CustomerFeatures

    rows = CustomerFeatures.objects.filter(snapshot=snapshot)
    if customer_ids is not None:
        rows = rows.filter(customer_id__in=customer_ids)
    rows = (rows.order_by("customer_id")
            .values_list("customer_id", *names).iterator(chunk_size=FEATURE_FETCH_CHUNK))
    parts, batch = [], []
    for row in rows:
        batch.append(row)
        if len(batch) >= FEATURE_FETCH_CHUNK:
            parts.append(pd.DataFrame.from_records(batch, columns=["id", *names]))
            batch = []
    if batch or not parts:
        parts.append(pd.DataFrame.from_records(batch, columns=["id", *names]))
    return pd.concat(parts).set_index("id").astype("float64")


def _typed_chunk(batch: list[tuple], fields: list[str], encoders: dict[str, CategoryCodes]) -> pd.DataFrame:
    chunk = pd.DataFrame.from_records(batch, columns=fields).set_index("id")
    for name in ("net_spend", "annual_income", "age"):
        if name in chunk:
            chunk[name] = pd.to_numeric(chunk[name], errors="coerce")
    for name, encoder in encoders.items():
        chunk[name] = encoder.encode(chunk[name])
    return chunk


# Customers whose transactions are read and turned into features at a time (by id range):
# ~500,000 transaction rows, some tens of MB of frame, whatever the database's size.
FEATURE_CHUNK_CUSTOMERS = 50_000
TRANSACTION_FRAME_COLUMNS = [
    "customer_id", "invoice_id", "timestamp", "quantity", "amount", "product", "category", "channel",
    "is_cancellation",
]


def transaction_frames(*, chunk_customers: int = FEATURE_CHUNK_CUSTOMERS):
    """The transactions of identified customers as DataFrames, one per range of customer ids
    (so each customer's rows are all in one frame), with the share of ids covered so far.

    PostgreSQL streams each range with COPY ... TO STDOUT into pandas' C CSV parser; other
    databases go through the cursor. Anonymous transactions are not read.
    """
    bounds = customer_id_bounds()
    if bounds is None:
        return
    low, high = bounds
    table = Transaction._meta.db_table
    columns = ", ".join(connection.ops.quote_name(c) for c in TRANSACTION_FRAME_COLUMNS)
    for start in range(low, high + 1, chunk_customers):
        end = start + chunk_customers
        where = f"customer_id >= {int(start)} AND customer_id < {int(end)}"
        if connection.vendor == "postgresql":
            frame = _copy_frame(f"SELECT {columns} FROM {table} WHERE {where}")
        else:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {columns} FROM {table} WHERE {where}")
                frame = pd.DataFrame.from_records(cursor.fetchall(), columns=TRANSACTION_FRAME_COLUMNS)
        yield _typed_transactions(frame), min(1.0, (end - low) / (high - low + 1))


def _copy_frame(select_sql: str) -> pd.DataFrame:
    import io

    buffer = io.BytesIO()
    connection.ensure_connection()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(
        buffer, names=TRANSACTION_FRAME_COLUMNS, header=None, keep_default_na=False, na_values={"customer_id": [""]},
        dtype={"customer_id": "int64", "invoice_id": str, "quantity": "int64", "amount": "float64",
               "product": str, "category": str, "channel": str, "is_cancellation": str, "timestamp": str},
    )


def _typed_transactions(frame: pd.DataFrame) -> pd.DataFrame:
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    frame["amount"] = pd.to_numeric(frame["amount"]).astype("float64")
    frame["quantity"] = pd.to_numeric(frame["quantity"]).astype("int64")
    cancelled = frame["is_cancellation"]
    frame["is_cancellation"] = cancelled.isin([True, 1, "t", "true", "True"]) if len(frame) else cancelled.astype(bool)
    for name in ("invoice_id", "product", "category", "channel"):
        frame[name] = frame[name].fillna("").astype(str)
    return frame


# Channels given a share column of their own: shops use a handful; a free-text column
# imported as the channel should not make hundreds of feature columns.
MAX_CHANNELS = 20


def transaction_channels() -> list[str]:
    """The channel values in use (most purchase lines first), at most MAX_CHANNELS."""
    rows = (Transaction.objects.exclude(channel="").values("channel").annotate(lines=Count("id"))
            .order_by("-lines", "channel")[:MAX_CHANNELS])
    return [row["channel"] for row in rows]
