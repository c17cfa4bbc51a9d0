"""Customer lifetime value: BG/NBD (will they buy again, how often) and Gamma-Gamma (how
much per purchase), both fitted by maximum likelihood, on the clv_* summary columns that
customer_features makes (time unit: days).

Library: `lifetimes` 0.11.3 (MIT). Its last release is from 2020 and the project is in
maintenance mode, but on this stack (numpy 2.4, pandas 3.1, scipy 1.17) it imports, fits
and reproduces the published CDNOW parameters of Fader, Hardie and Lee (2005) to four digits
(tests/customers/analytics/test_clv.py). It adds two small pure-Python dependencies
(autograd for exact gradients, dill). pymc-marketing's CLV module was the alternative: the
same models with an up-to-date codebase, but it brings pymc, pytensor (which compiles C at
run time) and arviz into a web app's worker for what is, here, a four-parameter optimisation.
Known rough edges of lifetimes, handled here: it sets a pandas option that pandas 4 will
remove (a warning at import today, silenced below; an import error on pandas 4, when this
module must move to pymc-marketing or to the closed-form likelihoods with scipy), it turns
FutureWarnings off process-wide while fitting (the fits run inside catch_warnings, which
restores the filters), it prints the optimiser's report when a fit fails (captured), and
its q_constraint Gamma-Gamma path uses an L-BFGS-B option scipy 1.18 removes (not used).
docs/clv.md says the same for readers of the docs.

Which customers get a number (`clv_status`)
-------------------------------------------
* "no purchases": no purchase occasion (clv_T is NaN). Every number NaN; not fitted.
* "not enough data": either clv_T < `min_history_days` (too new: every number NaN; such
  customers still take part in the BG/NBD fit, whose likelihood accounts for their short
  history), or fewer than `min_repeat_purchases` repeat purchase days or a non-positive
  clv_monetary (p_alive and expected_purchases are given; expected_avg_value and clv NaN,
  since the spend model only learns from repeat purchases), or the Gamma-Gamma fit failed.
* "ok": every number given.

Whether P(alive) means anything (`diagnostics["reliability"]`)
----------------------------------------------------------------
clv_reliability checks the fitted BG/NBD (drop-out near zero, no likelihood evidence of
drop-out, drop-out not pinned down, and a holdout test when the summary has the clv_cal_*
columns). When any check fails the verdict is "not reliable", its reasons are sentences for
the pages, and every p_alive is NaN; expected purchases and CLV are still given.

clv is the discounted margin-free value of the next `horizon_days`: expected purchases in
each 30-day step times the expected average purchase value, each step discounted to as_of
at `discount_rate_annual` from the step's end.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import gammaln

from customers.analytics import clv_reliability as reliability

with warnings.catch_warnings():
    # lifetimes sets pandas' removed chained_assignment option at import
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import ConvergenceError

STATUS_OK = "ok"
STATUS_NOT_ENOUGH_DATA = "not enough data"
STATUS_NO_PURCHASES = "no purchases"
# Discounting steps: a month is the usual CLV period (lifetimes' own default) and keeps the
# number of BG/NBD evaluations at 13 for a year whatever the number of customers.
STEP_DAYS = 30
DAYS_PER_YEAR = 365.0


# When plain maximum likelihood does not converge on the spend model (spend per purchase far
# from gamma-shaped, as in mixtures of big and small spenders) or on BG/NBD (drop-out running
# off to zero), one retry with this small L2 penalty, as lifetimes itself suggests; the
# diagnostics say so (gg_message, bgnbd_message).
RETRY_PENALIZER = 0.001


class CLVFitError(Exception):
    """The BG/NBD model cannot be fitted; the message says why in words."""


@dataclass(frozen=True)
class CLVConfig:
    horizon_days: int = 365
    # 10% a year: a usual cost of capital for a retailer and the common default in CLV
    # write-ups (lifetimes' examples use 1% a month, about 12.7% a year).
    discount_rate_annual: float = 0.10
    # Below a month of history P(alive) is 1 by construction and the expectations are the
    # population's: a number would look precise and say nothing about the customer.
    min_history_days: float = 30.0
    # The spend model (Gamma-Gamma) learns a customer's spend from repeat purchases only.
    min_repeat_purchases: int = 1
    # Fitting on a seeded sample keeps the fit at a few seconds for millions of customers;
    # 200,000 customers pin four parameters far tighter than the model is right.
    fit_sample: int = 200_000
    # Fewer customers than this (or none with a repeat purchase) cannot identify the model.
    min_fit_customers: int = 20
    # lifetimes' L2 penalty on the parameters; 0 is plain maximum likelihood.
    penalizer: float = 0.0
    seed: int = 0
    # The holdout test of the fit (clv_reliability): refit without the last quarter, the
    # season a marketer plans in, long enough for a customer buying quarterly to show up...
    holdout_days: int = 91
    # ...when at least two quarters come before it (fewer cannot show anyone's drop-out).
    min_calibration_days: float = 182.0


@dataclass
class CLVResult:
    bgnbd_params: dict[str, float]  # r, alpha (days), a, b
    gg_params: dict[str, float]  # p, q, v (NaN when the spend model could not be fitted)
    diagnostics: dict[str, object]
    # index as the summary; p_alive, expected_purchases, expected_avg_value, clv, clv_status
    per_customer: pd.DataFrame = field(repr=False)


def fit_clv(summary: pd.DataFrame, config: CLVConfig = CLVConfig()) -> CLVResult:
    """Fit BG/NBD and Gamma-Gamma on `summary` (columns clv_frequency, clv_recency, clv_T,
    clv_monetary; one row per customer) and predict for every row. Raises CLVFitError when
    the BG/NBD model cannot be fitted (too few customers, no repeat purchase, no convergence)."""
    frequency = summary["clv_frequency"].to_numpy(dtype="float64", na_value=np.nan)
    recency = summary["clv_recency"].to_numpy(dtype="float64", na_value=np.nan)
    age = summary["clv_T"].to_numpy(dtype="float64", na_value=np.nan)
    monetary = summary["clv_monetary"].to_numpy(dtype="float64", na_value=np.nan)

    purchased = ~np.isnan(age) & ~np.isnan(frequency) & ~np.isnan(recency)
    if np.any(recency[purchased] > age[purchased]):
        raise CLVFitError("Some customers' last purchase falls after the as-of date: compute the summary as of a later date.")
    n_purchased = int(purchased.sum())
    if n_purchased < config.min_fit_customers:
        raise CLVFitError(f"{n_purchased} customers with a purchase; the CLV model needs at least {config.min_fit_customers}.")
    if not np.any(frequency[purchased] > 0):
        raise CLVFitError("No customer has a repeat purchase, so the CLV model cannot learn how often customers buy.")

    rng = np.random.default_rng(config.seed)
    fit_rows = np.flatnonzero(purchased)
    if len(fit_rows) > config.fit_sample:
        fit_rows = np.sort(rng.choice(fit_rows, size=config.fit_sample, replace=False))

    bgf = _fit_bgnbd(frequency[fit_rows], recency[fit_rows], age[fit_rows], config)
    diagnostics: dict[str, object] = {
        "n_customers": len(summary),
        "n_purchased": n_purchased,
        "n_fitted": len(fit_rows),
        "log_likelihood": bgnbd_log_likelihood(bgf.params_, frequency[fit_rows], recency[fit_rows], age[fit_rows]),
        "converged": True,
        "bgnbd_message": (f"The plain maximum-likelihood fit did not converge; fitted with an L2 penalty of "
                          f"{RETRY_PENALIZER} on the parameters." if bgf.penalized else ""),
    }

    spend_rows = fit_rows[(frequency[fit_rows] >= max(config.min_repeat_purchases, 1)) & (monetary[fit_rows] > 0)]
    ggf, gg_message = _fit_gamma_gamma(frequency[spend_rows], monetary[spend_rows], config)
    diagnostics.update(
        gg_n_fitted=len(spend_rows),
        gg_converged=ggf is not None,
        gg_message=gg_message,
        # Gamma-Gamma assumes spend per purchase independent of the number of purchases;
        # a correlation far from 0 says its numbers are less trustworthy
        gg_frequency_monetary_corr=(
            float(np.corrcoef(frequency[spend_rows], monetary[spend_rows])[0, 1]) if len(spend_rows) > 2 else float("nan")
        ),
    )
    diagnostics["converged"] = ggf is not None
    diagnostics["reliability"] = _reliability(bgf, diagnostics["log_likelihood"], summary, fit_rows, config)

    per_customer = _predict(bgf, ggf, frequency, recency, age, monetary, purchased, config)
    per_customer.index = summary.index
    if not diagnostics["reliability"]["p_alive_reliable"]:
        # not a probability anyone should read: no number rather than a confident wrong one
        per_customer["p_alive"] = np.nan
    diagnostics["status_counts"] = per_customer["clv_status"].value_counts().to_dict()
    gg_params = dict(ggf.params_) if ggf is not None else {"p": np.nan, "q": np.nan, "v": np.nan}
    return CLVResult(
        bgnbd_params={k: float(v) for k, v in bgf.params_.items()},
        gg_params={k: float(v) for k, v in gg_params.items()},
        diagnostics=diagnostics,
        per_customer=per_customer,
    )


def bgnbd_log_likelihood(params, frequency, recency, age) -> float:
    """The BG/NBD log-likelihood (Fader, Hardie and Lee 2005, eq. 6) in the data's own time
    unit. lifetimes reports it on internally rescaled times, which shifts it by a constant,
    so it is recomputed here to be comparable with the literature (CDNOW: -9582.4)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x = np.asarray(frequency, dtype="float64")
    common = (
        gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        + gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    )
    still_alive = -(r + x) * np.log(alpha + age)
    dropped = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + recency)
    # the "dropped out after the last purchase" term exists only for repeat buyers
    dropped = np.where(x > 0, dropped, -np.inf)
    return float(np.sum(common + np.logaddexp(still_alive, dropped)))


