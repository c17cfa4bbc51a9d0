"""Is a BG/NBD fit's P(alive) worth showing? Checks on a fitted model, and the verdict.

BG/NBD can converge to a fit that says nothing about drop-out: on Online Retail (a
wholesaler's year) it finds a ≈ 0.004, so that after a purchase 1 customer in ~1,700 drops
out, and P(alive) stays above 90% for customers silent for half a year. The optimiser
reports success; the fit is simply uninformative. These checks say so, in words:

* **drop-out near zero**: the mean chance of dropping out after a purchase, a / (a + b),
  below `DROPOUT_FLOOR`.
* **no evidence of drop-out**: twice the log-likelihood gain of BG/NBD over the same model
  with nobody ever dropping out (the NBD, its a -> 0 limit) below `LR_CRITICAL`: the
  likelihood is flat along the drop-out parameters, so the data cannot tell drop-out from
  none.
* **drop-out not pinned down**: the relative standard error of a or b (from the fit's own
  Hessian, lifetimes' `standard_errors_`) above `MAX_RELATIVE_SE`.
* **holdout** (when the data spans enough time): the model refitted without the last
  `holdout_days` predicts that period's repeat purchases, overall and among the customers
  who had been silent for `SILENT_DAYS`; off by more than a factor of `MAX_HOLDOUT_RATIO`
  fails.

Any failed check makes P(alive) unreliable: fit_clv then gives no P(alive) (NaN) and the
pages and API say why. Expected purchases and CLV are still given, with the reasons.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln

# Below 1% drop-out per purchase a customer needs ~70 purchases before half of those with
# that history would be gone: P(alive) then hardly moves with silence (CDNOW: 25%).
DROPOUT_FLOOR = 0.01
# The 5% critical value of a chi-square with one degree of freedom. a -> 0 is on the
# boundary, where the test's own 5% point is lower (2.71): 3.84 errs towards "no evidence".
LR_CRITICAL = 3.84
# A standard error above the estimate itself: the 95% interval runs from 0 to several times
# the value, so the data do not say how fast customers drop out (CDNOW: 0.18 and 0.24;
# Online Retail: 2.7 and 3.1).
MAX_RELATIVE_SE = 1.0
# Predictions within a factor of 2 of what happened pass: BG/NBD's own validations (CDNOW,
# 39-week holdout) miss by 10-25% in aggregate, and a fit that cannot see drop-out misses
# long-silent customers by far more.
MAX_HOLDOUT_RATIO = 2.0
# "Long silent": no purchase for four months, the point where a marketer calls a customer
# lapsing, and where P(alive) should have fallen.
SILENT_DAYS = 120
# Fewer customers than this in the long-silent group: their return share is too noisy to judge.
MIN_SILENT_GROUP = 30
# A 1-in-N share's difference below this is noise at the group sizes above.
MIN_SHARE_GAP = 0.1

RELIABLE = "reliable"
NOT_RELIABLE = "not reliable"


def no_dropout_log_likelihood(frequency, age) -> tuple[float, dict[str, float]]:
    """The best log-likelihood of the NBD (BG/NBD with nobody dropping out), fitted by
    maximum likelihood over r and alpha, in the data's time unit, and those parameters."""
    # identical (x, T) rows as one row with a weight, as the BG/NBD fit does: same sum, fewer terms
    rows, weights = np.unique(np.column_stack([np.asarray(frequency, dtype="float64"), np.asarray(age, dtype="float64")]),
                              axis=0, return_counts=True)
    x, t = rows[:, 0], rows[:, 1]

    def negative(log_params):
        r, alpha = np.exp(log_params)
        terms = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + t)
        return -float(np.dot(weights, terms))

    # start from the method of moments: the mean rate is r / alpha
    start = np.log([1.0, max(float(np.average(t, weights=weights)) / max(float(np.average(x, weights=weights)), 1e-9), 1e-6)])
    result = minimize(negative, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 4000})
    r, alpha = np.exp(result.x)
    return -float(result.fun), {"r": float(r), "alpha": float(alpha)}


