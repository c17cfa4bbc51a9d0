"""Row validation: typed values, and a reason for every row that is not accepted. No database."""

import pandas as pd
import pytest

from customers.importing.mapping import detect_mapping
from customers.importing.validate import (
    ImportOptions,
    looks_like_decimal_comma,
    parse_dates,
    parse_numbers,
    validate,
)

RETAIL = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
MALL = ["CustomerID", "Genre", "Age", "Annual Income (k$)", "Spending Score (1-100)"]


GOOD_MALL = pd.DataFrame([["1", "Male", "19", "15", "39"]], columns=MALL, dtype=object)


def run(kind, header, rows, **options):
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    # column types are inferred from a preview of good rows, as on the upload page
    mapping = detect_mapping(header, kind, GOOD_MALL if header == MALL else frame)
    result = validate(kind, frame, list(range(2, 2 + len(rows))), mapping, ImportOptions(**options))
    assert len(result.rows) + len(result.rejected) == len(rows)  # every row accounted for
    return result


def test_online_retail_lines_returns_and_cancellations():
    result = run("transactions", RETAIL, [
        ["536365", "85123A", "HEART HOLDER", "6", "2010-12-01 08:26:00", "2.55", "17850.0", "United Kingdom"],
        ["C536379", "D", "Discount", "-1", "2010-12-01 09:41:00", "27.50", "14527", "United Kingdom"],
        ["536414", "22139", "", "56", "2010-12-01 11:52:00", "0", "", "United Kingdom"],
    ])
    rows = result.rows
    assert list(rows["customer_external_id"]) == ["17850", "14527", ""]
    assert list(rows["amount"]) == [15.3, -27.5, 0.0]
    assert list(rows["is_cancellation"]) == [False, True, False]
    assert rows["timestamp"][0] == pd.Timestamp("2010-12-01 08:26:00", tz="UTC")
    assert result.anonymous == 1 and result.rejected.empty
    assert rows["row_hash"].nunique() == 3


def test_anonymous_rows_can_be_rejected_instead():
    result = run("transactions", RETAIL, [
        ["1", "A", "", "1", "2010-12-01", "1", "", "UK"],
        ["2", "A", "", "1", "2010-12-01", "1", "9", "UK"],
    ], anonymous="reject")
    assert list(result.rejected["reason"]) == ["no customer id"] and list(result.rejected["line"]) == [2]


@pytest.mark.parametrize(
    "row, reason",
    [
        (["", "A", "", "1", "2010-12-01", "1", "9", "UK"], "missing invoice id"),
        (["1", "A", "", "1", "", "1", "9", "UK"], "missing date"),
        (["1", "A", "", "1", "yesterday-ish", "1", "9", "UK"], "date not understood"),
        (["1", "A", "", "lots", "2010-12-01", "1", "9", "UK"], "quantity is not a number"),
        (["1", "A", "", "1.5", "2010-12-01", "1", "9", "UK"], "quantity is not a whole number"),
        (["1", "A", "", "1", "2010-12-01", "-11062.06", "9", "UK"], "negative unit price"),
        (["1", "A", "", "1", "2010-12-01", "abc", "9", "UK"], "unit price is not a number"),
    ],
)
def test_bad_transaction_rows_say_why(row, reason):
    result = run("transactions", RETAIL, [row])
    assert list(result.rejected["reason"]) == [reason] and result.rows.empty


def test_day_first_dates_and_decimal_commas():
    header = ["Invoice", "Date", "Qty", "Price", "Customer"]
    result = run("transactions", header, [["1", "03/02/2024", "2", "1.234,50", "7"]], dayfirst=True, decimal_comma=True)
    assert result.rows["timestamp"][0] == pd.Timestamp("2024-02-03", tz="UTC")
    assert result.rows["amount"][0] == 2469.0


def test_mall_customers_with_income_in_thousands_when_the_user_says_so():
    rows = [["1", "Male", "19", "15", "39"], ["2", "Female", "21", "16", "81"]]
    as_given = run("customers", MALL, rows)
    in_thousands = run("customers", MALL, rows, units={"annual_income": 1000})
    assert list(as_given.rows["annual_income"]) == [15, 16]
    assert list(in_thousands.rows["annual_income"]) == [15_000, 16_000]
    assert list(in_thousands.rows["gender"]) == ["M", "F"]
    assert in_thousands.rows["attributes"][1] == {"Spending Score (1-100)": 81.0}