def _reliability(bgf, log_likelihood, summary, fit_rows, config: CLVConfig) -> dict[str, object]:
    """clv_reliability's checks on the fitted model, and the holdout test when `summary` has
    the clv_cal_* and clv_holdout_frequency columns (customer_features with holdout_start)."""
    columns = [summary[name].to_numpy(dtype="float64", na_value=np.nan)[fit_rows]
               for name in ("clv_frequency", "clv_T")]
    with np.errstate(all="ignore"), _quiet_fit():
        try:
            relative_se = (bgf.standard_errors_ / bgf.params_).to_dict()
        except np.linalg.LinAlgError:  # a singular Hessian: nothing is pinned down
            relative_se = {"a": np.inf, "b": np.inf}
    checks, reasons = reliability.fit_checks(dict(bgf.params_), log_likelihood, relative_se, *columns)
    holdout, holdout_reasons, holdout_note = _holdout(summary, config)
    report = reliability.verdict(reasons + holdout_reasons)
    report.update(checks, holdout=holdout, holdout_note=holdout_note)
    return report


def _holdout(summary, config: CLVConfig) -> tuple[dict | None, list[str], str]:
    names = ("clv_cal_frequency", "clv_cal_recency", "clv_cal_T", "clv_holdout_frequency")
    if not config.holdout_days or any(name not in summary for name in names):
        return None, [], "No holdout test: the summary has no calibration period."
    frequency, recency, age, actual = (summary[name].to_numpy(dtype="float64", na_value=np.nan) for name in names)
    rows = np.flatnonzero(~np.isnan(age) & ~np.isnan(frequency) & ~np.isnan(recency))
    if not len(rows) or np.max(age[rows]) < config.min_calibration_days:
        return None, [], (f"No holdout test: the purchases span less than {config.min_calibration_days:.0f} days "
                          f"before the last {config.holdout_days}.")
    if len(rows) < config.min_fit_customers or not np.any(frequency[rows] > 0):
        return None, [], "No holdout test: too few customers with a repeat purchase before the holdout period."
    if len(rows) > config.fit_sample:
        rows = np.sort(np.random.default_rng(config.seed).choice(rows, size=config.fit_sample, replace=False))
    f, r, t, actual = frequency[rows], recency[rows], age[rows], np.nan_to_num(actual[rows])
    try:
        bgf = _fit_bgnbd(f, r, t, config)
    except CLVFitError:
        return None, [f"Refitted without the last {config.holdout_days} days, to test it on them, the model did "
                      f"not converge: its drop-out estimate is unstable on this data."], ""
    with _quiet_fit():
        predicted = np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(config.holdout_days, f, r, t))
        p_alive = np.asarray(bgf.conditional_probability_alive(f, r, t), dtype="float64")
    checks, reasons = reliability.holdout_checks(
        predicted_purchases=predicted, actual_purchases=actual,
        predicted_return=reliability.return_probability(dict(bgf.params_), p_alive, f, t, config.holdout_days),
        actual_returned=actual > 0, p_alive=p_alive, silent=(f > 0) & (t - r >= reliability.SILENT_DAYS),
        holdout_days=config.holdout_days,
    )
    return checks, reasons, ""


