"""Is the fitted P(alive) worth showing? (customers.analytics.clv_reliability, issue 14 item 2)"""

import os

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import gammaln

from customers.analytics.clv import CLVConfig, fit_clv
from customers.analytics.features import customer_features
from tests.customers.analytics.conftest import bgnbd_transactions, no_dropout_transactions, transactions
from tests.customers.analytics.test_clv import cdnow_summary

START = pd.Timestamp("2024-01-01", tz="UTC")
AS_OF = START + pd.Timedelta(days=400)


def summary_of(lines: pd.DataFrame, as_of=AS_OF, holdout_days=91) -> pd.DataFrame:
    return customer_features(lines, as_of=as_of, holdout_start=as_of - pd.Timedelta(days=holdout_days))


def test_customers_who_never_drop_out_get_no_chance_still_active():
    # given customers who all keep buying at their own steady pace (Online Retail's shape):
    # the drop-out part of BG/NBD has nothing to learn
    summary = summary_of(no_dropout_transactions(customers=1000, days=400, seed=3))

    # when the lifetime-value models are fitted
    result = fit_clv(summary, CLVConfig())

    # then the fit is judged not reliable, with reasons in words, and nobody gets a P(alive)
    report = result.diagnostics["reliability"]
    assert report["verdict"] == "not reliable" and report["p_alive_reliable"] is False
    assert any("almost no customer stops buying" in reason for reason in report["reasons"])
    assert any("no better than assuming that nobody ever stops" in reason for reason in report["reasons"])
    assert result.per_customer["p_alive"].isna().all()
    # long-silent customers were the ones shown as ~100% active before
    params = result.bgnbd_params
    assert report["dropout_per_purchase"] == pytest.approx(params["a"] / (params["a"] + params["b"]))
    # expected purchases and lifetime value are still given (they do not need the drop-out)
    ok = result.per_customer["clv_status"] == "ok"
    assert ok.sum() > 500 and result.per_customer.loc[ok, "expected_purchases"].notna().all()


def test_data_from_the_bgnbd_story_is_reliable_and_keeps_p_alive():
    summary = summary_of(bgnbd_transactions(customers=1000, days=400, seed=3))
    result = fit_clv(summary, CLVConfig())
    report = result.diagnostics["reliability"]
    assert report["verdict"] == "reliable" and report["reasons"] == []
    seasoned = result.per_customer["clv_status"] != "no purchases"
    assert result.per_customer.loc[seasoned, "p_alive"].notna().mean() > 0.9
    assert report["holdout"]["silent_customers"] > 0


def _nbd_log_likelihood(frequency, age) -> float:
    """Written independently of clv_reliability: the NBD (Poisson purchases, gamma rates)
    likelihood of x purchases in T, maximised with L-BFGS-B on the raw parameters."""
    def negative(params):
        r, alpha = params
        return -np.sum(gammaln(r + frequency) - gammaln(r) + r * np.log(alpha) - (r + frequency) * np.log(alpha + age))
    best = minimize(negative, [0.5, 5.0], method="L-BFGS-B", bounds=[(1e-4, 100), (1e-4, 1e4)])
    return -best.fun


def test_cdnow_is_reliable_with_strong_evidence_of_drop_out():
    summary = cdnow_summary()
    result = fit_clv(summary, CLVConfig(horizon_days=39, min_history_days=0))
    report = result.diagnostics["reliability"]
    assert report["verdict"] == "reliable"
    # the published parameters' mean drop-out after a purchase: 0.793 / (0.793 + 2.426)
    assert report["dropout_per_purchase"] == pytest.approx(0.793 / (0.793 + 2.426), rel=2e-2)
    # the likelihood-ratio statistic against "nobody drops out", recomputed here
    no_dropout = _nbd_log_likelihood(summary["clv_frequency"].to_numpy(), summary["clv_T"].to_numpy())
    assert report["no_dropout_log_likelihood"] == pytest.approx(no_dropout, abs=0.05)
    assert report["dropout_evidence"] == pytest.approx(2 * (result.diagnostics["log_likelihood"] - no_dropout), abs=0.1)
    assert result.per_customer["p_alive"].notna().all()
    assert report["holdout"] is None and "no calibration period" in report["holdout_note"]


