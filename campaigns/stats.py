"""Campaign statistics: the holdout size rule, rates with intervals, and lift over the
holdout by a two-proportion score test with the interval that inverts it. Pure Python (no
Django, no database): the services feed it counts from SQL aggregates, and tests check it
against hand computations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist

# 95 % intervals: the confidence level marketing reports conventionally use.
CONFIDENCE = 0.95
# Holdout shares are held in basis points in SQL, so the per-stratum control count is
# exact integer arithmetic on PostgreSQL and SQLite alike (no float rounding of n * 0.1).
BASIS_POINTS = 10_000


def share_basis_points(share: Decimal | float | str) -> int:
    return int((Decimal(str(share)) * BASIS_POINTS).to_integral_value(rounding=ROUND_HALF_UP))


def control_size(members: int, share: Decimal | float | str) -> int:
    """How many of a stratum's `members` go to the control group: round(share x members),
    halves rounded up. The SQL in campaigns.services computes the same number as
    (members x basis points + 5,000) div 10,000."""
    return (members * share_basis_points(share) + BASIS_POINTS // 2) // BASIS_POINTS


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True)
class Rate:
    successes: int
    n: int
    rate: float | None
    low: float | None  # Wilson score interval: stays inside 0-1 and works at 0 successes
    high: float | None


def rate(successes: int, n: int, confidence: float = CONFIDENCE) -> Rate:
    if n <= 0:
        return Rate(successes, n, None, None, None)
    p = successes / n
    z = _z(confidence)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Rate(successes, n, p, max(0.0, centre - half), min(1.0, centre + half))


# Named on the results pages and in the API next to each lift interval.
DIFFERENCE_METHOD = "score method"
# Halvings of the search interval for a bound: 60 take [-1, 1] below 1e-17, past float precision.
BISECTIONS = 60


def _restricted_rates(p1: float, n1: int, p2: float, n2: int, delta: float) -> tuple[float, float]:
    """The maximum-likelihood rates of the two groups under "treated minus control is
    delta" (Miettinen & Nurminen 1985, closed form of the cubic's root in [0, 1])."""
    theta = n2 / n1
    a = 1 + theta
    b = -(1 + theta + p1 + theta * p2 + delta * (theta + 2))
    c = delta * delta + delta * (2 * p1 + theta + 1) + p1 + theta * p2
    d = -p1 * delta * (1 + delta)
    v = b ** 3 / (3 * a) ** 3 - b * c / (6 * a * a) + d / (2 * a)
    u = math.copysign(math.sqrt(max(0.0, b * b / (3 * a) ** 2 - c / (3 * a))), v)
    cosine = max(-1.0, min(1.0, v / u ** 3)) if u else 0.0
    r1 = 2 * u * math.cos((math.pi + math.acos(cosine)) / 3) - b / (3 * a)
    r1 = max(0.0, min(1.0, r1))
    r2 = max(0.0, min(1.0, r1 - delta))
    return r1, r2


def _score(x1: int, n1: int, x2: int, n2: int, delta: float) -> float:
    """The score statistic of "treated minus control is delta": observed difference minus
    delta over its standard error under that hypothesis. At delta 0 it is the pooled z."""
    p1, p2 = x1 / n1, x2 / n2
    r1, r2 = _restricted_rates(p1, n1, p2, n2, delta)
    excess = p1 - p2 - delta
    variance = r1 * (1 - r1) / n1 + r2 * (1 - r2) / n2
    if variance <= 0:
        return 0.0 if abs(excess) < 1e-12 else math.copysign(math.inf, excess)
    return excess / math.sqrt(variance)


