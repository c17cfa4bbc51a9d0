"""Reads of customers and their transactions: counts and estimates, ids, search."""

from __future__ import annotations

import numpy as np
from django.db import connection
from django.db.models import Max, Min

from customers.models import Customer, Transaction

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


def customer_id_bounds() -> tuple[int, int] | None:
    bounds = Customer.objects.aggregate(low=Min("id"), high=Max("id"))
    return None if bounds["low"] is None else (bounds["low"], bounds["high"])


def all_customer_ids() -> np.ndarray:
    """Every customer id, ordered: 8 bytes a customer (1M customers: 8 MB)."""
    ids = Customer.objects.order_by("id").values_list("id", flat=True).iterator(chunk_size=FEATURE_FETCH_CHUNK)
    return np.fromiter(ids, dtype="int64")


def customer_by_external_id(*, external_id: str):
    return Customer.objects.filter(external_id=external_id).first()


def customer_search(*, query: str, limit: int = 20):
    """Customers whose external id starts with the query, upper and lower case alike: ids are
    typed from a CRM screen or an e-mail, and "c-1" finding "C-1" is what people expect (SQLite's
    LIKE already matched so, PostgreSQL's did not: one behaviour on both now)."""
    query = query.strip()
    if not query:
        return Customer.objects.none()
    return Customer.objects.filter(external_id__istartswith=query).order_by("external_id")[:limit]


def customer_transactions(*, customer_id: int):
    return Transaction.objects.filter(customer_id=customer_id).order_by("-timestamp", "-id")
