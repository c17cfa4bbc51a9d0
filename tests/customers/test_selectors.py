"""customers.selectors: the feature catalogue and the feature frame segmentation reads."""

import math

import pandas as pd
import pytest

from customers.models import CustomAttribute
from customers.selectors import customer_feature_frame, feature_catalogue, frames
from tests.customers.factories import CustomerFactory, TransactionFactory

pytestmark = pytest.mark.django_db


def missing(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


@pytest.fixture
def attributes():
    CustomAttribute.objects.create(key="Tier", feature_name="attr_tier", type="category")
    CustomAttribute.objects.create(key="Score", feature_name="attr_score", type="number")
    CustomAttribute.objects.create(key="Joined", feature_name="attr_joined", type="date")


def test_gender_country_and_category_attributes_are_categorical_features(attributes):
    catalogue = feature_catalogue()
    kinds = {name: f.kind for name, f in catalogue.items()}
    assert kinds["gender"] == kinds["country"] == kinds["attr_tier"] == "categorical"
    assert kinds["attr_score"] == kinds["age"] == kinds["recency"] == "numeric"
    assert "attr_joined" not in catalogue  # dates are not features
    assert "one-hot encoded, or used natively by k-prototypes" in catalogue["country"].help
    assert catalogue["attr_tier"].label == "Tier" and not catalogue["attr_tier"].needs_transactions
    # computed features first, then the customer record's, then the attributes
    names = list(catalogue)
    assert names.index("monetary") < names.index("age") < names.index("gender") < names.index("attr_score")


def test_categorical_columns_come_back_as_category_dtype_with_nan_for_missing(attributes):
    # given customers with every kind of gap: unknown gender, empty country, no attribute key
    a = CustomerFactory(gender="F", country="France", attributes={"Tier": "gold", "Score": 3})
    b = CustomerFactory(gender="", country="", attributes={"Tier": ""})
    c = CustomerFactory(gender="O", country="Japan", attributes={})
    d = CustomerFactory(gender="M", country="France", attributes={"Tier": "silver", "Score": 7.5})

    # when the frame is read
    frame = customer_feature_frame(features=["gender", "age", "country", "attr_tier", "attr_score"])

    # then categoricals are category columns with labels, numbers stay floats
    assert list(frame.columns) == ["gender", "age", "country", "attr_tier", "attr_score"]
    assert list(frame.index) == [a.pk, b.pk, c.pk, d.pk]
    for name in ("gender", "country", "attr_tier"):
        assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
    assert frame["age"].dtype == frame["attr_score"].dtype == "float64"
    assert list(frame["gender"].cat.categories) == ["Female", "Male", "Other"]
    assert list(frame["country"].cat.categories) == ["France", "Japan"]
    assert frame.loc[a.pk, "gender"] == "Female" and frame.loc[d.pk, "gender"] == "Male"
    assert frame.loc[c.pk, "gender"] == "Other" and missing(frame.loc[b.pk, "gender"])
    assert frame["country"].tolist()[0] == "France" and missing(frame.loc[b.pk, "country"])
    assert frame.loc[a.pk, "attr_tier"] == "gold" and frame.loc[d.pk, "attr_tier"] == "silver"
    assert missing(frame.loc[b.pk, "attr_tier"]) and missing(frame.loc[c.pk, "attr_tier"])
    assert frame["attr_score"].tolist()[0] == 3.0 and missing(frame.loc[b.pk, "attr_score"])


def test_category_codes_are_shared_across_chunks(attributes, monkeypatch):
    # a small fetch chunk: each chunk sees a different subset of countries
    monkeypatch.setattr(frames, "FEATURE_FETCH_CHUNK", 2)
    countries = ["Spain", "Spain", "", "Chile", "Austria", "Spain", "Chile"]
    customers = [CustomerFactory(country=country, gender="M") for country in countries]
    seen = []
    frame = customer_feature_frame(features=["country", "gender"], progress=seen.append)
    assert seen == [2, 4, 6]
    assert list(frame["country"].cat.categories) == ["Austria", "Chile", "Spain"]
    assert [None if missing(v) else v for v in frame.loc[[c.pk for c in customers], "country"]] == [
        c or None for c in countries]
    assert set(frame["gender"]) == {"Male"}


def test_categoricals_beside_live_transaction_features(attributes):
    buyer = CustomerFactory(country="Peru")
    TransactionFactory(customer=buyer, invoice_id="X1")
    CustomerFactory(country="")
    frame = customer_feature_frame(features=["frequency", "country"])
    assert frame["frequency"].tolist() == [1.0, 0.0]
    assert frame["country"].tolist()[0] == "Peru" and missing(frame["country"].tolist()[1])


def test_no_customers_gives_typed_empty_columns(attributes):
    frame = customer_feature_frame(features=["country", "age"])
    assert frame.empty and isinstance(frame["country"].dtype, pd.CategoricalDtype)
    assert frame["age"].dtype == "float64"
