"""Member sets as SQL: one page after a customer id, a delta (who joined, who left)
between two sets, and every row for an export (COPY on PostgreSQL).

A member set is pinned by a small JSON-able dict (a *pin*: {"kind": "segment", "id": 12}),
turned into SQL by the builder registered for its kind. Pins go into API cursors, so a
pull that started on one run's segment continues on it, whatever is published meanwhile.
Other apps register their own kinds (campaign audiences: see segments/api/membership.py).

Nothing here loads a set into Python: pages are keyset reads of the (segment, customer)
index, deltas are anti-joins (set difference) in the database, exports stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection

from customers.models import Customer
from custseg_site.csv_export import csv_lines, neutralise_sql
from segments.models import Membership

DEFAULT_FIELDS = ("external_id",)


@dataclass(frozen=True)
class MemberSource:
    """`sql` selects customer_id followed by `columns` (aliased with those names), one row
    per customer; `params` are its parameters."""

    sql: str
    params: tuple
    columns: tuple[str, ...]
    # which of `columns` hold text (neutralised in exports) rather than numbers
    text_columns: frozenset[str] = frozenset()
    # which of `columns` are booleans (SQLite returns them as 0/1; CSV writes true/false)
    bool_columns: frozenset[str] = frozenset()
    # the fields of each member when ?fields= names none
    default_fields: tuple[str, ...] = DEFAULT_FIELDS


SOURCES: dict[str, Callable[[dict], MemberSource]] = {}


def register_source(kind: str):
    """Register the builder of a pin kind: builder(pin) -> MemberSource."""

    def decorate(builder: Callable[[dict], MemberSource]):
        SOURCES[kind] = builder
        return builder

    return decorate


def source_for(pin: dict) -> MemberSource:
    return SOURCES[pin["kind"]](pin)


MEMBERSHIP_TABLE = Membership._meta.db_table
CUSTOMER_TABLE = Customer._meta.db_table
MEMBERSHIP_COLUMNS = ("segment", "distance", "nearest_segment_index")


@register_source("segment")
def segment_source(pin: dict) -> MemberSource:
    return MemberSource(
        sql=f"SELECT customer_id, segment_id AS segment, distance, nearest_segment_index "
            f"FROM {MEMBERSHIP_TABLE} WHERE segment_id = %s",
        params=(int(pin["id"]),), columns=MEMBERSHIP_COLUMNS)


@register_source("empty")
def empty_source(pin: dict) -> MemberSource:
    """Nobody (a persona before it existed): the membership columns, no rows."""
    return MemberSource(
        sql=f"SELECT customer_id, segment_id AS segment, distance, nearest_segment_index "
            f"FROM {MEMBERSHIP_TABLE} WHERE 1 = 0",
        params=(), columns=MEMBERSHIP_COLUMNS)


# Customer fields any member set can return: API name -> column of the customers table.
CUSTOMER_FIELDS = {
    "external_id": "external_id", "email": "email", "name": "name", "gender": "gender",
    "age": "age", "country": "country", "city": "city",
}
CUSTOMER_TEXT_FIELDS = frozenset({"external_id", "email", "name", "gender", "country", "city"})


def available_fields(source: MemberSource) -> list[str]:
    return [*CUSTOMER_FIELDS, *source.columns]


def _select(fields: list[str], source: MemberSource, alias: str, *, for_csv: bool = False) -> str:
    expressions = []
    for field in fields:
        if field in CUSTOMER_FIELDS:
            expression = f"c.{CUSTOMER_FIELDS[field]}"
            text = field in CUSTOMER_TEXT_FIELDS
        elif field == "change":
            expression, text = f"{alias}.change", False
        else:
            expression, text = f"{alias}.{field}", field in source.text_columns
        if for_csv and text:
            expression = neutralise_sql(expression)
        elif for_csv and field in source.bool_columns:
            expression = f"CASE WHEN {expression} THEN 'true' WHEN NOT {expression} THEN 'false' END"
        expressions.append(expression)
    return ", ".join(expressions)


def _needs_customers(fields: list[str]) -> bool:
    return any(field in CUSTOMER_FIELDS for field in fields)


def _query(current: MemberSource, baseline: MemberSource | None, fields: list[str], after: int,
           limit: int | None, *, for_csv: bool = False, with_id: bool = True) -> tuple[str, list]:
    """SQL and params: customer_id (unless not with_id) then `fields`, in customer-id order,
    after `after`."""
    join, join_params = "", []
    if _needs_customers(fields):
        # "c.id > after" repeats the keyset bound for the customers side: PostgreSQL does not
        # carry an inequality across the join, and a merge join would otherwise read the
        # customers table from its start on every page.
        join, join_params = f" JOIN {CUSTOMER_TABLE} c ON c.id = m.customer_id AND c.id > %s", [after]
    if baseline is None:
        body, body_params = f"({current.sql}) m", [*current.params]
        where, where_params = " WHERE m.customer_id > %s", [after]
    else:
        # Set difference both ways, as anti-joins: each branch walks its side in customer
        # order through the (segment, customer) index and probes the other side by key,
        # so a page costs its own rows whatever the size of the two sets.
        body = (
            f"(SELECT n.customer_id, {', '.join('n.' + c for c in current.columns)}, 'joined' AS change "
            f"FROM ({current.sql}) n WHERE n.customer_id > %s AND NOT EXISTS "
            f"(SELECT 1 FROM ({baseline.sql}) o WHERE o.customer_id = n.customer_id) "
            f"UNION ALL "
            f"SELECT o.customer_id, {', '.join('o.' + c for c in baseline.columns)}, 'left' AS change "
            f"FROM ({baseline.sql}) o WHERE o.customer_id > %s AND NOT EXISTS "
            f"(SELECT 1 FROM ({current.sql}) n WHERE n.customer_id = o.customer_id)) m"
        )
        body_params = [*current.params, after, *baseline.params, *baseline.params, after, *current.params]
        where, where_params = "", []
    params = [*body_params, *join_params, *where_params]
    select = _select(fields, current, "m", for_csv=for_csv)
    sql = f"SELECT {'m.customer_id, ' if with_id else ''}{select} FROM {body}{join}{where} ORDER BY m.customer_id"
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    return sql, params


def member_page(*, current: dict, baseline: dict | None = None, fields: list[str], after: int = 0,
                limit: int) -> list[tuple]:
    """Up to `limit` rows (customer_id, *fields) with customer_id > after, in customer-id
    order: members of `current`, or with `baseline` who joined and who left (field
    "change")."""
    source = source_for(current)
    sql, params = _query(source, source_for(baseline) if baseline else None, fields, after, limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    flags = _bool_positions(fields, source, offset=1)
    if flags and connection.vendor != "postgresql":  # SQLite's booleans are 0 and 1
        rows = [_with_bools(row, flags, True, False) for row in rows]
    return rows


def _bool_positions(fields: list[str], source: MemberSource, *, offset: int) -> frozenset[int]:
    return frozenset(i + offset for i, field in enumerate(fields) if field in source.bool_columns)


def _with_bools(row: tuple, positions: frozenset[int], true, false) -> tuple:
    return tuple((true if value else false) if i in positions and value is not None else value
                 for i, value in enumerate(row))


# Rows fetched per round trip when an export streams from a cursor (not PostgreSQL).
EXPORT_FETCH_ROWS = 5000


def member_rows(*, current: dict, baseline: dict | None = None, fields: list[str]) -> Iterator[tuple]:
    """Every row (fields only), streamed: for exports (booleans as "true"/"false", as the
    COPY export writes them)."""
    source = source_for(current)
    sql, params = _query(source, source_for(baseline) if baseline else None, fields, 0, None)
    flags = _bool_positions(fields, source, offset=0)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(EXPORT_FETCH_ROWS):
            for row in rows:
                yield _with_bools(row[1:], flags, "true", "false") if flags else row[1:]


# 64 KB: a few socket writes' worth, and well inside any server's buffers.
COPY_CHUNK_BYTES = 64 * 1024


def member_csv_copy(*, current: dict, baseline: dict | None = None, fields: list[str]) -> Iterator[bytes]:
    """PostgreSQL: every row as CSV written by COPY (cells neutralised in SQL, see
    custseg_site.csv_export.neutralise_sql), streamed in the blocks COPY sends."""
    sql, params = _query(source_for(current), source_for(baseline) if baseline else None, fields, 0, None,
                         for_csv=True, with_id=False)
    with connection.cursor() as cursor:
        # psycopg binds COPY's parameters client-side (COPY takes no server-side ones)
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            # COPY sends a message per row: pass them on in chunks of COPY_CHUNK_BYTES, not
            # one response chunk (one trip through the WSGI server) per member
            buffer = bytearray()
            for block in copy:
                buffer += block
                if len(buffer) >= COPY_CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)


def member_csv(*, pull: Pull, fields: list[str]) -> Iterator[bytes]:
    """The whole set as CSV bytes, header first, streamed: written by COPY on PostgreSQL,
    by csv_lines elsewhere; formula-like text cells neutralised either way."""
    if connection.vendor == "postgresql":
        yield ",".join(fields).encode() + b"\n"
        yield from member_csv_copy(current=pull.current, baseline=pull.baseline, fields=fields)
    else:
        for text in csv_lines(fields, member_rows(current=pull.current, baseline=pull.baseline, fields=fields)):
            yield text.encode()


@dataclass(frozen=True)
class Pull:
    """What a member pull reads, pinned for all its pages: the set now (or as of a time),
    the set it is compared with for a delta, and facts echoed in every page (run, ...)."""

    current: dict
    baseline: dict | None = None
    meta: dict | None = None


def segment_pin(segment_id: int | None) -> dict:
    return {"kind": "segment", "id": segment_id} if segment_id is not None else {"kind": "empty"}


def segment_predecessor(*, segment_id: int, run_id: int) -> int | None:
    """The segment of run `run_id` that shares the most customers with `segment_id` (one
    GROUP BY over the two sides' memberships), or None when they share none."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT b.segment_id, COUNT(*) AS shared FROM {MEMBERSHIP_TABLE} a "
            f"JOIN {MEMBERSHIP_TABLE} b ON b.customer_id = a.customer_id AND b.run_id = %s "
            f"WHERE a.segment_id = %s GROUP BY b.segment_id ORDER BY shared DESC, b.segment_id LIMIT 1",
            [run_id, segment_id])
        row = cursor.fetchone()
    return int(row[0]) if row else None


def member_delta_counts(*, current: dict, baseline: dict) -> dict[str, int]:
    """How many joined and how many left (one aggregate over the two anti-joins)."""
    sql, params = _query(source_for(current), source_for(baseline), ["change"], 0, None)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT d.change, COUNT(*) FROM ({sql}) d GROUP BY d.change", params)
        counts = dict(cursor.fetchall())
    return {"joined": int(counts.get("joined", 0)), "left": int(counts.get("left", 0))}

