"""A persona's suggested name and description, read from a segment's profile.

No Django here: the profile is the dict stored on Segment.profile, labels map feature
names to the words the pages use (customers.selectors.feature_catalogue()).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# |z| at which a feature counts as distinguishing: half a standard deviation from
# everyone's mean is Cohen's "medium" effect, the smallest difference a marketer would
# notice in the customers themselves.
NOTABLE_Z = 0.5
# |z| above which the segment is "very" high or low: a full standard deviation.
STRONG_Z = 1.0
# A name reads like a name with two or three traits; more is a description.
NAME_TRAITS = 3
# Features whose plain "high"/"low" would mislead or read badly: (high, low) in words.
PHRASES = {
    "recency": ("lapsed", "recent buyers"),
    "frequency": ("frequent buyers", "rare buyers"),
    "monetary": ("high spend", "low spend"),
    "avg_order_value": ("big baskets", "small baskets"),
    "tenure": ("long-standing", "new"),
    "annual_income": ("high income", "low income"),
    "clv": ("high lifetime value", "low lifetime value"),
    "p_alive": ("likely active", "likely gone"),
    "return_rate": ("frequent returns", "rare returns"),
    "expected_purchases": ("buying again soon", "unlikely to buy soon"),
}
# Features read as a range of values rather than high/low ("30-45" says more than "old").
RANGE_FEATURES = {"age": 5}  # feature -> bracket width the range is rounded out to


@dataclass(frozen=True)
class Suggestion:
    name: str
    description: str


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _readable(value: float) -> str:
    """88000.0 -> "88,000", 36.0 -> "36", 0.4321 -> "0.432"."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def value_range(mean, median, width: int) -> str:
    """The range between a segment's mean and median, widened to whole brackets:
    mean 38.2 and median 36 in brackets of 5 -> "35-40"."""
    values = [v for v in (_number(mean), _number(median)) if v is not None]
    if not values:
        return ""
    low = math.floor(min(values) / width) * width
    high = math.ceil(max(values) / width) * width
    if high == low:
        high = low + width
    return f"{low:g}-{high:g}"


def trait(name: str, z: float, label: str, mean=None, median=None) -> str:
    """One feature in words: "high income", "very low spend", "35-40"."""
    if name in RANGE_FEATURES:
        span = value_range(mean, median, RANGE_FEATURES[name])
        if span:
            return span
    high, low = PHRASES.get(name, (f"high {label.lower()}", f"low {label.lower()}"))
    words = high if z > 0 else low
    if abs(z) >= STRONG_Z and name not in PHRASES:
        words = "very " + words
    return words


def _distinguishing(profile: dict) -> list[tuple[str, float]]:
    pairs = profile.get("top_features") or sorted(
        ((name, z) for name, z in (profile.get("zscore") or {}).items() if _number(z) is not None),
        key=lambda pair: -abs(float(pair[1])),
    )
    return [(str(name), float(z)) for name, z in pairs if _number(z) is not None and abs(float(z)) >= NOTABLE_Z]


def suggest(profile: dict, labels: dict[str, str], rules: list[dict] | None = None,
            fallback: str = "Segment") -> Suggestion:
    """A name such as "High income, low spend, 30-45" from the most distinguishing
    features (largest |z-score| first), and a description that says the numbers."""
    means, medians = profile.get("mean") or {}, profile.get("median") or {}
    features = _distinguishing(profile)
    traits = [trait(name, z, labels.get(name, name), means.get(name), medians.get(name))
              for name, z in features[:NAME_TRAITS]]
    name = ", ".join(traits) if traits else f"Typical customers ({fallback})"
    name = name[:1].upper() + name[1:]

    sentences = []
    share = _number(profile.get("share"))
    if share is not None:
        sentences.append(f"About {share:.0%} of customers.")
    details = []
    for feature, z in features[:NAME_TRAITS + 2]:
        label = labels.get(feature, feature)
        median = _number(medians.get(feature))
        typical = f"median {_readable(median)}, " if median is not None else ""
        direction = "above" if z > 0 else "below"
        details.append(f"{label} {typical}{abs(z):.1f} standard deviations {direction} everyone's mean")
    if details:
        sentences.append("Compared with all customers: " + "; ".join(details) + ".")
    else:
        sentences.append("Close to the average customer on every feature the run used.")
    best_rule = max(rules or [], key=lambda r: _number(r.get("precision")) or 0, default=None)
    if best_rule and best_rule.get("text"):
        sentences.append(f"Typically: {best_rule['text']}.")
    return Suggestion(name=name[:120], description=" ".join(sentences))
