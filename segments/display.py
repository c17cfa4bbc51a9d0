"""Machine names in stored run results, said in the words the pages use.

A run stores feature names ("annual_income", "attr_spending_score_1_100") in its
preprocessing report, projection and profiles; CSV headers and the API keep them. Pages
and their charts show the features' display names (customers.features) instead.
"""

from __future__ import annotations

import re

# "frequency >= 4 and frequency <= 4": the two bounds of one whole-number feature meeting
_EQUAL_BOUNDS = re.compile(r"\b([a-z_][a-z0-9_]*) >= (-?[\d.]+) and \1 <= \2(?![\d.])")


def feature_label(name: str, labels: dict[str, str]) -> str:
    """"annual_income" -> "Annual income"; a category value "gender = Female" -> "Gender: Female"."""
    feature, _, value = name.partition(" = ")
    if value:
        return f"{labels.get(feature, feature)}: {value}"
    return labels.get(name, name)


def labelled_preprocessing(report: dict, labels: dict[str, str]) -> dict:
    """A run's preprocessing report with features named for people: keys of the per-feature
    maps (imputed, clipped, skew) and the entries of the feature lists (log features)."""
    out = dict(report or {})
    for key in ("imputed", "clipped", "skew"):
        if isinstance(out.get(key), dict):
            out[key] = {feature_label(name, labels): value for name, value in out[key].items()}
    for key in ("log_features", "log_suggested"):
        if isinstance(out.get(key), list):
            out[key] = [feature_label(name, labels) for name in out[key]]
    return out


def labelled_projection(projection: dict, labels: dict[str, str]) -> dict:
    """A scatter whose axes are features (one or two of them) titled with their display names;
    runs stored before the engine did so name them by feature."""
    out = dict(projection or {})
    if out.get("method") == "features":
        for axis in ("x_label", "y_label"):
            if axis in out:
                out[axis] = labels.get(out[axis], out[axis])
    return out


def option_value(option, value, labels: dict[str, str]):
    """A stored run option as the run page shows it: a choice by its label ("Ward"), the
    features of the log transform by display name."""
    if isinstance(value, list):  # the log transform's features: a list is never a choice
        return [labels.get(name, name) for name in value]
    if option.choices:
        return dict(option.choices).get(value, value)
    return value


def rule_text(text: str, labels: dict[str, str]) -> str:
    """A stored rule as the pages say it. Runs computed before rules used display names read
    "frequency >= 4 and frequency <= 4 and annual_income > 70000"; this gives "Orders = 4 and
    Annual income > 70000". A feature key is replaced only where a comparison follows it, so
    a category value is never touched; newer rules (already in words) pass unchanged."""
    text = _EQUAL_BOUNDS.sub(r"\1 = \2", text)
    for name in sorted(labels, key=len, reverse=True):
        text = re.sub(rf"(?<![\w]){re.escape(name)}(?= (?:>|<|=|is\b))", labels[name], text)
    # the signs a marketer writes: "Orders ≥ 4", not "Orders >= 4"
    return text.replace(" >= ", " ≥ ").replace(" <= ", " ≤ ").replace(" != ", " ≠ ")


def labelled_rules(rules: list[dict] | None, labels: dict[str, str]) -> list[dict]:
    return [{**rule, "text": rule_text(str(rule.get("text", "")), labels)} for rule in rules or []]
