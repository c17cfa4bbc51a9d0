"""campaigns.stats against hand computations (no database)."""

import math
from decimal import Decimal

import pytest

from campaigns import stats


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
    # unpooled se = sqrt(0.12 x 0.88 / 1000 + 0.05 x 0.95 / 100) = sqrt(0.0005806) = 0.0240957
    # 95 % CI = 0.07 -+ 1.959964 x 0.0240957 = (0.022773, 0.117227)
    assert result.difference_low == pytest.approx(0.022773, abs=1e-5)
    assert result.difference_high == pytest.approx(0.117227, abs=1e-5)
    # relative lift 0.12 / 0.05 - 1 = 1.4; Katz: ln 2.4 -+ 1.959964 sqrt(0.88/120 + 0.95/5)
    log_se = math.sqrt(0.88 / 120 + 0.95 / 5)  # 0.444448
    assert result.relative == pytest.approx(1.4)
    assert result.relative_low == pytest.approx(2.4 * math.exp(-1.959964 * log_se) - 1, abs=1e-5)  # 0.004
    assert result.relative_high == pytest.approx(2.4 * math.exp(1.959964 * log_se) - 1, abs=1e-4)  # 4.734


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
