"""Transactions imports on PostgreSQL: every chunk is written as it is read.

The chunks go straight into customers_transaction, inside the transaction that marks the
job succeeded (customers.services.imports opens it around its chunk loop), instead of
into a staging table merged at the end: no line is written twice, and PostgreSQL inserts
one chunk while Python reads and validates the next (a writer thread sends the chunks on
the job's connection).

A chunk's lines, in order:
1. a line whose row_hash came earlier in the chunk repeats it;
2. the chunk's other lines are looked up in customers_transaction by row_hash (on a table
   other imports wrote to; else only those whose hash a Bloom filter of the file's hashes
   says may have come before): a line found there was imported before, or repeats a line
   of an earlier chunk (surely the former when the filter says its hash is new);
3. the customers the rest introduce are created, each with the largest country of its
   lines in the file (what the staged merge gave them);
4. the rest are COPYed into customers_transaction (binary COPY, encoded by the job's thread).
Repeats, and lines found that may repeat, wait in a temporary table; at the end the first
line of each hash in the file (kept in another) says which repeat which line and which were
imported before.

Progress reports and the cancel check go through a connection of their own (a thread's),
so the web sees them while the job's transaction is open. Inside a caller's transaction
(tests) they stay on the job's connection: that transaction is all they could see.

One transactions import writes at a time: an advisory lock held to the commit makes a
second import of the same file wait, then find the first one's lines; two imports of
overlapping files never wait on each other's row_hash entries (a deadlock).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection, connections, transaction
from django.utils import timezone

from customers.importing.seen_hashes import SeenHashes
from customers.importing.value_ranges import RANGE_FIELDS, ValueRanges
from customers.models import Customer, ImportRejectedRow, Transaction
from custseg_site import copy_binary
from custseg_site.bulk import copy_frame
from custseg_site.staged_import import MERGE_WORK_MEM  # the hashes of the end's join stay in memory

# Key of the advisory lock held by the transactions import that writes ("custseg" in ASCII
# followed by 1: a number nothing else in the database would pick).
WRITE_LOCK = 0x63757374736567_01
# Seconds between two tries of that lock (each try reports progress, and so hears a cancel),
# and between two looks at the writer thread while it is busy (it may have failed).
POLL_SECONDS = 1.0
# Customers of the file's lines whose ids the writer keeps (about 100 bytes each): their
# later lines need no round trip. Past this many the writer forgets them and asks again.
KNOWN_CUSTOMERS = 200_000

TRANSACTIONS = Transaction._meta.db_table
CUSTOMERS = Customer._meta.db_table
REJECTED = ImportRejectedRow._meta.db_table
# The file's first line of each hash, chunk by chunk (a chunk's first line of the hash).
LINES = "custseg_import_lines"
# Repeats and lines found in customers_transaction, until the end tells them apart.
WAITING = "custseg_import_waiting"
# Customers this import created, with the largest country of their lines so far.
CREATED = "custseg_import_customers"
TEMPORARY_TABLES = {
    LINES: "row_hash varchar(32) NOT NULL, line bigint NOT NULL",  # no index: joined once, at the end
    WAITING: "line bigint NOT NULL, row_hash varchar(32) NOT NULL, customer_external_id varchar(64) NOT NULL, "
             "invoice_id varchar(64) NOT NULL, product varchar(200) NOT NULL, description varchar(300) NOT NULL, "
             "quantity integer NOT NULL, timestamp timestamptz NOT NULL, unit_price numeric(12, 2) NOT NULL, "
             "amount numeric(14, 2) NOT NULL, country varchar(64) NOT NULL, first_line bigint",
    CREATED: "id bigint PRIMARY KEY, external_id varchar(64) NOT NULL UNIQUE, country varchar(64) NOT NULL",
}
WAITING_COLUMNS = ["line", "row_hash", "customer_external_id", "invoice_id", "product", "description", "quantity",
                   "timestamp", "unit_price", "amount", "country"]
TRANSACTION_COLUMNS = ["customer_id", "invoice_id", "timestamp", "quantity", "unit_price", "amount", "product",
                       "description", "category", "channel", "is_cancellation", "row_hash"]

# Customers the chunk's new lines name: created when new (with the largest country of their
# lines in the chunk), raised to a larger country seen in a later chunk, and every id given
# back, with the country so far of those this import created (NULL for the others).
# NOT EXISTS spares the identity sequence a number per known customer; ON CONFLICT covers a
# customers import that adds the same id meanwhile.
CUSTOMERS_SQL = f"""
WITH chunk AS (SELECT * FROM unnest(%s::text[], %s::text[]) AS c(external_id, country)),
created AS (
    INSERT INTO {CUSTOMERS} (external_id, name, email, gender, country, city, attributes, created_at, updated_at)
    SELECT external_id, '', '', '', country, '', '{{}}', %s, %s FROM chunk
    WHERE NOT EXISTS (SELECT 1 FROM {CUSTOMERS} k WHERE k.external_id = chunk.external_id)
    ON CONFLICT (external_id) DO NOTHING
    RETURNING id, external_id, country),
