"""The demo data generator, without a database."""

import datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from customers.synthetic import (
    CUSTOMER_COLUMNS,
    DEMO_GROUPS,
    TRANSACTION_COLUMNS,
    external_id_for,
    generate_demo_chunks,
)

END_DATE = datetime.date(2026, 6, 30)
WINDOW_START = pd.Timestamp("2025-07-01", tz="UTC")  # 365 days ending with END_DATE
WINDOW_END = pd.Timestamp("2026-07-01", tz="UTC")  # exclusive


def generate(n_customers: int, seed: int = 0, chunk_size: int = 20_000):
    chunks = list(
        generate_demo_chunks(
            n_customers=n_customers, seed=seed, end_date=END_DATE, chunk_size=chunk_size
        )
    )
    customers = pd.concat([chunk.customers for chunk in chunks], ignore_index=True)
    transactions = pd.concat([chunk.transactions for chunk in chunks], ignore_index=True)
    return chunks, customers, transactions


@pytest.fixture(scope="module")
def dataset():
    _, customers, transactions = generate(6_000, seed=0, chunk_size=2_500)
    customers = customers.assign(group=customers["attributes"].map(lambda a: a["demo_group"]))
    return customers, transactions


@pytest.fixture(scope="module")
def rfm(dataset):
    """Recency, frequency (invoices), monetary per customer with purchases, and its group."""
    customers, transactions = dataset
    as_of = WINDOW_END
    per_customer = transactions.groupby("customer_external_id").agg(
        last=("timestamp", "max"),
        frequency=("invoice_id", "nunique"),
        monetary=("amount", "sum"),
    )
    per_customer["recency"] = (as_of - per_customer["last"]).dt.days
    return per_customer.join(customers.set_index("external_id")["group"])


def test_chunks_number_customers_consecutively_and_keep_the_chunk_size():
    chunks, customers, _ = generate(2_500, chunk_size=1_000)

    assert [len(chunk.customers) for chunk in chunks] == [1_000, 1_000, 500]
    assert customers["external_id"].tolist() == [external_id_for(n) for n in range(1, 2_501)]
    assert customers["external_id"].is_monotonic_increasing  # string order = numeric order
    assert external_id_for(10_000_000) == "C10000000"


def test_frames_have_the_columns_the_loader_inserts(dataset):
    customers, transactions = dataset

    assert tuple(customers.columns[: len(CUSTOMER_COLUMNS)]) == CUSTOMER_COLUMNS
    assert tuple(transactions.columns) == TRANSACTION_COLUMNS
    assert str(transactions["timestamp"].dt.tz) == "UTC"


def test_invoice_ids_are_unique_across_chunks_and_belong_to_one_customer():
    _, _, transactions = generate(3_000, chunk_size=700)

    owners = transactions.groupby("invoice_id")["customer_external_id"].nunique()
    assert (owners == 1).all()
    invoice_times = transactions.groupby("invoice_id")["timestamp"].nunique()
    assert (invoice_times == 1).all()  # an invoice's lines share its timestamp
    lines = transactions.groupby("invoice_id").size()
    assert lines.max() <= 3 and (lines > 1).any()


def test_same_seed_gives_identical_data():
    _, customers_a, transactions_a = generate(1_500, seed=7, chunk_size=600)
    _, customers_b, transactions_b = generate(1_500, seed=7, chunk_size=600)

    pd.testing.assert_frame_equal(customers_a, customers_b)
    pd.testing.assert_frame_equal(transactions_a, transactions_b)


def test_different_seeds_give_different_data():
    _, customers_a, transactions_a = generate(1_500, seed=1)
    _, customers_b, transactions_b = generate(1_500, seed=2)

    # Same customer numbering, different people and purchases.
    assert customers_a["external_id"].equals(customers_b["external_id"])
    assert not customers_a["annual_income"].equals(customers_b["annual_income"])
    assert len(transactions_a) != len(transactions_b) or not np.array_equal(
        transactions_a["amount"].to_numpy(), transactions_b["amount"].to_numpy()
    )


def test_a_larger_dataset_repeats_the_full_chunks_of_a_smaller_one():
    small_chunks, _, _ = generate(2_000, seed=3, chunk_size=1_000)
    large_chunks, _, _ = generate(5_000, seed=3, chunk_size=1_000)

    for small, large in zip(small_chunks, large_chunks, strict=False):
        pd.testing.assert_frame_equal(small.customers, large.customers)
        pd.testing.assert_frame_equal(small.transactions, large.transactions)


