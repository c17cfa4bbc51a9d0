"""A persona's suggested name and description, read from a segment's profile.

No Django here: the profile is the dict stored on Segment.profile, labels map feature
names to the words the pages use (customers.selectors.feature_catalogue()). Names use the
words of segment names (segments.ml.vocabulary), so a persona reads like its segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from segments.ml import vocabulary

# |z| at which a feature counts as distinguishing: half a standard deviation from
# everyone's mean is Cohen's "medium" effect, the smallest difference a marketer would
# notice in the customers themselves.
NOTABLE_Z = 0.5
# A name reads like a name with two traits (plus an age range); more is a description.
NAME_TRAITS = 2
# The description says the numbers of a few more: five fit in a paragraph.
DESCRIBED_TRAITS = 5
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


def _label(feature: str, labels: dict[str, str]) -> str:
    """A feature, or a category value of one ("gender = Female" reads "Gender: Female")."""
    name, _, value = feature.partition(" = ")
    return f"{labels.get(name, name)}: {value}" if value else labels.get(feature, feature)


def _distinguishing(profile: dict) -> list[tuple[str, float]]:
    pairs = profile.get("top_features") or sorted(
        ((name, z) for name, z in (profile.get("zscore") or {}).items() if _number(z) is not None),
        key=lambda pair: -abs(float(pair[1])),
    )
    return [(str(name), float(z)) for name, z in pairs if _number(z) is not None and abs(float(z)) >= NOTABLE_Z]


def suggest(profile: dict, labels: dict[str, str], rules: list[dict] | None = None,
            fallback: str = "Segment") -> Suggestion:
    """A name such as "Low-spending high earners aged 35-40" from the most distinguishing
    features (largest |z-score| first) in the words segment names use (segments.ml.vocabulary),
    and a description that says the numbers."""
    means, medians = profile.get("mean") or {}, profile.get("median") or {}
    features = _distinguishing(profile)
    named = features[:NAME_TRAITS + 1]
    ranges = {name: value_range(means.get(name), medians.get(name), RANGE_FEATURES[name])
              for name, _ in named if name in RANGE_FEATURES}
    ranges = {name: span for name, span in ranges.items() if span}
    # a category value ("gender = Female") is said in the description, not the name
    traits = [(name, z) for name, z in features if name not in ranges and " = " not in name][:NAME_TRAITS]
    if traits or ranges:
        name = vocabulary.segment_name(traits, labels) if traits else "Customers"
        name += "".join(f" aged {span}" if feature == "age" else f" ({labels.get(feature, feature)} {span})"
                        for feature, span in ranges.items())
    elif features and " = " in features[0][0] and features[0][1] > 0:
        name = vocabulary.category_name(*features[0][0].split(" = ", 1), labels)
    else:
        name = f"{vocabulary.TYPICAL} ({fallback})"

    sentences = []
    share = _number(profile.get("share"))
    if share is not None:
        sentences.append(f"About {share:.0%} of customers.")
    details = []
    for feature, z in features[:DESCRIBED_TRAITS]:
        label = _label(feature, labels)
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
