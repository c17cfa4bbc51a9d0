"""campaigns.stats against hand computations (no database)."""

import math
from decimal import Decimal
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from campaigns import stats

Z95 = NormalDist().inv_cdf(0.975)


def score_by_likelihood(x1, n1, x2, n2, delta):
    """The score statistic of "p1 - p2 = delta", its rates under that hypothesis found by
    maximising the binomial likelihood numerically (not campaigns.stats' closed form)."""
    def minus_log_likelihood(q2):
        q1 = q2 + delta
        total = 0.0
        for x, n, q in ((x1, n1, q1), (x2, n2, q2)):
            q = min(max(q, 1e-15), 1 - 1e-15)
            total -= x * math.log(q) + (n - x) * math.log(1 - q)
        return total

    fit = minimize_scalar(minus_log_likelihood, bounds=(max(0.0, -delta), min(1.0, 1 - delta)), method="bounded",
                          options={"xatol": 1e-12})
    q2 = fit.x
    q1 = q2 + delta
    return (x1 / n1 - x2 / n2 - delta) / math.sqrt(q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2)


def ratio_score_by_likelihood(x1, n1, x2, n2, ratio):
    """The score statistic of "p1 = ratio x p2", its rates under that hypothesis found by
    maximising the binomial likelihood numerically."""
    def minus_log_likelihood(q2):
        total = 0.0
        for x, n, q in ((x1, n1, ratio * q2), (x2, n2, q2)):
            q = min(max(q, 1e-15), 1 - 1e-15)
            total -= x * math.log(q) + (n - x) * math.log(1 - q)
        return total

    q2 = minimize_scalar(minus_log_likelihood, bounds=(0.0, min(1.0, 1 / ratio)), method="bounded",
                         options={"xatol": 1e-12}).x
    q1 = ratio * q2
    return (x1 / n1 - ratio * x2 / n2) / math.sqrt(q1 * (1 - q1) / n1 + ratio * ratio * q2 * (1 - q2) / n2)


def test_lift_matches_a_hand_computed_two_proportion_z_test():
    # given 1,000 treated customers of whom 120 converted, and a holdout of 100 with 5
    result = stats.lift(120, 1000, 5, 100)
    # then, by hand:
    # p1 = 0.12, p2 = 0.05, difference 0.07
    assert result.treated_rate == pytest.approx(0.12)
    assert result.control_rate == pytest.approx(0.05)
    assert result.difference == pytest.approx(0.07)
    # pooled p = 125 / 1100 = 0.1136364; se = sqrt(p (1 - p) (1/1000 + 1/100)) = 0.0332859
    # z = 0.07 / 0.0332859 = 2.10299; two-sided p = 2 (1 - Phi(2.10299)) = 0.035467
    assert result.z == pytest.approx(2.10299, abs=1e-4)
    assert result.p_value == pytest.approx(0.035467, abs=1e-5)
    assert result.significant
    # the interval: the differences the score test at 95 % does not reject
    assert score_by_likelihood(120, 1000, 5, 100, result.difference_low) == pytest.approx(Z95, abs=1e-4)
    assert score_by_likelihood(120, 1000, 5, 100, result.difference_high) == pytest.approx(-Z95, abs=1e-4)
    assert 0 < result.difference_low < 0.07 < result.difference_high
    # relative lift 0.12 / 0.05 - 1 = 1.4, its interval the ratios the same score test accepts
    assert result.relative == pytest.approx(1.4)
    for bound, z in ((result.relative_low, Z95), (result.relative_high, -Z95)):
        assert ratio_score_by_likelihood(120, 1000, 5, 100, 1 + bound) == pytest.approx(z, abs=1e-4)
    assert 0 < result.relative_low < 1.4 < result.relative_high


def test_a_control_group_without_conversions_gets_an_interval_that_agrees_with_the_test():
    # given 26 of 500 treated converted (5.2 %) and none of a holdout of 58
    result = stats.lift(26, 500, 0, 58)
    # then the test does not reject "no difference" (p = 0.075) ...
    assert result.p_value == pytest.approx(0.0753, abs=1e-3)
    # ... and the interval says the same: it reaches below 0 (a Wald interval gave
    # [3.3, 7.1] points here, as if the control rate of 0 were known exactly)
    assert result.difference_low < 0 < result.difference_high
    assert not result.significant
    assert score_by_likelihood(26, 500, 0, 58, result.difference_low) == pytest.approx(Z95, abs=1e-4)
    assert score_by_likelihood(26, 500, 0, 58, result.difference_high) == pytest.approx(-Z95, abs=1e-4)