recorded AS (INSERT INTO {CREATED} (id, external_id, country) SELECT id, external_id, country FROM created),
raised AS (UPDATE {CREATED} r SET country = chunk.country FROM chunk
           WHERE r.external_id = chunk.external_id AND chunk.country > r.country)
SELECT external_id, id, country FROM created
UNION ALL
SELECT k.external_id, k.id, r.country FROM {CUSTOMERS} k JOIN chunk ON chunk.external_id = k.external_id
LEFT JOIN {CREATED} r ON r.id = k.id
"""
# What a repeated line held, for the rejected-rows file (as the staged merge wrote it).
RAW_SQL = ("invoice_id || ',' || product || ',' || description || ',' || CAST(quantity AS VARCHAR(20)) || ',' "
           "|| CAST(timestamp AS VARCHAR(40)) || ',' || CAST(unit_price AS VARCHAR(20)) || ',' "
           "|| customer_external_id || ',' || country")


def _numbers(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The value-range fields of rows as numbers: microseconds, whole quantities, cents."""
    return {
        "timestamp": copy_binary.microseconds(rows["timestamp"]),
        "quantity": rows["quantity"].to_numpy(dtype=np.int64),
        "unit_price": np.rint(rows["unit_price"].to_numpy(dtype=np.float64) * 100).astype(np.int64),
        "amount": np.rint(rows["amount"].to_numpy(dtype=np.float64) * 100).astype(np.int64),
    }


@dataclass
class _Chunk:
    """A validated chunk, made ready for the writer thread on the job's thread."""

    firsts: pd.DataFrame  # the chunk's first line of each hash
    maybe_seen: np.ndarray  # among them, those whose hash the file may have shown before
    repeats: pd.DataFrame  # the chunk's other lines (WAITING_COLUMNS)
    numbers: dict[str, np.ndarray]  # the first lines' value-range fields (_numbers)
    countries: pd.Series  # the largest country of each customer of the first lines
    encoded: copy_binary.Rows  # the first lines in COPY BINARY, customer_id still 0 (NULL: anonymous)
    lines: pa.Array  # the first lines' (row_hash, line) rows in COPY BINARY


# Where a row's customer_id value starts: after the field count (2 bytes) and its length (4).
CUSTOMER_ID_AT = 6


def _encode(rows: pd.DataFrame, columns: int) -> copy_binary.Rows:
    """Rows for customers_transaction's TRANSACTION_COLUMNS (and attributes), in COPY BINARY;
    the writer fills in the customer ids (an anonymous line's is NULL already)."""
    fields = [
        copy_binary.integer_field(np.zeros(len(rows), dtype=np.int64), size=8,
                                  missing=(rows["customer_external_id"] == "").to_numpy()),
        copy_binary.text_field(rows["invoice_id"]),
        copy_binary.timestamp_field(rows["timestamp"]),
        copy_binary.integer_field(rows["quantity"].to_numpy(), size=4),
        copy_binary.numeric_field(rows["unit_price"].to_numpy()),
        copy_binary.numeric_field(rows["amount"].to_numpy()),
        *(copy_binary.text_field(rows[name]) for name in ("product", "description", "category", "channel")),
        copy_binary.boolean_field(rows["is_cancellation"].to_numpy()),
        copy_binary.text_field(rows["row_hash"]),
    ]
    if "attributes" in rows:
        fields.append(copy_binary.jsonb_field(rows["attributes"]))
    return copy_binary.Rows.of(copy_binary.rows(*fields, count=columns))