def cdnow_transactions() -> pd.DataFrame:
    """CDNOW's 2,357 customers' purchases, 1997-01-01 to 1998-06-30 (shipped in lifetimes)."""
    import lifetimes.datasets

    path = os.path.join(os.path.dirname(lifetimes.datasets.__file__), "CDNOW_sample.txt")
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=["master_id", "customer_id", "date", "cds", "amount"])
    rows = [(c, f"{c}-{i}", pd.Timestamp(str(d)) + pd.Timedelta(hours=12), q, a, "cd", "music", "mail", False)
            for i, (c, d, q, a) in enumerate(raw[["customer_id", "date", "cds", "amount"]].itertuples(index=False))]
    return transactions(rows).sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)


def test_cdnow_holdout_counts_the_last_quarters_purchase_days_and_passes():
    lines = cdnow_transactions()
    as_of = pd.Timestamp("1998-07-01", tz="UTC")
    result = fit_clv(summary_of(lines, as_of=as_of), CLVConfig())

    # the holdout: customers who bought before 1998-04-01 (91 days before as_of), and their
    # purchase days from then on, counted here with plain pandas (a purchase has a positive
    # amount: CDNOW has a few 0.00 lines)
    cut = as_of - pd.Timedelta(days=91)
    days = lines[lines["amount"] > 0].assign(day=lines["timestamp"].dt.floor("D"))[["customer_id", "day"]].drop_duplicates()
    known = days.loc[days["day"] < cut, "customer_id"].unique()
    after = days[(days["day"] >= cut) & days["customer_id"].isin(known)]
    holdout = result.diagnostics["reliability"]["holdout"]
    assert holdout["customers"] == len(known)
    assert holdout["actual_repeat_purchases"] == len(after)
    # and the model, refitted on the time before, predicts it within the tolerance
    assert 0.5 < holdout["predicted_repeat_purchases"] / holdout["actual_repeat_purchases"] < 2
    assert result.diagnostics["reliability"]["verdict"] == "reliable"


def test_a_fit_that_the_last_quarter_contradicts_is_not_reliable():
    # given customers from the BG/NBD story whose purchases stop for everyone 91 days
    # before as_of (a shop that closed): the fit before the cut expects them to go on
    lines = bgnbd_transactions(customers=1000, days=400, seed=3)
    lines = lines[lines["timestamp"] < AS_OF - pd.Timedelta(days=91)]

    result = fit_clv(summary_of(lines), CLVConfig())

    report = result.diagnostics["reliability"]
    assert report["holdout"]["actual_repeat_purchases"] == 0
    assert report["holdout"]["predicted_repeat_purchases"] > 100
    assert report["verdict"] == "not reliable"
    assert any(reason.startswith("Tested on the last 91 days") for reason in report["reasons"])
    assert result.per_customer["p_alive"].isna().all()


def test_too_short_a_history_skips_the_holdout_and_says_so():
    lines = bgnbd_transactions(customers=400, days=200, seed=2)
    result = fit_clv(summary_of(lines, as_of=START + pd.Timedelta(days=200)), CLVConfig())
    report = result.diagnostics["reliability"]
    assert report["holdout"] is None
    assert "span less than 182 days" in report["holdout_note"]


def test_weeks_or_days_is_the_same_fit_and_the_same_verdict():
    # docs/clv.md: fitting the same summary in weeks instead of days is no better conditioned,
    # because BG/NBD's likelihood is scale-equivariant (and lifetimes rescales time itself)
    weeks = cdnow_summary()
    days = weeks.assign(clv_recency=weeks["clv_recency"] * 7, clv_T=weeks["clv_T"] * 7)
    in_weeks = fit_clv(weeks, CLVConfig(horizon_days=39, min_history_days=0))
    in_days = fit_clv(days, CLVConfig(horizon_days=39 * 7, min_history_days=0))
    for name in ("r", "a", "b"):
        assert in_days.bgnbd_params[name] == pytest.approx(in_weeks.bgnbd_params[name], rel=1e-3), name
    assert in_days.bgnbd_params["alpha"] == pytest.approx(in_weeks.bgnbd_params["alpha"] * 7, rel=1e-3)
    weekly, daily = in_weeks.diagnostics["reliability"], in_days.diagnostics["reliability"]
    for name in ("dropout_per_purchase", "dropout_evidence", "relative_se_a", "relative_se_b"):
        assert daily[name] == pytest.approx(weekly[name], rel=1e-2), name
    np.testing.assert_allclose(in_days.per_customer["p_alive"], in_weeks.per_customer["p_alive"], atol=1e-3)
