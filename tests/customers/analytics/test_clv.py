import numpy as np
import pandas as pd
import pytest

from customers.analytics.clv import CLVConfig, CLVFitError, fit_clv
from customers.analytics.features import customer_features
from customers.analytics.rfm import rfm_scores
from tests.customers.analytics.conftest import bgnbd_transactions, transactions


def cdnow_summary() -> pd.DataFrame:
    """The CDNOW sample (2,357 customers, 39-week calibration, weeks), shipped in lifetimes."""
    # imported here, after customers.analytics.clv has silenced lifetimes' import warning
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    frame = load_cdnow_summary_data_with_monetary_value()
    return frame.rename(columns={
        "frequency": "clv_frequency", "recency": "clv_recency", "T": "clv_T", "monetary_value": "clv_monetary",
    })


def test_reproduces_fader_hardie_lee_2005_on_cdnow():
    # weeks as the time unit, so no history minimum
    result = fit_clv(cdnow_summary(), CLVConfig(horizon_days=39, min_history_days=0))

    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert result.bgnbd_params[name] == pytest.approx(value, rel=1e-2), name
    assert result.diagnostics["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert result.diagnostics["n_fitted"] == 2357
    # Gamma-Gamma on the repeat buyers (Fader, Hardie and Lee, "RFM and CLV", 2005)
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert result.gg_params[name] == pytest.approx(value, rel=1e-2), name
    assert result.diagnostics["gg_n_fitted"] == 946


def test_cdnow_predictions_for_known_customers():
    result = fit_clv(cdnow_summary(), CLVConfig(horizon_days=39, min_history_days=0)).per_customer
    # customer 1: 2 repeat purchases, last at week 30.43 of 38.86
    assert result.loc[1, "p_alive"] == pytest.approx(0.7266, abs=1e-3)
    assert result.loc[1, "expected_purchases"] == pytest.approx(1.2259, abs=1e-3)
    assert result.loc[1, "clv_status"] == "ok"
    # customer 3: no repeat purchase: still alive by the model, but no spend estimate
    assert result.loc[3, "p_alive"] == 1.0
    assert np.isnan(result.loc[3, "clv"]) and result.loc[3, "clv_status"] == "not enough data"


def test_discounting_lowers_the_value():
    summary = cdnow_summary()
    plain = fit_clv(summary, CLVConfig(horizon_days=52, min_history_days=0, discount_rate_annual=0.0)).per_customer
    discounted = fit_clv(summary, CLVConfig(horizon_days=52, min_history_days=0)).per_customer
    ok = plain["clv_status"] == "ok"
    # undiscounted CLV is exactly expected purchases times expected value
    np.testing.assert_allclose(plain.loc[ok, "clv"], plain.loc[ok, "expected_purchases"] * plain.loc[ok, "expected_avg_value"])
    assert (discounted.loc[ok, "clv"] < plain.loc[ok, "clv"]).all()


def test_fit_sample_is_seeded_and_bounded():
    config = CLVConfig(horizon_days=39, min_history_days=0, fit_sample=1_000, seed=7)
    first = fit_clv(cdnow_summary(), config)
    second = fit_clv(cdnow_summary(), config)
    assert first.diagnostics["n_fitted"] == 1_000
    assert first.bgnbd_params == second.bgnbd_params
    # predictions still cover every customer
    assert first.per_customer["p_alive"].notna().all()


def test_no_repeat_purchase_anywhere_is_a_readable_error():
    summary = pd.DataFrame({"clv_frequency": [0.0] * 30, "clv_recency": [0.0] * 30, "clv_T": [60.0] * 30, "clv_monetary": [0.0] * 30})
    with pytest.raises(CLVFitError, match="repeat purchase"):
        fit_clv(summary)


def test_single_purchase_and_returns_only_customers_through_the_whole_path():
    # given a population of random customers, plus customer 9001 who bought once 100 days
    # before as_of, 9002 who only returned things, and 9003 whose first purchase is 10 days old
    as_of = pd.Timestamp("2025-03-01", tz="UTC")
    population = bgnbd_transactions(customers=400, days=400, seed=5, start="2024-01-25")
    extra = transactions([
        (9001, "S1", "2024-11-21 12:00", 1, 25.0, "p1", "c1", "online", False),
        (9002, "R1", "2024-12-01 12:00", -1, -25.0, "p1", "c1", "online", False),
        (9003, "N1", "2025-02-19 12:00", 1, 40.0, "p1", "c1", "store", False),
        (9003, "N2", "2025-02-25 12:00", 1, 40.0, "p1", "c1", "store", False),
    ])
    frame = pd.concat([population, extra], ignore_index=True)

    # when features, RFM and CLV are computed
    features = customer_features(frame, as_of=as_of)
    rfm = rfm_scores(features)
    clv = fit_clv(features[["clv_frequency", "clv_recency", "clv_T", "clv_monetary"]], CLVConfig(seed=1)).per_customer

    # then the single purchase is scored F 1, has P(alive) and expected purchases, no spend estimate
    assert features.loc[9001, ["frequency", "clv_frequency", "clv_recency", "clv_T"]].tolist() == [1, 0, 0, 100]
    assert rfm.loc[9001, "f_score"] == 1
    assert rfm.loc[9001, "rfm_segment"] in {"Hibernating", "Lost", "About to Sleep", "Promising"}
    assert clv.loc[9001, "p_alive"] == 1.0  # BG/NBD: nobody drops out before a repeat purchase
    assert 0 < clv.loc[9001, "expected_purchases"] < 10
    assert clv.loc[9001, "clv_status"] == "not enough data" and np.isnan(clv.loc[9001, "clv"])
    # the returns-only customer has no purchases anywhere
    assert features.loc[9002, "frequency"] == 0 and features.loc[9002, "monetary"] == -25.0
    assert rfm.loc[9002, "rfm_segment"] == "No purchases" and pd.isna(rfm.loc[9002, "r_score"])
    assert clv.loc[9002, "clv_status"] == "no purchases"
    assert clv.loc[9002, ["p_alive", "expected_purchases", "expected_avg_value", "clv"]].isna().all()
    # the new customer (first purchase 10 days ago, under min_history_days) gets no numbers
    assert clv.loc[9003, "clv_status"] == "not enough data"
    assert clv.loc[9003, ["p_alive", "expected_purchases", "clv"]].isna().all()
    # and the regular customers mostly get a value
    ok = clv["clv_status"] == "ok"
    assert ok.sum() > 100 and (clv.loc[ok, "clv"] > 0).all()
    assert ((clv.loc[ok, "p_alive"] >= 0) & (clv.loc[ok, "p_alive"] <= 1)).all()


def test_the_demo_datas_spend_gets_a_penalised_fit_when_plain_likelihood_does_not_converge():
    """make run's demo data mixes big and small spenders: plain maximum likelihood does not
    converge on its spend, the retry with a small penalty does, and customers get a CLV."""
    import datetime

    from customers.analytics.features import customer_features
    from customers.synthetic import generate_demo_chunks

    chunk = next(generate_demo_chunks(n_customers=5000, seed=0, end_date=datetime.date(2026, 11, 1)))
    lines = chunk.transactions.rename(columns={"customer_external_id": "customer_id"})
    lines["customer_id"] = lines["customer_id"].str.slice(1).astype("int64")
    lines["is_cancellation"] = False
    features = customer_features(lines, as_of=pd.Timestamp("2026-11-02", tz="UTC"))
    result = fit_clv(features, CLVConfig())
    assert "penalty of 0.001" in result.diagnostics["gg_message"]
    assert result.gg_params["q"] > 1
    ok = result.per_customer["clv_status"] == "ok"
    assert ok.sum() > 1000 and (result.per_customer.loc[ok, "clv"] > 0).all()


def test_the_summary_is_lifetimes_own_summary_of_the_purchase_occasions():
    # Online Retail's fit has a ≈ 0.004 (customer 17850, two purchase days then a year of
    # silence, keeps P(alive) 98%). That is the model on that data, not the summary: fed the
    # same purchase occasions, lifetimes' summary_data_from_transaction_data gives the same
    # frequency, recency and T (checked on Online Retail too: all 4,338 customers equal).
    from lifetimes.utils import summary_data_from_transaction_data

    from tests.customers.analytics.conftest import random_transactions

    lines = random_transactions(customers=60, lines=3_000, seed=4)
    as_of = pd.Timestamp("2025-03-01", tz="UTC")
    ours = customer_features(lines, as_of=as_of)
    invoices = lines.groupby(["customer_id", "invoice_id"]).agg(
        time=("timestamp", "min"), net=("amount", "sum"), cancelled=("is_cancellation", "any")).reset_index()
    occasions = invoices[(invoices["net"] > 0) & ~invoices["cancelled"]]
    theirs = summary_data_from_transaction_data(
        occasions.assign(time=occasions["time"].dt.tz_localize(None)), "customer_id", "time",
        observation_period_end=as_of.tz_localize(None), freq="D")
    ours = ours.loc[theirs.index]
    assert len(theirs) > 40
    assert ours["clv_frequency"].tolist() == theirs["frequency"].tolist()
    assert ours["clv_recency"].tolist() == theirs["recency"].tolist()
    assert ours["clv_T"].tolist() == theirs["T"].tolist()
