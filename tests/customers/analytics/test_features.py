import numpy as np
import pandas as pd
import pytest

from customers.analytics.features import FEATURE_DOCS, channel_column, customer_features, feature_doc
from tests.customers.analytics.conftest import random_transactions, transactions

# customer 1: two purchases ten days apart in two channels and a later return;
# customer 2: one purchase; customer 3: only a return and a cancellation
ROWS = [
    (1, "A1", "2024-01-01 10:00", 2, 20.0, "p1", "c1", "online", False),
    (1, "A1", "2024-01-01 10:00", 1, 10.0, "p2", "c2", "online", False),
    (1, "A2", "2024-01-11 09:00", 1, 30.0, "p1", "c1", "store", False),
    (1, "R1", "2024-01-12 09:00", -1, -10.0, "p1", "c1", "store", False),
    (2, "B1", "2024-01-05 00:00", 1, 5.0, "p3", "c3", "online", False),
    (3, "R2", "2024-01-05 00:00", -1, -8.0, "p3", "c3", "online", False),
    (3, "C9", "2024-01-06 00:00", -1, -2.0, "p3", "c3", "online", True),
]


def test_known_answers(as_of):
    features = customer_features(transactions(ROWS), as_of=as_of)

    one = features.loc[1]
    assert one["frequency"] == 2  # the return invoice is not a purchase occasion
    assert one["monetary"] == 50.0  # 20 + 10 + 30 - 10
    assert one["avg_order_value"] == 25.0
    assert one["recency"] == pytest.approx(20 + 15 / 24)  # 2024-01-11 09:00 to 2024-02-01
    assert one["tenure"] == pytest.approx(30 + 14 / 24)
    assert one["mean_days_between"] == pytest.approx(9 + 23 / 24)
    assert one["return_rate"] == pytest.approx(10 / 70)
    assert (one["distinct_products"], one["distinct_categories"]) == (2, 2)
    assert one["top_category_share"] == pytest.approx(50 / 60)
    assert (one["channel_online"], one["channel_store"]) == (0.5, 0.5)
    assert one["first_purchase"] == pd.Timestamp("2024-01-01 10:00", tz="UTC")
    assert one["last_purchase"] == pd.Timestamp("2024-01-11 09:00", tz="UTC")
    # BG/NBD summary: purchase days 01-01 and 01-11; the return day is no purchase day
    assert (one["clv_frequency"], one["clv_recency"], one["clv_T"], one["clv_monetary"]) == (1, 10, 31, 30.0)

    two = features.loc[2]
    assert two["frequency"] == 1 and np.isnan(two["mean_days_between"])
    assert (two["clv_frequency"], two["clv_recency"], two["clv_T"], two["clv_monetary"]) == (0, 0, 27, 0.0)


def test_customer_with_only_returns_has_no_purchase_numbers(as_of):
    only_returns = customer_features(transactions(ROWS), as_of=as_of).loc[3]

    assert only_returns["frequency"] == 0
    assert only_returns["monetary"] == -10.0
    assert only_returns["return_rate"] == 1.0
    assert only_returns["distinct_products"] == 0
    for name in ("recency", "tenure", "avg_order_value", "mean_days_between", "top_category_share",
                 "channel_online", "clv_frequency", "clv_recency", "clv_T", "clv_monetary"):
        assert np.isnan(only_returns[name]), name
    assert pd.isna(only_returns["first_purchase"]) and pd.isna(only_returns["last_purchase"])


def test_top_category_share_is_missing_without_categories_not_zero(as_of):
    # given data like Online Retail's, which has no category column, beside a customer who
    # bought one named and one unnamed line
    rows = [
        (1, "A1", "2024-01-01", 1, 20.0, "p1", "", "online", False),
        (1, "A2", "2024-01-02", 1, 30.0, "p2", "", "online", False),
        (2, "B1", "2024-01-01", 1, 10.0, "p1", "c1", "online", False),
        (2, "B1", "2024-01-01", 1, 30.0, "p2", " ", "online", False),
    ]
    features = customer_features(transactions(rows), as_of=as_of)
    # then no category means no top category share; unnamed spend still lowers a real one
    assert features.loc[1, "distinct_categories"] == 0 and np.isnan(features.loc[1, "top_category_share"])
    assert features.loc[2, "top_category_share"] == pytest.approx(10 / 40)


def test_same_invoice_id_under_two_customers_is_two_invoices(as_of):
    rows = [
        (1, "X", "2024-01-01", 1, 10.0, "p", "c", "online", False),
        (2, "X", "2024-01-02", 1, 15.0, "p", "c", "online", False),
        (2, "Y", "2024-01-03", 1, 15.0, "p", "c", "online", False),
    ]
    features = customer_features(transactions(rows), as_of=as_of)
    assert features["frequency"].to_dict() == {1: 1, 2: 2}