@pytest.mark.parametrize(
    "row, reason",
    [
        (["", "Male", "19", "15", "39"], "missing customer id"),
        (["1", "Male", "nineteen", "15", "39"], "age is not a number"),
        (["1", "Male", "190", "15", "39"], "age outside 0-130"),
        (["1", "Male", "19", "-15", "39"], "annual income is negative"),
        (["1", "Male", "19", "15", "high"], "Spending Score (1-100): not a number"),
    ],
)
def test_bad_customer_rows_say_why(row, reason):
    result = run("customers", MALL, [row])
    assert list(result.rejected["reason"]) == [reason]


def test_empty_optional_values_are_missing_not_errors():
    result = run("customers", MALL, [["1", "", "", "", ""]])
    row = result.rows.iloc[0]
    assert row["gender"] == "" and pd.isna(row["age"]) and pd.isna(row["annual_income"])
    assert row["attributes"] == {}


def test_number_formats():
    values = pd.Series(["1,234.5", " 7 ", "", "1\u00a0000"], dtype=object)
    assert parse_numbers(values, decimal_comma=False).tolist()[:2] == [1234.5, 7.0]
    assert pd.isna(parse_numbers(values, decimal_comma=False)[2])
    assert parse_numbers(pd.Series(["1.234,5"]), decimal_comma=True)[0] == 1234.5


@pytest.mark.parametrize(
    "cells",
    [["6", "-12", "+5", "0012"], ["6", "x"], ["6", "7.0"], ["2.55", "1e3", ".5", "5."], ["9223372036854775807"],
     ["99999999999999999999"]],
)
def test_numbers_are_read_and_typed_as_pandas_reads_them(cells):
    # row hashes hash quantities and prices by type: a whole-number column stays int64
    parsed = parse_numbers(pd.Series(cells, dtype="str"), decimal_comma=False)
    expected = pd.to_numeric(pd.Series(cells).where(pd.Series(cells) != "x"), errors="coerce")
    assert parsed.dtype == expected.dtype
    assert parsed.tolist() == pytest.approx(expected.tolist(), nan_ok=True)


def test_a_number_in_the_other_convention_is_rejected_not_misread():
    # "52.000,50" read with a thousands comma would silently become 52.0005
    frame = pd.DataFrame({"CustomerID": ["1", "2"], "Income": ["52.000,50", "61.500"]})
    mapping = detect_mapping(list(frame.columns), "customers", frame)
    as_points = validate("customers", frame, [2, 3], mapping, ImportOptions())
    assert as_points.rejected["reason"].tolist() == ["annual income is not a number"]
    as_commas = validate("customers", frame, [2, 3], mapping, ImportOptions(decimal_comma=True))
    assert as_commas.rows["annual_income"].tolist() == [52000.5, 61500.0]


def test_decimal_comma_is_recognised_in_a_sample():
    assert looks_like_decimal_comma(pd.Series(["52.000,50", "4,5", "10"]))
    assert not looks_like_decimal_comma(pd.Series(["1,234.50", "4.5", "10"]))
    assert not looks_like_decimal_comma(pd.Series(["10", "20"]))


def test_dates_in_several_formats():
    parsed = parse_dates(pd.Series(["2024-02-03", "2024-02-03 10:00", "02/03/2024"]), dayfirst=False)
    assert parsed.dt.month.tolist() == [2, 2, 2]


def test_row_identity_is_the_same_as_in_earlier_versions():
    # given the first line of Online Retail, whose hash earlier versions stored with it
    result = run("transactions", RETAIL, [
        ["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "6", "2010-12-01 08:26:00", "2.55", "17850.0",
         "United Kingdom"],
    ])
    # then a new version computes the same identity, so importing that file again adds nothing
    assert list(result.rows["row_hash"]) == ["ecc2fe2e8a558adfa10199acd38dbda9"]


def test_dates_with_spaces_blanks_and_values_from_a_workbook():
    text = parse_dates(pd.Series([" 2024-02-03 10:00 ", "", None], dtype=object), dayfirst=False)
    assert text[0] == pd.Timestamp("2024-02-03 10:00", tz="UTC") and text[1:].isna().all()
    mixed = parse_dates(pd.Series([pd.Timestamp("2024-02-03"), " 2024-02-04 "], dtype=object), dayfirst=False)
    assert mixed.dt.day.tolist() == [3, 4]
