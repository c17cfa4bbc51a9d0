"""Reads of customers and their features."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, FloatField, Max, Min, Q, Sum
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast

from customers.features import CATEGORICAL, FEATURES, NUMERIC, FeatureDefinition, attribute_feature
from customers.models import CustomAttribute, Customer, Transaction
from custseg_site.aggregate_cache import cached, stamp

# Rows fetched from the database per round trip when building the feature frame.
FEATURE_FETCH_CHUNK = 20_000
# Below this many rows an exact count is cheap; above it the planner's estimate is shown.
EXACT_COUNT_BELOW = 100_000


def customer_count() -> int:
    return Customer.objects.count()


def transaction_count() -> int:
    return Transaction.objects.count()


def customer_count_up_to(limit: int) -> int:
    """min(customers, limit + 1), without counting a million rows to learn that."""
    return Customer.objects.values("pk")[: limit + 1].count()


def has_transactions() -> bool:
    return Transaction.objects.exists()


def table_size_estimate(model) -> int:
    """Rows in a model's table: exact when small, the planner's estimate when large.

    An exact COUNT(*) over ten million transactions on every overview page load costs
    seconds; PostgreSQL's statistics know the size to within a few percent.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # reltuples is -1 until the table is first analysed (bulk loads analyse their
            # tables when they finish; autovacuum keeps it current after that).
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [model._meta.db_table],
            )
            row = cursor.fetchone()
        estimate = row[0] if row else -1
        if estimate >= EXACT_COUNT_BELOW:
            return int(estimate)
    return model.objects.count()


def customer_count_estimate() -> int:
    return table_size_estimate(Customer)


def transaction_count_estimate() -> int:
    return table_size_estimate(Transaction)


def customer_external_ids(*, ids: list[int]) -> dict[int, str]:
    """External ids for a few thousand customer ids (an IN list: keep it small)."""
    return dict(Customer.objects.filter(pk__in=ids).values_list("pk", "external_id"))


def customer_ids_by_external_id(*, external_ids: list[str]) -> dict[str, int]:
    """Customer ids for a few thousand external ids (an IN list: keep it small)."""
    return dict(Customer.objects.filter(external_id__in=external_ids).values_list("external_id", "pk"))


