"""Column mapping: the headers of real exports map to custseg fields. No database."""

import pandas as pd
import pytest

from customers.importing.mapping import (
    MappingError,
    apply_overrides,
    detect_mapping,
    infer_attribute_type,
    parse_map_options,
)

# Headers of ../shared/datasets, copied here so the tests do not depend on that folder.
MALL_HEADER = ["CustomerID", "Genre", "Age", "Annual Income (k$)", "Spending Score (1-100)"]
RETAIL_HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]


def test_mall_customers_header():
    sample = pd.DataFrame([["1", "Male", "19", "15", "39"], ["2", "Female", "21", "16", "81"]], columns=MALL_HEADER)
    mapping = detect_mapping(MALL_HEADER, "customers", sample)
    assert mapping.fields == {
        "CustomerID": "external_id", "Genre": "gender", "Age": "age", "Annual Income (k$)": "annual_income",
    }
    # not a standard field, kept as a typed custom attribute
    assert mapping.attributes == {"Spending Score (1-100)": "number"}
    # income in thousands is suggested, not applied
    assert mapping.unit_hints == {"annual_income": 1000}
    assert mapping.missing_required() == []


def test_online_retail_header():
    mapping = detect_mapping(RETAIL_HEADER, "transactions")
    assert mapping.fields == {
        "InvoiceNo": "invoice_id", "StockCode": "product", "Description": "description",
        "Quantity": "quantity", "InvoiceDate": "timestamp", "UnitPrice": "unit_price",
        "CustomerID": "customer_external_id", "Country": "country",
    }
    assert mapping.attributes == {} and mapping.unit_hints == {}


@pytest.mark.parametrize(
    "header, expected",
    [
        (["Customer ID", "Invoice", "Price", "Quantity", "InvoiceDate"], {"Customer ID": "customer_external_id", "Invoice": "invoice_id", "Price": "unit_price"}),
        (["customer_id", "order_id", "order_date", "qty", "total"], {"customer_id": "customer_external_id", "order_id": "invoice_id", "order_date": "timestamp", "qty": "quantity", "total": "amount"}),
    ],
)
def test_common_spellings(header, expected):
    mapping = detect_mapping(header, "transactions")
    assert {k: v for k, v in mapping.fields.items() if k in expected} == expected


def test_a_field_is_taken_by_one_column_only():
    mapping = detect_mapping(["CustomerID", "Customer", "Age"], "customers")
    assert mapping.fields == {"CustomerID": "external_id", "Age": "age"}
    assert mapping.attributes == {"Customer": "category"}  # kept, not dropped


def test_missing_required_fields_are_named():
    mapping = detect_mapping(["InvoiceNo", "Quantity"], "transactions")
    assert mapping.missing_required() == ["timestamp", "unit_price or amount"]


def test_map_option_splits_at_the_last_equals_sign_and_wins_over_detection():
    header = ["a=b", "Revenue", "Total"]
    overrides = parse_map_options(["a=b=invoice_id", "Total=amount"], header, "transactions")
    assert overrides == {"a=b": "invoice_id", "Total": "amount"}
    mapping = apply_overrides(detect_mapping(header, "transactions"), overrides)
    assert mapping.fields["a=b"] == "invoice_id" and mapping.fields["Total"] == "amount"
    assert "Revenue" in mapping.attributes  # it lost "amount" to Total, and is kept


@pytest.mark.parametrize(
    "option, message",
    [("Nope=age", "no column 'Nope'"), ("Age=shoe_size", "Unknown field 'shoe_size'"), ("Age", "SOURCE=FIELD")],
)
def test_bad_map_options_are_explained(option, message):
    with pytest.raises(MappingError, match=message):
        parse_map_options([option], ["Age"], "customers")


@pytest.mark.parametrize(
    "values, kind",
    [
        (["1", "2.5", "1,200", ""], "number"),
        (["2024-01-03", "03/02/2024", "2023-12-31"], "date"),
        (["gold", "silver", "gold"], "category"),
        ([], "category"),
    ],
)
def test_custom_attribute_types_are_inferred(values, kind):
    assert infer_attribute_type(pd.Series(values, dtype=object)) == kind


def test_a_column_the_user_keeps_as_an_attribute_keeps_its_detected_type():
    header = ["CustomerID", "Age", "Score"]
    sample = pd.DataFrame({"CustomerID": ["1", "2"], "Age": ["19", "21"], "Score": ["39", "81"]})
    mapping = apply_overrides(detect_mapping(header, "customers", sample),
                              {"Score": "attribute", "Age": "attribute", "CustomerID": "external_id"})
    assert mapping.attributes == {"Score": "number", "Age": "number"}