def test_transactions_fall_in_the_year_ending_with_end_date_and_after_signup(dataset):
    customers, transactions = dataset

    assert transactions["timestamp"].min() >= WINDOW_START
    assert transactions["timestamp"].max() < WINDOW_END
    signup = transactions["customer_external_id"].map(
        customers.set_index("external_id")["signup_date"]
    )
    assert (transactions["timestamp"].dt.date >= signup).all()
    assert (customers["signup_date"] <= END_DATE).all()


def test_customer_demographics_are_plausible(dataset):
    customers, _ = dataset

    assert customers["age"].between(18, 80).all()
    assert set(END_DATE.year - customers["age"] - customers["birth_year"]) <= {0, 1}
    assert customers["annual_income"].between(15_000, 150_000).all()
    assert (customers["annual_income"].round(2) == customers["annual_income"]).all()
    assert set(customers["gender"]) == {"F", "M", "O"}
    assert customers["email"].is_unique
    assert customers["country"].nunique() > 3 and customers["city"].notna().all()


def test_about_ten_transaction_rows_per_customer_and_a_few_customers_without_any(dataset):
    customers, transactions = dataset

    assert 8 <= len(transactions) / len(customers) <= 12
    without = ~customers["external_id"].isin(transactions["customer_external_id"])
    assert 0 < without.mean() < 0.05


def test_returns_have_negative_quantity_and_amount(dataset):
    _, transactions = dataset
    returns = transactions[transactions["quantity"] < 0]

    assert 0.01 < len(returns) / len(transactions) < 0.06
    assert (returns["amount"] < 0).all()
    assert (transactions["unit_price"] > 0).all()
    assert (transactions["quantity"] != 0).all()
    expected = (transactions["quantity"] * transactions["unit_price"]).round(2)
    assert np.allclose(transactions["amount"], expected, atol=0.005)
    assert (transactions["amount"].round(2) == transactions["amount"]).all()


def test_every_planted_group_is_present_in_its_share(dataset):
    customers, _ = dataset

    shares = customers["group"].value_counts(normalize=True)
    for group in DEMO_GROUPS:
        assert shares[group.name] == pytest.approx(group.share, abs=0.001)


def test_champions_buy_more_often_and_spend_more_than_lapsed_customers(rfm):
    means = rfm.groupby("group")[["frequency", "monetary", "recency"]].mean()

    assert means.loc["Champions", "frequency"] > 3 * means.loc["Lapsed", "frequency"]
    assert means.loc["Champions", "monetary"] > 5 * means.loc["Lapsed", "monetary"]
    assert means.loc["Champions", "recency"] < 60


def test_bargain_regulars_buy_often_in_small_baskets_big_spenders_rarely_in_big_ones(rfm):
    order_value = rfm["monetary"] / rfm["frequency"]
    mean_order_value = order_value.groupby(rfm["group"]).mean()
    mean_frequency = rfm.groupby("group")["frequency"].mean()

    assert mean_frequency["Bargain regulars"] > 2 * mean_frequency["Big occasional spenders"]
    assert mean_order_value["Big occasional spenders"] > 5 * mean_order_value["Bargain regulars"]


def test_lapsed_customers_bought_nothing_in_the_last_months(rfm):
    lapsed = rfm[rfm["group"] == "Lapsed"]

    assert len(lapsed) > 0
    assert lapsed["recency"].min() > 60


def test_new_customers_signed_up_recently_and_bought_once_or_twice(dataset, rfm):
    customers, _ = dataset
    new = customers[customers["group"] == "New customers"]

    assert (new["signup_date"] >= END_DATE - datetime.timedelta(days=60)).all()
    frequency = rfm.loc[rfm["group"] == "New customers", "frequency"]
    assert frequency.between(1, 3).all() and frequency.mean() < 2


def test_k_means_on_rfm_finds_the_planted_groups(rfm):
    # given log-scaled RFM, as a user would segment them
    features = np.log1p(rfm[["recency", "frequency"]].to_numpy(float))
    monetary = np.log1p(rfm["monetary"].clip(lower=0).to_numpy())
    matrix = StandardScaler().fit_transform(np.column_stack([features, monetary]))

    # when
    labels = KMeans(n_clusters=len(DEMO_GROUPS), n_init=10, random_state=0).fit_predict(matrix)

    # then clusters agree with the planted groups far beyond chance (ARI 0), not perfectly
    assert adjusted_rand_score(rfm["group"], labels) > 0.5


@pytest.mark.parametrize(
    "arguments",
    [{"n_customers": 0}, {"n_customers": 100_000_000}, {"seed": -1}, {"chunk_size": 0}],
)
def test_rejects_impossible_arguments(arguments):
    given = {"n_customers": 10, "seed": 0, "end_date": END_DATE, **arguments}

    with pytest.raises(ValueError):
        next(generate_demo_chunks(**given))
