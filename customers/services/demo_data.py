"""Writes to customers and their transactions."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer, CustomerFeatures, Transaction
from customers.synthetic import generate_demo_chunks
from custseg_site.bulk import insert_frame, refresh_statistics

logger = logging.getLogger(__name__)

# The most demo customers one command writes: ~100 million transaction rows, far beyond
# what a demo needs, and still within the generator's 8-digit external ids.
DEMO_MAX_CUSTOMERS = 10_000_000
# Customers generated and inserted per transaction: ~200,000 transaction rows, a few
# tens of MB of frames, so memory stays flat and each commit is short.
DEMO_CHUNK_CUSTOMERS = 20_000

# Customers deleted per query when flushing without TRUNCATE: bounds the memory the
# ORM's cascading delete uses.
DEMO_FLUSH_BATCH = 20_000


class DemoDataError(Exception):
    """The demo data cannot be written as asked; the message says why."""


@dataclass(frozen=True)
class DemoDataSummary:
    customers: int
    transactions: int
    seconds: float


def demo_data_load(
    *,
    customers: int,
    seed: int,
    flush: bool = False,
    end_date: datetime.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int = DEMO_CHUNK_CUSTOMERS,
) -> DemoDataSummary:
    """Fill an empty database (or, with flush, replace its customers) with demo data.

    Customers and about a year of transactions ending with end_date (default: today,
    UTC) come from customers.synthetic, deterministic for the same arguments. Each chunk
    of customers is written in its own transaction; progress(done, total) is called
    after each one.
    """
    if not 1 <= customers <= DEMO_MAX_CUSTOMERS:
        raise DemoDataError(
            f"The number of customers must be between 1 and {DEMO_MAX_CUSTOMERS:,}, "
            f"not {customers:,}."
        )
    if seed < 0:
        raise DemoDataError(f"The seed must not be negative, not {seed}.")
    if end_date is None:
        end_date = timezone.now().date()  # USE_TZ: now() is UTC

    started = time.perf_counter()
    existing = Customer.objects.count()
    if existing and not flush:
        raise DemoDataError(
            f"The database already holds {existing:,} "
            f"customer{'' if existing == 1 else 's'}. "
            "Pass --flush to replace them."
        )
    if existing:
        _demo_data_flush()
        logger.info("customers.demo_data_flushed", extra={"customers": existing})

    written_customers = written_transactions = 0
    for chunk in generate_demo_chunks(
        n_customers=customers, seed=seed, end_date=end_date, chunk_size=chunk_size
    ):
        written_transactions += _demo_data_insert_chunk(chunk.customers, chunk.transactions)
        written_customers += len(chunk.customers)
        if progress is not None:
            progress(written_customers, customers)

    # Fresh statistics for the planner (and for the overview's row estimates) now, rather
    # than whenever autovacuum gets to a table that just grew by millions.
    refresh_statistics(Customer, vacuum=True)
    refresh_statistics(Transaction)

    summary = DemoDataSummary(
        customers=written_customers,
        transactions=written_transactions,
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "customers.demo_data_loaded",
        extra={
            "customers": summary.customers,
            "transactions": summary.transactions,
            "seconds": round(summary.seconds, 1),
            "seed": seed,
        },
    )
    return summary


def _demo_data_flush() -> None:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # TRUNCATE skips the row-by-row delete and its FK checks: seconds instead of
            # minutes for millions of rows. CASCADE also empties the tables that point at
            # customers (segment memberships), as the ORM's cascading delete would;
            # feature rows have no database foreign key, so they are named.
            # It refuses to run while deferred FK checks of rows written earlier in the
            # same transaction are pending (inside an outer atomic, as in tests), so
            # those checks run first.
            connection.check_constraints()
            quote = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.execute(
                    f"TRUNCATE {quote(Transaction._meta.db_table)}, {quote(CustomerFeatures._meta.db_table)}, "
                    f"{quote(Customer._meta.db_table)} CASCADE"
                )
        else:
            # One DELETE for transactions; customers in batches, because the ORM's
            # cascade (to segment memberships) loads every customer it deletes.
            Transaction.objects.all().delete()
            while batch := list(
                Customer.objects.order_by("id").values_list("id", flat=True)[:DEMO_FLUSH_BATCH]
            ):
                Customer.objects.filter(id__lte=batch[-1]).delete()


@transaction.atomic
def _demo_data_insert_chunk(customers: pd.DataFrame, transactions: pd.DataFrame) -> int:
    now = timezone.now()
    insert_frame(Customer, customers.assign(created_at=now, updated_at=now))

    # Bulk inserts return no ids; the chunk's external ids are one contiguous range.
    first, last = customers["external_id"].iloc[0], customers["external_id"].iloc[-1]
    ids = dict(
        Customer.objects.filter(external_id__gte=first, external_id__lte=last)
        .order_by()
        .values_list("external_id", "id")
    )
    if len(ids) != len(customers):
        raise DemoDataError(
            f"Expected {len(customers):,} customers between {first} and {last}, "
            f"found {len(ids):,}."
        )
    customer_ids = transactions["customer_external_id"].map(ids)
    return insert_frame(
        Transaction,
        transactions.drop(columns="customer_external_id").assign(customer_id=customer_ids),
    )
