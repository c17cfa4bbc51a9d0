"""insert_frame: what goes in comes back out, on PostgreSQL (COPY) and SQLite (bulk_create)."""

import datetime
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection

from customers.models import Customer, Transaction
from custseg_site.bulk import insert_frame

pytestmark = pytest.mark.django_db


def test_values_that_csv_could_garble_come_back_as_written():
    # given text with quotes, commas, newlines and accents; blanks, missing values,
    # JSON and dates
    frame = pd.DataFrame({
        "external_id": ["a", "b"],
        "name": ['O\'Brien, "Jo"\nline two', ""],
        "email": ["", ""],
        "gender": ["F", ""],
        "age": pd.array([41, None], dtype="Int64"),
        "birth_year": pd.array([None, None], dtype="Int64"),
        "annual_income": [1234.5, float("nan")],
        "country": ["Côte d'Ivoire", ""],
        "city": ["\\N", "NULL"],
        "signup_date": [datetime.date(2024, 2, 29), None],
        "attributes": [{"score": 81.0, "tags": ["a", "b,c"], "note": 'say "hi"'}, {}],
    }).assign(created_at=pd.Timestamp("2024-03-01 12:00", tz="UTC"), updated_at=pd.Timestamp("2024-03-01 12:00", tz="UTC"))

    # when
    assert insert_frame(Customer, frame) == 2

    # then
    first, second = Customer.objects.order_by("external_id")
    assert first.name == 'O\'Brien, "Jo"\nline two' and second.name == ""
    assert (first.age, second.age, second.birth_year) == (41, None, None)
    assert first.annual_income == Decimal("1234.50") and second.annual_income is None
    assert first.country == "Côte d'Ivoire" and (first.city, second.city) == ("\\N", "NULL")
    assert first.signup_date == datetime.date(2024, 2, 29) and second.signup_date is None
    assert first.attributes == {"score": 81.0, "tags": ["a", "b,c"], "note": 'say "hi"'}
    assert second.attributes == {}


def test_aware_timestamps_keep_their_instant_to_the_microsecond():
    stamps = pd.Series(pd.to_datetime(["2010-12-01 08:26:00.123456", "2024-07-01 23:59:59"], format="ISO8601"))
    frame = pd.DataFrame({
        "invoice_id": ["1", "2"],
        "timestamp": stamps.dt.tz_localize("Europe/Paris"),
        "quantity": [6, -1],
        "unit_price": [2.55, 0.1],
        "amount": [15.3, -0.1],
        "product": ["85123A", ""],
        "category": ["", ""],
        "channel": ["", ""],
    })

    insert_frame(Transaction, frame)

    stored = dict(Transaction.objects.values_list("invoice_id", "timestamp"))
    assert stored["1"] == datetime.datetime(2010, 12, 1, 7, 26, 0, 123456, tzinfo=datetime.UTC)
    assert stored["2"] == datetime.datetime(2024, 7, 1, 21, 59, 59, tzinfo=datetime.UTC)
    assert sorted(Transaction.objects.values_list("amount", flat=True)) == [Decimal("-0.10"), Decimal("15.30")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY BINARY is PostgreSQL's")
def test_binary_copy_gives_back_what_was_written():
    import numpy as np
    import psycopg

    from custseg_site import copy_binary

    # given values a CSV could garble and numbers a float could round wrongly
    customer = Customer.objects.create(external_id="c1")
    stamps = pd.Series(pd.to_datetime(["2010-12-01 08:26:00.123456", "1999-12-31 23:59:59"], format="ISO8601"))
    prices = np.array([2.55, -11062.06])
    fields = copy_binary.rows(
        copy_binary.integer_field(np.array([customer.pk, 0]), size=8, missing=np.array([False, True])),
        copy_binary.text_field(pd.Series(['O\'Brien, "Jo"\n\t\\N', ""], dtype="str")),
        copy_binary.timestamp_field(stamps.dt.tz_localize("UTC")),
        copy_binary.integer_field(np.array([6, -1]), size=4),
        copy_binary.numeric_field(prices),
        copy_binary.numeric_field(prices * np.array([6, -1])),
        copy_binary.boolean_field(np.array([False, True])),
        copy_binary.jsonb_field(pd.Series([{"score": 7.5, "note": "é"}, {}])),
        *(copy_binary.text_field(pd.Series(["", ""], dtype="str")) for _ in range(3)),
        count=11,
    )

    # when they are COPYed in binary
    with connection.cursor() as cursor:
        copy_binary.copy_rows(psycopg.Cursor(cursor.connection), "customers_transaction",
                              ["customer_id", "invoice_id", '"timestamp"', "quantity", "unit_price", "amount",
                               "is_cancellation", "attributes", "product", "category", "channel"], fields)

    # then they come back as written
    first, second = Transaction.objects.order_by("quantity").reverse()
    assert (first.customer_id, second.customer_id) == (customer.pk, None)
    assert (first.invoice_id, second.invoice_id) == ('O\'Brien, "Jo"\n\t\\N', "")
    assert first.timestamp == datetime.datetime(2010, 12, 1, 8, 26, 0, 123456, tzinfo=datetime.UTC)
    assert second.timestamp == datetime.datetime(1999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)
    assert (first.unit_price, second.unit_price) == (Decimal("2.55"), Decimal("-11062.06"))
    assert (first.amount, second.amount) == (Decimal("15.30"), Decimal("11062.06"))
    assert (first.is_cancellation, second.is_cancellation) == (False, True)
    assert (first.attributes, second.attributes) == ({"score": 7.5, "note": "é"}, {})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY BINARY is PostgreSQL's")
def test_binary_rows_take_their_ids_after_they_are_built_and_can_be_dropped():
    import numpy as np
    import psycopg

    from custseg_site import copy_binary

    # given three rows whose customer ids are not known yet (the last one has none)
    customers = [Customer.objects.create(external_id=name) for name in ("a", "b")]
    text = pd.Series(["1", "2", "3"], dtype="str")
    rows = copy_binary.Rows.of(copy_binary.rows(
        copy_binary.integer_field(np.zeros(3), size=8, missing=np.array([False, False, True])),
        copy_binary.text_field(text),
        copy_binary.timestamp_field(pd.Series(pd.to_datetime(["2024-01-01"] * 3, utc=True))),
        copy_binary.integer_field(np.ones(3), size=4),
        copy_binary.numeric_field(np.ones(3)),
        copy_binary.numeric_field(np.ones(3)),
        *(copy_binary.text_field(pd.Series([""] * 3, dtype="str")) for _ in range(3)),
        count=9,
    ))
    # when the first row is dropped and the second gets its customer's id
    rows = rows.keep(np.array([False, True, True]))
    rows.put_int8(np.array([0]), 6, np.array([customers[1].pk]))
    with connection.cursor() as cursor:
        copy_binary.copy_rows(psycopg.Cursor(cursor.connection), "customers_transaction",
                              ["customer_id", "invoice_id", '"timestamp"', "quantity", "unit_price", "amount",
                               "product", "category", "channel"], rows)
    # then the rows kept come back with their ids
    assert sorted(Transaction.objects.values_list("invoice_id", "customer_id")) == [("2", customers[1].pk), ("3", None)]