class TransactionsWrite:
    """One transactions import's writes into customers_transaction, inside its transaction."""

    def __init__(self, job_id: int, *, outside: Callable):
        self.job_id = job_id
        # outside(function, *args): run a progress write where the web sees it at once
        self.outside = outside
        connection.ensure_connection()
        self._raw = connection.connection  # psycopg's, shared with the writer thread
        self._now = timezone.now()
        # One chunk handed over at a time: the job's thread reads the next one only once the
        # writer has taken this one, so memory holds two chunks whatever the size of the file.
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._seen = SeenHashes()
        # external id -> (id, the largest country of its lines when this import created it, else None)
        self._known: dict[str, tuple[int, str | None]] = {}
        self._columns = [f'"{name}"' for name in TRANSACTION_COLUMNS]  # "attributes" too when the file has any
        self._table_had_lines = True
        self.created = 0
        self.unchanged = 0  # lines found in the database whose hash the file had not shown before
        self.ranges = ValueRanges()

    def _cursor(self) -> psycopg.Cursor:
        # Server-side parameters: the chunk's hashes travel as one text[] value.
        return psycopg.Cursor(self._raw)

    # the job's thread --------------------------------------------------------------------

    def start(self, waiting: Callable[[], None]) -> None:
        """Take the write lock (calling `waiting` through `outside` while another import holds
        it), create the temporary tables and start the writer thread."""
        with self._cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [WRITE_LOCK])
                if cursor.fetchone()[0]:
                    break
                self.outside(waiting)
                time.sleep(POLL_SECONDS)
            cursor.execute(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
            for name, columns in TEMPORARY_TABLES.items():
                cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
                cursor.execute(f"CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP")
            # Lines of other imports, or only those this one writes (which are in LINES too)?
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {TRANSACTIONS} WHERE row_hash IS NOT NULL)")
            self._table_had_lines = cursor.fetchone()[0]
        self._thread = threading.Thread(target=self._run, name=f"custseg-import-{self.job_id}", daemon=True)
        self._thread.start()

    def write(self, rows: pd.DataFrame) -> None:
        """Prepare a chunk of validated rows for the writer and hand it over; returns once the
        writer has taken it (that is, has written the chunk before)."""
        rows = rows.assign(quantity=rows["quantity"].astype("int64"))
        # a line is the chunk's first of its hash, or repeats it (its first line is settled at the end)
        first = (rows.groupby("row_hash", sort=False)["line"].transform("min") == rows["line"]).to_numpy()
        firsts = rows[first]
        if "attributes" in rows and len(self._columns) == len(TRANSACTION_COLUMNS):
            self._columns.append('"attributes"')
        lines = copy_binary.rows(copy_binary.text_field(firsts["row_hash"]),
                                 copy_binary.integer_field(firsts["line"].to_numpy(), size=8), count=2)
        self._queue_chunk(_Chunk(firsts, self._seen.check_and_add(firsts["row_hash"]),
                                 rows.loc[~first, WAITING_COLUMNS], _numbers(firsts), _countries(firsts),
                                 _encode(firsts, len(self._columns)), lines))

    def _queue_chunk(self, chunk: _Chunk | None) -> None:
        self._raise_failure()
        taken = threading.Event()
        self._queue.put((chunk, taken))
        while not taken.wait(POLL_SECONDS):
            self._raise_failure()

    def finish(self) -> dict:
        """Wait for the last chunk, then tell repeats from lines imported before, give the
        created customers their countries and return the merge's counts."""
        self._queue_chunk(None)
        self._thread.join()
        self._raise_failure()
        with self._cursor() as cursor:
            cursor.execute(
                f"UPDATE {WAITING} w SET first_line = f.first_line FROM "
                f"(SELECT row_hash, MIN(line) AS first_line FROM {LINES} "
                f"WHERE row_hash IN (SELECT row_hash FROM {WAITING}) GROUP BY row_hash) f "
                f"WHERE w.row_hash = f.row_hash AND f.first_line < w.line"
            )
            cursor.execute(
                f"INSERT INTO {REJECTED} (job_id, line, reason, raw) "
                f"SELECT %s, line, 'duplicate of line ' || CAST(first_line AS VARCHAR(20)), {RAW_SQL} "
                f"FROM {WAITING} WHERE first_line IS NOT NULL",
                [self.job_id],
            )
            duplicates = cursor.rowcount
            # a repeat of an anonymous line is anonymous too (the row hash holds the customer id)
            cursor.execute(f"SELECT COUNT(*) FROM {WAITING} WHERE first_line IS NOT NULL AND customer_external_id = ''")
            anonymous_duplicates = cursor.fetchone()[0]
            aggregates = ", ".join(f"MIN({name}), MAX({name}), {'NULL' if name == 'timestamp' else f'SUM({name})'}"
                                   for name in RANGE_FIELDS)
            cursor.execute(f"SELECT COUNT(*), {aggregates} FROM {WAITING} WHERE first_line IS NULL")
            unchanged, *values = cursor.fetchone()
            self.unchanged += unchanged
            for position, name in enumerate(RANGE_FIELDS):
                low, high, total = values[3 * position: 3 * position + 3]
                if name != "timestamp" and unchanged:
                    low, high = float(low), float(high)
                self.ranges.add(name, unchanged, low, high, total)
            cursor.execute(f"UPDATE {CUSTOMERS} k SET country = r.country FROM {CREATED} r "
                           f"WHERE k.id = r.id AND k.country <> r.country")
            cursor.execute(f"SELECT COUNT(*) FROM {CREATED}")
            customers_created = cursor.fetchone()[0]
            cursor.execute(f"DROP TABLE {', '.join(TEMPORARY_TABLES)}")
        return {"duplicates_in_file": duplicates, "anonymous_duplicates": anonymous_duplicates,
                "unchanged": self.unchanged, "customers_created": customers_created,
                "created": self.created, "ranges": self.ranges.report()}

    def stop(self) -> None:
        """The writer thread is done when this returns (a failed job: after its chunk)."""
        if self._thread is None or not self._thread.is_alive():
            return
        self._stopping = True
        self._queue.put((None, threading.Event()))
        self._thread.join()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    # the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            chunk, taken = self._queue.get()
            taken.set()
            if chunk is None:
                return
            if self._error is not None or self._stopping:
                continue
            try:
                self._write_chunk(chunk)
            except BaseException as error:  # raised again in the job's thread
                self._error = error

    def _write_chunk(self, chunk: _Chunk) -> None:
        """Lines new to the database go in; repeats within the chunk, and lines found in the
        database that may repeat an earlier chunk, wait for the end; lines found there whose
        hash the file had not shown before were imported before."""
        firsts, maybe_seen = chunk.firsts, chunk.maybe_seen
        with self._cursor() as cursor:
            # only a hash the file may have shown can be there, unless other imports wrote lines
            look_up = maybe_seen | self._table_had_lines
            found = np.zeros(len(firsts), dtype=bool)
            found[look_up] = self._lookup(cursor, firsts["row_hash"][look_up])
            new = ~found
            if found.any():  # else (a first import, mostly) all is as the job's thread prepared it
                chunk.encoded = chunk.encoded.keep(new)
                chunk.countries = _countries(firsts[new])
                firsts = firsts[new]
            if len(firsts):
                customer_ids = self._customer_ids(cursor, firsts["customer_external_id"], chunk.countries)
                named = np.flatnonzero(customer_ids >= 0)
                chunk.encoded.put_int8(named, CUSTOMER_ID_AT, customer_ids[named])
                copy_binary.copy_rows(cursor, TRANSACTIONS, self._columns, chunk.encoded)
            copy_binary.copy_rows(cursor, LINES, ["row_hash", "line"], chunk.lines)
            waiting = chunk.repeats
            if (found & maybe_seen).any():
                waiting = pd.concat([waiting, chunk.firsts.loc[found & maybe_seen, WAITING_COLUMNS]])
            if not waiting.empty:
                copy_frame(cursor, WAITING, waiting)
        self.created += len(firsts)
        self.unchanged += int((found & ~maybe_seen).sum())
        self.ranges.add_numbers(chunk.numbers, None if not (found & maybe_seen).any() else ~(found & maybe_seen))

    def _lookup(self, cursor, hashes: pd.Series) -> np.ndarray:
        """Which of the hashes are in customers_transaction (imported before, or by this import)."""
        if hashes.empty:
            return np.zeros(0, dtype=bool)
        # One index probe per hash (a LIMIT keeps the planner from hashing the whole table).
        # Hex digits need no quoting: the hashes travel as one comma-separated text, both ways.
        cursor.execute(
            f"SELECT string_agg(f.row_hash, ',') FROM unnest(string_to_array(%s, ',')) AS h(row_hash) "
            f"CROSS JOIN LATERAL (SELECT t.row_hash FROM {TRANSACTIONS} t WHERE t.row_hash = h.row_hash LIMIT 1) f",
            [",".join(hashes.tolist())],
        )
        found = cursor.fetchone()[0]
        if not found:
            return np.zeros(len(hashes), dtype=bool)
        return pc.is_in(pa.array(hashes.tolist(), type=pa.string()),
                        value_set=pa.array(found.split(","), type=pa.string())).to_numpy(zero_copy_only=False)

    def _customer_ids(self, cursor, external_ids: pd.Series, countries: pd.Series) -> np.ndarray:
        """The new lines' customer ids (-1: anonymous), creating the customers they introduce."""
        known = self._known
        ask = [external_id for external_id, country in countries.items()
               if (entry := known.get(external_id)) is None or (entry[1] is not None and country > entry[1])]
        if ask:
            if len(known) + len(ask) > KNOWN_CUSTOMERS:
                known.clear()
                ask = countries.index.tolist()
            asked = countries[ask]
            cursor.execute(CUSTOMERS_SQL, [ask, asked.tolist(), self._now, self._now])
            for external_id, customer_id, created_with in cursor.fetchall():
                known[external_id] = (customer_id, None if created_with is None
                                      else max(created_with, asked[external_id]))
            missing = [external_id for external_id in ask if external_id not in known]
            if missing:  # added by another transaction since this statement's snapshot
                cursor.execute(f"SELECT external_id, id FROM {CUSTOMERS} WHERE external_id = ANY(%s::text[])",
                               [missing])
                known.update((external_id, (customer_id, None)) for external_id, customer_id in cursor.fetchall())
        names = pa.array(external_ids, type=pa.string(), from_pandas=True)
        wanted = countries.index.tolist()
        positions = pc.index_in(names, value_set=pa.array(wanted, type=pa.string()))
        ids = pa.array([known[external_id][0] for external_id in wanted], type=pa.int64())
        return pc.take(ids, positions).fill_null(-1).to_numpy()


def _countries(firsts: pd.DataFrame) -> pd.Series:
    """The largest country of each customer the lines name (what a customer they create gets)."""
    named = firsts[firsts["customer_external_id"] != ""]
    return named.groupby("customer_external_id", sort=False)["country"].max()


@contextmanager
def transactions_write(job_id: int, *, waiting: Callable[[], None]):
    """The job's transaction, with its TransactionsWrite: rows written through it commit
    with whatever else the block does (the job marked succeeded), or not at all.

    `waiting()` reports that another import holds the write lock; it raises to give up.
    """
    side = None if connection.in_atomic_block else ThreadPoolExecutor(
        max_workers=1, thread_name_prefix=f"custseg-import-{job_id}-progress")

    def outside(function, *args, **kwargs):
        if side is None:
            return function(*args, **kwargs)
        return side.submit(function, *args, **kwargs).result()

    try:
        with transaction.atomic():
            write = TransactionsWrite(job_id, outside=outside)
            try:
                write.start(waiting)
                yield write
            finally:
                write.stop()
    finally:
        if side is not None:
            side.submit(connections.close_all).result()
            side.shutdown()