def fit_checks(params: dict[str, float], log_likelihood: float, relative_se: dict[str, float],
               frequency, age) -> tuple[dict[str, object], list[str]]:
    """The drop-out checks on a fitted model: (numbers for the diagnostics, reasons it fails)."""
    a, b = params["a"], params["b"]
    dropout = a / (a + b)
    no_dropout, _ = no_dropout_log_likelihood(frequency, age)
    evidence = max(2.0 * (log_likelihood - no_dropout), 0.0)
    checks = {
        "dropout_per_purchase": dropout,
        "no_dropout_log_likelihood": no_dropout,
        "dropout_evidence": evidence,
        "relative_se_a": relative_se["a"],
        "relative_se_b": relative_se["b"],
    }
    reasons = []
    if dropout < DROPOUT_FLOOR:
        one_in = f"1 in {1 / dropout:,.0f}" if dropout > 1e-4 else "fewer than 1 in 10,000"
        reasons.append(f"The model found that almost no customer stops buying ({one_in} after a purchase), "
                       f"so its chance that a customer is still active hardly falls however long they have been silent.")
    if evidence < LR_CRITICAL:
        reasons.append("Letting customers stop buying explains these purchases no better than assuming that "
                       "nobody ever stops: the data do not show how customers drop out.")
    # NaN (a Hessian that cannot be inverted) pins nothing down either
    if not all(relative_se[name] <= MAX_RELATIVE_SE for name in ("a", "b")):
        reasons.append("How fast customers drop out is not pinned down by this data (its uncertainty is "
                       "larger than the estimate itself).")
    return checks, reasons


def holdout_checks(*, predicted_purchases, actual_purchases, predicted_return, actual_returned, p_alive,
                   silent, holdout_days: int) -> tuple[dict[str, object], list[str]]:
    """Compare a calibration-period fit's predictions for the holdout with what happened.
    Arrays per calibration customer; `silent` marks the long-silent repeat buyers."""
    predicted_total, actual_total = float(np.sum(predicted_purchases)), float(np.sum(actual_purchases))
    n_silent = int(np.sum(silent))
    checks: dict[str, object] = {
        "holdout_days": holdout_days,
        "customers": len(predicted_purchases),
        "predicted_repeat_purchases": predicted_total,
        "actual_repeat_purchases": actual_total,
        "silent_days": SILENT_DAYS,
        "silent_customers": n_silent,
        "silent_mean_p_alive": float(np.mean(p_alive[silent])) if n_silent else None,
        "silent_predicted_return_share": float(np.mean(predicted_return[silent])) if n_silent else None,
        "silent_actual_return_share": float(np.mean(actual_returned[silent])) if n_silent else None,
    }
    reasons = []
    if _off_by_more_than(predicted_total, actual_total, MAX_HOLDOUT_RATIO):
        reasons.append(f"Tested on the last {holdout_days} days, the model fitted on the time before them "
                       f"predicted {predicted_total:,.0f} repeat purchases; there were {actual_total:,.0f}.")
    if n_silent >= MIN_SILENT_GROUP:
        predicted_share = checks["silent_predicted_return_share"]
        actual_share = checks["silent_actual_return_share"]
        if (abs(predicted_share - actual_share) > MIN_SHARE_GAP
                and _off_by_more_than(predicted_share, actual_share, MAX_HOLDOUT_RATIO)):
            reasons.append(
                f"Of the {n_silent:,} repeat customers silent for {SILENT_DAYS}+ days before the last "
                f"{holdout_days} days, the model expected {predicted_share:.0%} to buy again in them; "
                f"{actual_share:.0%} did.")
    return checks, reasons


def return_probability(params: dict[str, float], p_alive, frequency, age, days: float) -> np.ndarray:
    """P(at least one purchase in the next `days`): alive, times no purchase being unlikely at
    the customer's posterior rate (Gamma(r + x, alpha + T) under BG/NBD)."""
    r, alpha = params["r"], params["alpha"]
    x, t = np.asarray(frequency, dtype="float64"), np.asarray(age, dtype="float64")
    none_if_alive = ((alpha + t) / (alpha + t + days)) ** (r + x)
    return np.asarray(p_alive, dtype="float64") * (1.0 - none_if_alive)


def verdict(reasons: list[str]) -> dict[str, object]:
    return {"verdict": NOT_RELIABLE if reasons else RELIABLE, "p_alive_reliable": not reasons, "reasons": reasons}


def _off_by_more_than(predicted: float, actual: float, factor: float) -> bool:
    if actual <= 0 or predicted <= 0:
        return (actual > 0) != (predicted > 0)
    return max(predicted / actual, actual / predicted) > factor