def test_the_relative_lift_interval_agrees_with_the_test_where_a_log_interval_did_not():
    # 39/58 against 15/17: p = 0.09, not significant, yet the Katz log interval of the
    # relative lift [-40.6 %, -2.2 %] excluded 0; 246/319 against 3/7 the other way round
    not_significant = stats.lift(39, 58, 15, 17)
    assert not not_significant.significant and not_significant.relative_low < 0 < not_significant.relative_high
    significant = stats.lift(246, 319, 3, 7)
    assert significant.significant and significant.relative_low > 0
    # no treated conversions: the ratio can be as low as 0 (-100 %)
    nobody = stats.lift(0, 100, 5, 100)
    assert nobody.relative_low == -1.0 and nobody.significant and nobody.relative_high < 0
    assert ratio_score_by_likelihood(0, 100, 5, 100, 1 + nobody.relative_high) == pytest.approx(-Z95, abs=1e-4)


def test_a_difference_interval_reaches_the_edge_when_everybody_or_nobody_converted():
    # given all 10 treated converted and none of 20 in control
    result = stats.lift(10, 10, 0, 20)
    # then the difference can be 100 points at most, and is clearly above 0
    assert result.difference_high == 1.0 and result.difference_low > 0.5 and result.significant
    assert score_by_likelihood(10, 10, 0, 20, result.difference_low) == pytest.approx(Z95, abs=1e-4)
    # nobody converted anywhere: an interval around 0, nothing significant
    nobody = stats.lift(0, 10, 0, 20)
    assert nobody.difference_low < 0 < nobody.difference_high and not nobody.significant


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400), st.data())
def test_significance_the_interval_and_the_p_value_never_contradict_each_other(n1, n2, data):
    x1 = data.draw(st.integers(0, n1))
    x2 = data.draw(st.integers(0, n2))
    result = stats.lift(x1, n1, x2, n2)
    assert result.difference_low <= result.difference <= result.difference_high
    excludes_zero = result.difference_low > 0 or result.difference_high < 0
    assert result.significant == excludes_zero
    if result.p_value is not None and abs(result.p_value - 0.05) > 1e-6:  # exactly on the line: rounding
        assert result.significant == (result.p_value < 0.05)
    if result.relative is not None:  # the relative lift's interval tells the same story
        assert result.relative_low <= result.relative <= result.relative_high
        if result.p_value is not None and abs(result.p_value - 0.05) > 1e-6:
            assert result.significant == (result.relative_low > 0 or result.relative_high < 0)


def test_no_lift_without_a_control_group_and_no_relative_lift_at_zero_control_rate():
    assert stats.lift(10, 100, 0, 0) is None
    result = stats.lift(10, 100, 0, 20)
    assert result.relative is None and result.difference == pytest.approx(0.1)


def test_nobody_converting_gives_no_test_statistic_instead_of_dividing_by_zero():
    result = stats.lift(0, 100, 0, 10)
    assert result.difference == 0 and result.z is None and result.p_value is None and not result.significant


def test_control_size_rounds_half_up_per_stratum():
    assert stats.control_size(25, Decimal("0.1")) == 3  # 2.5 -> 3
    assert stats.control_size(24, Decimal("0.1")) == 2  # 2.4 -> 2
    assert stats.control_size(0, Decimal("0.1")) == 0
    assert stats.control_size(7, "0.1250") == 1  # 0.875 -> 1
    assert stats.control_size(1000, 0) == 0


def test_wilson_interval_of_a_rate():
    # 10 of 100: Wilson 95 % interval (0.0552, 0.1744), from the textbook formula
    r = stats.rate(10, 100)
    assert r.rate == pytest.approx(0.1)
    assert r.low == pytest.approx(0.05523, abs=1e-4) and r.high == pytest.approx(0.17437, abs=1e-4)
    assert stats.rate(0, 0).rate is None