def feature_as_of():
    """The day after the last transaction: recency is measured from there."""
    last = Transaction.objects.aggregate(last=Max("timestamp"))["last"]
    if last is None:
        return None
    return (last + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


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


# Fields of the customer record that are features under their own name.
RECORD_FEATURES = ("age", "annual_income", "gender", "country")
# Gender as stored (F/M/O) shown as its label; "" (unknown) is missing.
GENDER_LABELS = {value: str(label) for value, label in Customer.Gender.choices if value}


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
        source[name]: _CategoryCodes(labels=GENDER_LABELS if name == "gender" else None)
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


class _CategoryCodes:
    """The labels of one categorical column as int32 codes shared by every chunk (-1:
    missing), so a million customers' countries cost 4 bytes each, not a string each."""

    def __init__(self, labels: dict[str, str] | None = None):
        self.labels = labels or {}  # stored value -> label shown
        self.codes: dict[str, int] = {}

    def encode(self, values: pd.Series) -> np.ndarray:
        chunk_codes, uniques = pd.factorize(values)  # None -> -1
        # one Python step per distinct value of the chunk, not per customer
        lookup = np.full(len(uniques) + 1, -1, dtype=np.int32)  # the last entry serves -1
        for position, value in enumerate(uniques):
            label = str(self.labels.get(value, value)).strip()
            if label:
                lookup[position] = self.codes.setdefault(label, len(self.codes))
        return lookup[chunk_codes]

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        categories = list(self.codes)
        values = pd.Categorical.from_codes(codes, categories=categories)
        return values.reorder_categories(sorted(categories))


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


def _typed_chunk(batch: list[tuple], fields: list[str], encoders: dict[str, _CategoryCodes]) -> pd.DataFrame:
    chunk = pd.DataFrame.from_records(batch, columns=fields).set_index("id")
    for name in ("net_spend", "annual_income", "age"):
        if name in chunk:
            chunk[name] = pd.to_numeric(chunk[name], errors="coerce")
    for name, encoder in encoders.items():
        chunk[name] = encoder.encode(chunk[name])
    return chunk


def import_list():
    from customers.models import ImportJob

    return ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")


# A column empty in more than this share of rows is called out as a top problem.
MOSTLY_EMPTY_SHARE = 0.2
RANGE_LABELS = {
    "age": "age", "birth_year": "birth year", "annual_income": "annual income", "signup_date": "signup date",
    "timestamp": "date", "quantity": "quantity", "unit_price": "unit price", "amount": "amount",
}


def import_quality(*, job) -> dict:
    """The data-quality report of an import, shaped for its page: rejection reasons, empty
    cells per column (with their share), value ranges, and the top problems in words."""
    report = job.report or {}
    rows = job.rows_read or 0

    def share(count):
        return count / rows if rows else 0.0

    reasons = [(reason, count, share(count)) for reason, count in report.get("rejected_by_reason", {}).items()]
    missing = sorted(((column, count, share(count)) for column, count in report.get("missing_by_column", {}).items()),
                     key=lambda item: -item[1])
    ranges = [
        {"name": RANGE_LABELS.get(name, name), **values} for name, values in report.get("ranges", {}).items()
    ]
    problems = []
    if job.rejected:
        ranked = sorted(reasons, key=lambda item: -item[1])
        text = f"{job.rejected:,} of {rows:,} rows ({share(job.rejected):.1%}) were rejected"
        if len(ranked) == 1:
            text += f": “{ranked[0][0]}”."
        elif ranked and ranked[0][1] > ranked[1][1]:
            text += f"; most often “{ranked[0][0]}” ({_rows(ranked[0][1])})."
        else:
            text += f", for {len(ranked)} different reasons (below)."
        problems.append(text)
    customer_column = next((c for c, f in (job.mapping or {}).get("fields", {}).items() if f == "customer_external_id"), None)
    for column, count, fraction in missing:
        if column == customer_column and job.anonymous:
            continue  # said below, with what happened to those rows
        if fraction > MOSTLY_EMPTY_SHARE:
            problems.append(f"“{column}” is empty in {fraction:.0%} of rows ({_rows(count)}).")
    if job.kind == "transactions" and job.anonymous:
        problems.append(f"{_rows(job.anonymous)} ({share(job.anonymous):.1%}) had no customer id and "
                        "were kept as anonymous transactions (they count in revenue, not in any customer's features).")
    attributes = sorted((job.mapping or {}).get("attributes", {}).items())
    return {"reasons": reasons, "missing": missing, "ranges": ranges, "problems": problems[:4],
            "attributes": attributes, "rejected_share": share(job.rejected)}


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def import_rejected_rows(*, job):
    """The rejected rows of an import, in file order, streamed (never all in memory)."""
    return job.rejected_rows.order_by("line").values_list("line", "reason", "raw").iterator(chunk_size=5000)


# Customers whose transactions are read and turned into features at a time (by id range):
# ~500,000 transaction rows, some tens of MB of frame, whatever the database's size.
FEATURE_CHUNK_CUSTOMERS = 50_000
TRANSACTION_FRAME_COLUMNS = [
    "customer_id", "invoice_id", "timestamp", "quantity", "amount", "product", "category", "channel",
    "is_cancellation",
]


def customer_id_bounds() -> tuple[int, int] | None:
    bounds = Customer.objects.aggregate(low=Min("id"), high=Max("id"))
    return None if bounds["low"] is None else (bounds["low"], bounds["high"])


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


def all_customer_ids() -> np.ndarray:
    """Every customer id, ordered: 8 bytes a customer (1M customers: 8 MB)."""
    ids = Customer.objects.order_by("id").values_list("id", flat=True).iterator(chunk_size=FEATURE_FETCH_CHUNK)
    return np.fromiter(ids, dtype="int64")


def feature_snapshot_current():
    """The newest succeeded feature snapshot, or None: what pages and the API read."""
    from customers.models import FeatureSnapshot

    return (FeatureSnapshot.objects.filter(status=FeatureSnapshot.Status.SUCCEEDED)
            .order_by("-finished_at", "-id").first())


def customer_by_external_id(*, external_id: str):
    return Customer.objects.filter(external_id=external_id).first()


def customer_search(*, query: str, limit: int = 20):
    """Customers whose external id starts with the query (the index serves a prefix match)."""
    query = query.strip()
    if not query:
        return Customer.objects.none()
    return Customer.objects.filter(external_id__startswith=query).order_by("external_id")[:limit]


def customer_features_current(*, customer_id: int):
    """The customer's row in the current feature snapshot, or None."""
    from customers.models import CustomerFeatures

    snapshot = feature_snapshot_current()
    if snapshot is None:
        return None
    return CustomerFeatures.objects.filter(snapshot=snapshot, customer_id=customer_id).select_related("snapshot").first()


def customer_transactions(*, customer_id: int):
    return Transaction.objects.filter(customer_id=customer_id).order_by("-timestamp", "-id")


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
        encoder = _CategoryCodes(labels=GENDER_LABELS if name == "gender" else None)
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