def difference_interval(x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The interval of treated minus control rate that inverts the score test (Mee 1984):
    every difference the test at this confidence does not reject. Unlike a Wald interval
    it does not collapse when a group has no (or only) successes, and it excludes 0
    exactly when the pooled two-proportion z-test rejects "no difference"."""
    z_crit = _z(confidence)
    observed = x1 / n1 - x2 / n2

    def bound(outer: float, beyond) -> float:
        inner = observed
        if not beyond(_score(x1, n1, x2, n2, outer)):
            return outer  # the test rejects nothing up to the edge of the possible differences
        for _ in range(BISECTIONS):
            middle = (inner + outer) / 2
            if beyond(_score(x1, n1, x2, n2, middle)):
                outer = middle
            else:
                inner = middle
        return (inner + outer) / 2

    low = bound(-1.0, lambda score: score > z_crit)
    high = bound(1.0, lambda score: score < -z_crit)
    return low, high


def _ratio_score(x1: int, n1: int, x2: int, n2: int, ratio: float) -> float:
    """The score statistic of "treated rate is `ratio` times the control rate": observed
    p1 - ratio * p2 over its standard error under that hypothesis, with the restricted
    maximum-likelihood rates (Miettinen & Nurminen 1985, the smaller root of the quadratic).
    At ratio 1 it is the pooled z, so the ratio interval and the test agree."""
    a = (n1 + n2) * ratio
    b = -(ratio * n1 + x1 + n2 + ratio * x2)
    c = x1 + x2
    r2 = (-b - math.sqrt(max(0.0, b * b - 4 * a * c))) / (2 * a)
    r1 = ratio * r2
    excess = x1 / n1 - ratio * x2 / n2
    variance = r1 * (1 - r1) / n1 + ratio * ratio * r2 * (1 - r2) / n2
    if variance <= 0:
        return 0.0 if abs(excess) < 1e-12 else math.copysign(math.inf, excess)
    return excess / math.sqrt(variance)


def ratio_interval(x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The interval of treated rate / control rate that inverts the same score test (needs
    control successes): every ratio the test does not reject, searched on a log scale. It
    excludes 1 exactly when the difference interval excludes 0."""
    z_crit = _z(confidence)
    observed = max(x1 / n1, 1e-12) / (x2 / n2)

    def bound(direction: int, beyond) -> float:
        inner, outer = math.log(observed), math.log(observed)
        for _ in range(200):  # widen by doubling until the test rejects (or the edge of floats)
            outer += direction * math.log(2)
            if beyond(_ratio_score(x1, n1, x2, n2, math.exp(outer))):
                break
            if outer < -40:
                return 0.0  # nothing rejected down to a ratio of 0 (no treated successes)
        for _ in range(BISECTIONS):
            middle = (inner + outer) / 2
            if beyond(_ratio_score(x1, n1, x2, n2, math.exp(middle))):
                outer = middle
            else:
                inner = middle
        return math.exp((inner + outer) / 2)

    low = bound(-1, lambda score: score > z_crit)
    high = bound(1, lambda score: score < -z_crit)
    return low, high


@dataclass(frozen=True)
class Lift:
    """Treated minus control, as a difference of rates and relative to the control rate."""

    treated_rate: float
    control_rate: float
    difference: float  # treated_rate - control_rate (percentage points / 100)
    difference_low: float  # score interval of the difference (difference_interval)
    difference_high: float
    relative: float | None  # difference / control_rate; None when the control rate is 0
    relative_low: float | None  # score interval of the rate ratio (ratio_interval), minus 1
    relative_high: float | None
    z: float | None  # pooled two-proportion z statistic; None when nobody or everybody succeeded
    p_value: float | None  # two-sided
    confidence: float
    method: str = DIFFERENCE_METHOD

    @property
    def significant(self) -> bool:
        """The difference interval excludes 0: the same verdict as p_value < 1 - confidence,
        as the interval inverts the same test."""
        return self.difference_low > 0 or self.difference_high < 0


def lift(treated_successes: int, treated_n: int, control_successes: int, control_n: int,
         confidence: float = CONFIDENCE) -> Lift | None:
    """Two-proportion score test of treated against control, with the interval that
    inverts it. None without both groups."""
    if treated_n <= 0 or control_n <= 0:
        return None
    p1, p2 = treated_successes / treated_n, control_successes / control_n
    difference = p1 - p2
    low, high = difference_interval(treated_successes, treated_n, control_successes, control_n, confidence)
    pooled = (treated_successes + control_successes) / (treated_n + control_n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / treated_n + 1 / control_n))
    z = p_value = None
    if se_pooled > 0:
        z = difference / se_pooled
        p_value = 2 * (1 - NormalDist().cdf(abs(z)))
    relative = relative_low = relative_high = None
    if p2 > 0:
        relative = p1 / p2 - 1
        ratio_low, ratio_high = ratio_interval(treated_successes, treated_n, control_successes, control_n, confidence)
        relative_low, relative_high = ratio_low - 1, ratio_high - 1
    return Lift(
        treated_rate=p1, control_rate=p2, difference=difference,
        difference_low=low, difference_high=high,
        relative=relative, relative_low=relative_low, relative_high=relative_high,
        z=z, p_value=p_value, confidence=confidence,
    )