def _fit_bgnbd(frequency, recency, age, config: CLVConfig) -> BetaGeoFitter:
    # identical (frequency, recency, T) rows become one row with a weight: day-resolution
    # summaries repeat a lot, and the weighted likelihood is the same sum
    rows, weights = _weighted_unique(np.column_stack([frequency, recency, age]))
    # plain maximum likelihood first; when the drop-out runs off to a = 0 (customers who never
    # seem to leave) it does not converge, and the small penalty keeps the fit finite, so that
    # clv_reliability can judge it (and expected purchases and CLV are still given)
    for penalizer in dict.fromkeys((config.penalizer, max(config.penalizer, RETRY_PENALIZER))):
        model = BetaGeoFitter(penalizer_coef=penalizer)
        try:
            with _quiet_fit():
                model.fit(rows[:, 0], rows[:, 1], rows[:, 2], weights=weights)
        except ConvergenceError as error:
            failure = error
            continue
        model.penalized = penalizer != config.penalizer
        return model
    raise CLVFitError("The BG/NBD model did not converge on this data.") from failure


def _fit_gamma_gamma(frequency, monetary, config: CLVConfig) -> tuple[GammaGammaFitter | None, str]:
    if len(frequency) < config.min_fit_customers:
        return None, f"{len(frequency)} customers with repeat purchases and positive spend; the spend model needs {config.min_fit_customers}."
    rows, weights = _weighted_unique(np.column_stack([frequency, monetary]))
    note = ""
    for penalizer in dict.fromkeys((config.penalizer, max(config.penalizer, RETRY_PENALIZER))):
        model = GammaGammaFitter(penalizer_coef=penalizer)
        try:
            with _quiet_fit():
                # not q_constraint=True: that path uses L-BFGS-B with an option scipy 1.18 drops
                model.fit(rows[:, 0], rows[:, 1], weights=weights)
        except ConvergenceError:
            continue
        if penalizer != config.penalizer:
            note = (f"The plain maximum-likelihood spend fit did not converge; fitted with an L2 "
                    f"penalty of {penalizer} on the parameters.")
        break
    else:
        return None, "The spend (Gamma-Gamma) model did not converge on this data."
    if model.params_["q"] <= 1:
        # the population mean spend, p v / (q - 1), is infinite then
        return None, "The spend (Gamma-Gamma) model fitted q <= 1: spend varies too much to predict."
    return model, note