def test_invoice_with_return_larger_than_purchase_is_no_occasion(as_of):
    rows = [
        (1, "A", "2024-01-01", 1, 10.0, "p", "c", "online", False),
        (1, "B", "2024-01-02", 1, 5.0, "p", "c", "online", False),
        (1, "B", "2024-01-02", -1, -8.0, "q", "c", "online", False),
    ]
    features = customer_features(transactions(rows), as_of=as_of)
    assert features.loc[1, "frequency"] == 1
    assert features.loc[1, "monetary"] == 7.0


def test_chunks_of_customers_give_the_same_rows_as_one_call(as_of):
    # given lines of 300 customers, and the app's channel list
    frame = random_transactions(customers=300, lines=6_000, seed=1)
    channels = ["online", "store", "Mobile app", "phone"]
    whole = customer_features(frame, as_of=as_of + pd.Timedelta(days=400), channels=channels)
    # when computed for three disjoint sets of customers (not contiguous ones) and concatenated
    parts = [frame[frame["customer_id"] % 3 == k] for k in range(3)]
    chunked = pd.concat(
        [customer_features(p, as_of=as_of + pd.Timedelta(days=400), channels=channels) for p in parts]
    ).sort_index()
    # then every value is the same
    pd.testing.assert_frame_equal(chunked, whole)
    assert list(whole.filter(like="channel_").columns) == [
        "channel_online", "channel_store", "channel_mobile_app", "channel_phone",
    ]
    assert whole["channel_phone"].fillna(0).eq(0).all()


def test_features_match_a_plain_per_customer_computation(as_of):
    frame = random_transactions(customers=50, lines=2_000, seed=2)
    features = customer_features(frame, as_of=as_of + pd.Timedelta(days=400))
    for customer_id, lines in frame.groupby("customer_id"):
        invoices = lines.groupby("invoice_id").agg(net=("amount", "sum"), cancelled=("is_cancellation", "any"))
        purchases = invoices[(invoices["net"] > 0) & ~invoices["cancelled"]]
        row = features.loc[customer_id]
        assert row["frequency"] == len(purchases)
        assert row["monetary"] == pytest.approx(lines["amount"].sum())
        bought = lines[(lines["amount"] > 0) & ~lines["is_cancellation"]]
        assert row["distinct_products"] == bought["product"].nunique()
        if len(bought):
            assert row["top_category_share"] == pytest.approx(
                bought.groupby("category")["amount"].sum().max() / bought["amount"].sum()
            )


def test_unsorted_input_gives_the_same_features():
    frame = random_transactions(customers=40, lines=1_000, seed=3)
    shuffled = frame.sample(frac=1.0, random_state=0)
    as_of = pd.Timestamp("2025-06-01", tz="UTC")
    pd.testing.assert_frame_equal(customer_features(shuffled, as_of=as_of), customer_features(frame, as_of=as_of))


def test_empty_input_gives_the_columns(as_of):
    empty = customer_features(transactions(ROWS).iloc[:0], as_of=as_of, channels=["online"])
    assert empty.empty
    assert "channel_online" in empty.columns and "clv_T" in empty.columns


def test_every_column_is_documented(as_of):
    features = customer_features(transactions(ROWS), as_of=as_of, holdout_start=as_of - pd.Timedelta(days=10))
    for name in features.columns:
        help_text, unit = feature_doc(name)
        assert help_text and unit
    assert set(FEATURE_DOCS) <= set(features.columns)
    assert channel_column(" Mobile-App ") == "channel_mobile_app"


@pytest.mark.parametrize("shuffle", [False, True], ids=["sorted: dense blocks", "unsorted: pair hash"])
def test_small_dense_blocks_give_the_same_features(monkeypatch, shuffle):
    frame = random_transactions(customers=60, lines=1_500, seed=4)
    if shuffle:
        frame = frame.sample(frac=1.0, random_state=1)
    as_of = pd.Timestamp("2025-06-01", tz="UTC")
    expected = customer_features(frame, as_of=as_of)
    # blocks of 2 customers (4 categories each), and products through the same paths
    monkeypatch.setattr("customers.analytics.features.DENSE_CELLS_MAX", 8)
    monkeypatch.setattr("customers.analytics.features.DENSE_VALUES_MAX", 1_000)
    pd.testing.assert_frame_equal(customer_features(frame, as_of=as_of), expected)
