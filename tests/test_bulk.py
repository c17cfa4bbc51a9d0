"""insert_frame: what goes in comes back out, on PostgreSQL (COPY) and SQLite (bulk_create)."""

import datetime
from decimal import Decimal

import pandas as pd
import pytest

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