def _predict(bgf, ggf, frequency, recency, age, monetary, purchased, config: CLVConfig) -> pd.DataFrame:
    n = len(frequency)
    p_alive = np.full(n, np.nan)
    expected_purchases = np.full(n, np.nan)
    expected_avg_value = np.full(n, np.nan)
    clv = np.full(n, np.nan)
    status = np.full(n, STATUS_NO_PURCHASES, dtype=object)

    seasoned = purchased & (age >= config.min_history_days)
    status[purchased & ~seasoned] = STATUS_NOT_ENOUGH_DATA
    rows = np.flatnonzero(seasoned)
    f, r, t = frequency[rows], recency[rows], age[rows]
    with _quiet_fit():
        p_alive[rows] = bgf.conditional_probability_alive(f, r, t)
        cumulative = [np.zeros(len(rows))]
        step_ends = [*range(STEP_DAYS, config.horizon_days, STEP_DAYS), config.horizon_days]
        for end in step_ends:
            cumulative.append(np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(end, f, r, t), dtype="float64"))
    expected_purchases[rows] = cumulative[-1]
    status[rows] = STATUS_NOT_ENOUGH_DATA

    spends = (frequency[rows] >= config.min_repeat_purchases) & (frequency[rows] > 0) & (monetary[rows] > 0)
    if ggf is not None and spends.any():
        value = np.asarray(ggf.conditional_expected_average_profit(f[spends], monetary[rows][spends]), dtype="float64")
        discounted_purchases = np.zeros(int(spends.sum()))
        for k, end in enumerate(step_ends, start=1):
            discount = (1 + config.discount_rate_annual) ** (-end / DAYS_PER_YEAR)
            discounted_purchases += (cumulative[k][spends] - cumulative[k - 1][spends]) * discount
        expected_avg_value[rows[spends]] = value
        clv[rows[spends]] = value * discounted_purchases
        status[rows[spends]] = STATUS_OK

    # a prediction the special functions could not evaluate is no number, not a wrong one
    broken = purchased & ~(np.isfinite(p_alive) | (status != STATUS_OK))
    broken |= (status == STATUS_OK) & ~(np.isfinite(expected_purchases) & np.isfinite(clv))
    for column in (p_alive, expected_purchases, expected_avg_value, clv):
        column[broken] = np.nan
    status[broken] = STATUS_NOT_ENOUGH_DATA
    return pd.DataFrame({
        "p_alive": p_alive,
        "expected_purchases": expected_purchases,
        "expected_avg_value": expected_avg_value,
        "clv": clv,
        "clv_status": pd.array(status, dtype="str"),
    })


def _weighted_unique(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    return unique, counts.astype("float64")


@contextlib.contextmanager
def _quiet_fit():
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", category=RuntimeWarning)
        yield
