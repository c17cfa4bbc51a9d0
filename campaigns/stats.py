"""Campaign statistics: the holdout size rule, rates with intervals, and lift over the
holdout by a two-proportion z-test. Pure Python (no Django, no database): the services
feed it counts from SQL aggregates, and tests check it against hand computations.
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


@dataclass(frozen=True)
class Lift:
    """Treated minus control, as a difference of rates and relative to the control rate."""

    treated_rate: float
    control_rate: float
    difference: float  # treated_rate - control_rate (percentage points / 100)
    difference_low: float  # Wald interval of the difference (unpooled standard error)
    difference_high: float
    relative: float | None  # difference / control_rate; None when the control rate is 0
    relative_low: float | None  # Katz log interval of the rate ratio, minus 1
    relative_high: float | None
    z: float | None  # pooled two-proportion z statistic; None when nobody or everybody succeeded
    p_value: float | None  # two-sided
    confidence: float

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 1 - self.confidence


def lift(treated_successes: int, treated_n: int, control_successes: int, control_n: int,
         confidence: float = CONFIDENCE) -> Lift | None:
    """Two-proportion z-test of treated against control. None without both groups."""
    if treated_n <= 0 or control_n <= 0:
        return None
    z_crit = _z(confidence)
    p1, p2 = treated_successes / treated_n, control_successes / control_n
    difference = p1 - p2
    se = math.sqrt(p1 * (1 - p1) / treated_n + p2 * (1 - p2) / control_n)
    pooled = (treated_successes + control_successes) / (treated_n + control_n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / treated_n + 1 / control_n))
    z = p_value = None
    if se_pooled > 0:
        z = difference / se_pooled
        p_value = 2 * (1 - NormalDist().cdf(abs(z)))
    relative = relative_low = relative_high = None
    if p2 > 0:
        relative = p1 / p2 - 1
        if treated_successes > 0:
            log_se = math.sqrt((1 - p1) / treated_successes + (1 - p2) / control_successes)
            log_ratio = math.log(p1 / p2)
            relative_low = math.exp(log_ratio - z_crit * log_se) - 1
            relative_high = math.exp(log_ratio + z_crit * log_se) - 1
    return Lift(
        treated_rate=p1, control_rate=p2, difference=difference,
        difference_low=difference - z_crit * se, difference_high=difference + z_crit * se,
        relative=relative, relative_low=relative_low, relative_high=relative_high,
        z=z, p_value=p_value, confidence=confidence,
    )
