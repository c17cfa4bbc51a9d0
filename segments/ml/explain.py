"""What sets each segment apart: profiles, automatic labels, rules, and the 2-D view."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.tree import DecisionTreeClassifier

from segments.ml import vocabulary
from segments.ml.preprocess import MAX_CATEGORIES, Prepared
from segments.ml.types import Projection, Rule, SegmentProfile

# A feature whose segment mean is at least this many population standard deviations from
# the population mean is named in the segment's automatic label.
LABEL_Z_THRESHOLD = 0.5
# Features listed as distinguishing a segment: five fit on a card and cover what matters.
TOP_FEATURES = 5
NOISE_LABEL = "Outliers (not in any segment)"
# Surrogate rules: trees of depth 3 give rules of at most three conditions, still readable.
RULE_TREE_DEPTH = 3
# The trees are fitted on at most this many customers: a depth-3 tree's thresholds are as
# well placed on 50k rows as on 1M. The rules are then scored on every customer.
RULE_SAMPLE = 50_000
# A leaf must hold at least 0.5 % of the sampled customers, so a rule never describes a
# handful of people.
RULE_MIN_LEAF_SHARE = 0.005
# A leaf becomes a rule when most of its customers are in the segment.
RULE_MIN_PRECISION = 0.5
RULES_PER_SEGMENT = 3
# A threshold is rounded to the roundest number that moves at most 0.2 % of the sampled
# customers across it: "income > 70000" instead of "income > 70012.37".
RULE_ROUNDING_TOLERANCE = 0.002


def describe_segment(zscore: dict[str, float], limit: int = 2, feature_labels: dict[str, str] | None = None) -> str:
    """A marketer's name from the features that set a segment apart: "Lapsed big spenders"
    (segments.ml.vocabulary); features with no phrase are said with their display name."""
    notable = sorted(
        ((name, z) for name, z in zscore.items() if abs(z) >= LABEL_Z_THRESHOLD),
        key=lambda item: -abs(item[1]),
    )[:limit]
    return vocabulary.segment_name(notable, feature_labels or {})


def profiles(
    prepared: Prepared,
    labels: np.ndarray,
    centroids: np.ndarray,
    *,
    n_segments: int,
    noise_index: int | None,
    names: list[str] | None,
    revenue: np.ndarray | None,
    rules: dict[int, list[Rule]],
    stability: dict[int, float] | None,
    feature_labels: dict[str, str] | None = None,
) -> list[SegmentProfile]:
    """`labels`: final segment per kept row (noise has its own index); `centroids`: numeric
    features in feature units, one row per segment."""
    numeric = prepared.preprocessor.numeric
    categorical = prepared.preprocessor.categorical
    values = prepared.values
    n_rows = len(labels)
    sizes = np.bincount(labels, minlength=n_segments)
    population_mean = values[numeric].mean()
    population_std = values[numeric].std(ddof=0).replace(0, np.nan)
    grouped = values[numeric].groupby(labels)
    means, medians = grouped.mean(), grouped.median()
    shares = {}
    population_shares = {}
    for name in categorical:
        column = prepared.filled[name]
        shares[name] = pd.crosstab(labels, column, normalize="index")
        population_shares[name] = column.value_counts(normalize=True)
    total_revenue = float(np.nansum(revenue)) if revenue is not None else None

    out = []
    used_labels: set[str] = set()
    for index in range(n_segments):
        mean = means.loc[index] if index in means.index else pd.Series(np.nan, index=numeric)
        zscore = ((mean - population_mean) / population_std).fillna(0.0)
        top = [(name, float(zscore[name])) for name in numeric]
        categories = {}
        for name in categorical:
            row = shares[name].loc[index] if index in shares[name].index else pd.Series(dtype=float)
            categories[name] = {str(value): round(float(share), 4) for value, share in row.items() if share > 0}
            for value, share in row.items():
                population = float(population_shares[name].get(value, 0.0))
                if share > population and 0 < population < 1:
                    # the z-score of the value's indicator, comparable with the numeric ones
                    top.append((f"{name} = {value}", float((share - population) / np.sqrt(population * (1 - population)))))
        top.sort(key=lambda item: -abs(item[1]))
        if index == noise_index:
            label = NOISE_LABEL
        elif names is not None:
            label = names[index]
        else:
            label = describe_segment(zscore.to_dict(), feature_labels=feature_labels)
            categorical_top = [item for item in top[:1] if " = " in item[0] and item[1] >= LABEL_Z_THRESHOLD]
            if label == vocabulary.TYPICAL and categorical_top:
                label = vocabulary.category_name(*categorical_top[0][0].split(" = ", 1), feature_labels or {})
            if label.lower() in used_labels:
                # two segments set apart by the same two traits: a third tells them apart
                label = describe_segment(zscore.to_dict(), limit=3, feature_labels=feature_labels)
            if label.lower() in used_labels:
                label = f"{label} ({sum(1 for used in used_labels if used.startswith(label.lower())) + 1})"
        used_labels.add(label.lower())
        members = labels == index
        out.append(SegmentProfile(
            index=index,
            size=int(sizes[index]),
            share=float(sizes[index] / n_rows),
            label=label,
            centroid={name: float(centroids[index][i]) for i, name in enumerate(numeric)},
            mean={name: float(mean[name]) for name in numeric},
            median={name: float(medians.loc[index, name]) if index in medians.index else float("nan") for name in numeric},
            zscore={name: float(zscore[name]) for name in numeric},
            categories=categories,
            top_features=[(name, round(z, 4)) for name, z in top[:TOP_FEATURES]],
            rules=rules.get(index, []),
            revenue_share=(float(np.nansum(revenue[members]) / total_revenue) if total_revenue else None),
            is_noise=index == noise_index,
            stability=None if stability is None else stability.get(index),
        ))
    return out


# --- surrogate rules --------------------------------------------------------------------

def surrogate_rules(
    prepared: Prepared, labels: np.ndarray, segments: list[int], *, seed: int,
    feature_labels: dict[str, str] | None = None,
) -> dict[int, list[Rule]]:
    """Per segment, up to RULES_PER_SEGMENT rules read off a one-vs-rest depth-3 tree fitted
    on the features in their own units (not scaled, not logged), scored on every customer.
    A rule's text names the features by `feature_labels`: "Orders = 4 and Age <= 30"."""
    numeric = prepared.preprocessor.numeric
    categorical = prepared.preprocessor.categorical
    filled = prepared.filled
    rng = np.random.default_rng([seed, 2])
    rows = np.arange(len(filled))
    if len(rows) > RULE_SAMPLE:
        rows = np.sort(rng.choice(len(filled), RULE_SAMPLE, replace=False))
    # tree columns: numeric features, then one 0/1 column per frequent categorical value
    columns: list[tuple[str, str | None]] = [(name, None) for name in numeric]
    blocks = [filled[numeric].to_numpy(dtype="float64")[rows]] if numeric else []
    for name in categorical:
        values = filled[name].to_numpy(dtype=object)[rows]
        for value in pd.Series(values).value_counts().index[:MAX_CATEGORIES]:
            columns.append((name, value))
            blocks.append((values == value).astype("float64")[:, None])
    if not blocks:
        return {}
    X = np.hstack(blocks)
    integer = {name: bool(np.all(np.mod(filled[name].to_numpy(), 1) == 0)) for name in numeric}
    tolerance = RULE_ROUNDING_TOLERANCE * len(rows)
    min_leaf = max(1, int(RULE_MIN_LEAF_SHARE * len(rows)))
    sample_labels = labels[rows]
    out: dict[int, list[Rule]] = {}
    for segment in segments:
        target = sample_labels == segment
        if target.all() or not target.any():
            continue
        # balanced classes: otherwise Gini prefers a cut through a small segment that leaves one
        # side nearly pure over the clean cut around it (seen on planted quadrants)
        tree = DecisionTreeClassifier(max_depth=RULE_TREE_DEPTH, min_samples_leaf=min_leaf, random_state=seed,
                                      class_weight="balanced")
        tree.fit(X, target)
        candidates = {}
        for path in _positive_leaves(tree):
            conditions = _merge(path, columns, X, integer, tolerance)
            text = _text(conditions, feature_labels or {})
            if text and text not in candidates:
                candidates[text] = conditions
        rules = []
        members = labels == segment
        for text, conditions in candidates.items():
            selected = _evaluate(conditions, filled)
            support = int(selected.sum())
            if support == 0:
                continue
            hits = int((selected & members).sum())
            precision = hits / support
            if precision < RULE_MIN_PRECISION:
                continue
            rules.append(Rule(text=text, precision=round(precision, 4), recall=round(hits / int(members.sum()), 4),
                              support=support))
        rules.sort(key=lambda rule: (-rule.recall, -rule.precision))
        out[segment] = rules[:RULES_PER_SEGMENT]
    return out


def _positive_leaves(tree: DecisionTreeClassifier):
    """Paths [(column, is_greater, threshold), ...] to leaves where the segment is the majority.
    A split whose two sides both end in such leaves (or both not) is read as one leaf, so a
    rule is not cut in two where the tree split only to purify a few customers."""
    structure = tree.tree_
    positive = list(tree.classes_).index(True)

    def majority(node):
        counts = structure.value[node][0]
        return counts[positive] / counts.sum() >= RULE_MIN_PRECISION

    def leaves(node, path):
        """(paths to positive leaves under node, True if the whole subtree is one class)."""
        if structure.children_left[node] == -1:
            return ([path] if majority(node) else []), True
        column, threshold = structure.feature[node], structure.threshold[node]
        left, left_uniform = leaves(structure.children_left[node], path + [(column, False, threshold)])
        right, right_uniform = leaves(structure.children_right[node], path + [(column, True, threshold)])
        if left_uniform and right_uniform and bool(left) == bool(right):
            return ([path] if left else []), True
        return left + right, False

    return leaves(0, [])[0]


def _merge(path, columns, X, integer, tolerance):
    """Conditions per feature: {name: ("range", low, high)} or {name: ("is", value)} or
    {name: ("is not", [values])}; thresholds rounded."""
    merged: dict[str, list] = {}
    for column, greater, threshold in path:
        name, value = columns[column]
        if value is None:
            low, high = merged.get(name, ("range", None, None))[1:]
            if greater:
                low = threshold if low is None else max(low, threshold)
            else:
                high = threshold if high is None else min(high, threshold)
            merged[name] = ("range", low, high)
        else:
            current = merged.get(name)
            if greater:  # the 0/1 column is 1: the customer has this value
                merged[name] = ("is", value)
            elif current is None or current[0] == "is not":
                merged[name] = ("is not", (current[1] if current else []) + [value])
    conditions = {}
    for name, condition in merged.items():
        if condition[0] == "range":
            position = [n for n, v in columns].index(name)
            column = X[:, position]
            low, high = condition[1], condition[2]
            conditions[name] = ("range",
                                None if low is None else _round(low, column, integer[name], tolerance),
                                None if high is None else _round(high, column, integer[name], tolerance),
                                integer[name])
        else:
            conditions[name] = condition
    return conditions


def _round(threshold: float, column: np.ndarray, integer: bool, tolerance: float) -> float:
    """The roundest number that splits the sampled customers as `threshold` does, give or
    take `tolerance` customers: "income > 70000" instead of "income > 69873.5"."""
    if integer:
        return float(np.floor(threshold))  # x > 2.5 is x > 2 (x >= 3) for whole numbers
    values = np.sort(column)
    below = int(np.searchsorted(values, threshold, side="right"))  # customers at or under it
    slack = int(tolerance)
    low = values[below - slack - 1] if below - slack - 1 >= 0 else -np.inf
    high = values[below + slack] if below + slack < len(values) else np.inf
    scale = max(abs(threshold), abs(low) if np.isfinite(low) else 0, abs(high) if np.isfinite(high) else 0, 1e-12)
    exponent = int(np.floor(np.log10(scale)))
    middle = (low + high) / 2 if np.isfinite(low) and np.isfinite(high) else threshold
    for power in range(exponent, exponent - 12, -1):
        for step in (10.0 ** power, 5 * 10.0 ** (power - 1)):
            # the coarsest step with a multiple in [low, high); of those, the one nearest the
            # middle of the gap (the tree puts its cut at one edge of an empty stretch)
            for candidate in (np.round(middle / step) * step, np.ceil(low / step) * step, np.floor(high / step) * step):
                if np.isfinite(candidate) and low <= candidate < high:
                    return float(np.round(candidate, max(0, -power + 1)))
    return float(threshold)


def _number(value: float) -> str:
    return np.format_float_positional(value, trim="-")


def _text(conditions, feature_labels: dict[str, str]) -> str:
    parts = []
    for name, condition in conditions.items():
        label = feature_labels.get(name, name)
        if condition[0] == "range":
            _, low, high, integer = condition
            low_text = None if low is None else (f">= {_number(low + 1)}" if integer else f"> {_number(low)}")
            if integer and low is not None and high is not None and low + 1 == high:
                parts.append(f"{label} = {_number(high)}")  # "x >= 4 and x <= 4" is "x = 4"
                continue
            if low_text is not None:
                parts.append(f"{label} {low_text}")
            if high is not None:
                parts.append(f"{label} <= {_number(high)}")
        elif condition[0] == "is":
            parts.append(f"{label} is {condition[1]}")
        else:
            values = condition[1]
            parts.append(f"{label} is not {values[0]}" if len(values) == 1 else f"{label} is none of {', '.join(values)}")
    return " and ".join(parts)


def _evaluate(conditions, filled: pd.DataFrame) -> np.ndarray:
    selected = np.ones(len(filled), dtype=bool)
    for name, condition in conditions.items():
        column = filled[name].to_numpy()
        if condition[0] == "range":
            _, low, high, _ = condition
            if low is not None:
                selected &= column > low
            if high is not None:
                selected &= column <= high
        elif condition[0] == "is":
            selected &= column == condition[1]
        else:
            selected &= ~np.isin(column, condition[1])
    return selected


# --- 2-D view -----------------------------------------------------------------------------

def projection(prepared: Prepared, labels: np.ndarray, rows: np.ndarray, rng: np.random.Generator, seed: int,
               feature_labels: dict[str, str] | None = None) -> Projection:
    """`rows`: sampled positions among the kept rows; `labels`: final labels of kept rows.
    Axes made of features are titled with their display names (`feature_labels`)."""
    numeric = prepared.preprocessor.numeric
    titles = [(feature_labels or {}).get(name, name) for name in numeric]
    frame_rows = prepared.kept[rows].tolist()
    segment = labels[rows].tolist()
    if not prepared.preprocessor.categorical and len(numeric) == 1:
        x = prepared.filled.iloc[rows, 0].to_numpy()
        jitter = rng.uniform(-0.5, 0.5, size=len(rows))
        return Projection(method="features", x_label=titles[0], y_label="(spread)",
                          x=_rounded(x), y=_rounded(jitter), segment=segment, row=frame_rows)
    if not prepared.preprocessor.categorical and len(numeric) == 2:
        points = prepared.filled[numeric].to_numpy(dtype="float64")[rows]
        return Projection(method="features", x_label=titles[0], y_label=titles[1],
                          x=_rounded(points[:, 0]), y=_rounded(points[:, 1]), segment=segment, row=frame_rows)
    matrix = prepared.matrix[rows]
    pca = PCA(n_components=2, random_state=seed).fit(matrix)
    points = pca.transform(matrix)
    ratio = pca.explained_variance_ratio_
    loadings = {column: [round(float(pca.components_[0, i]), 4), round(float(pca.components_[1, i]), 4)]
                for i, column in enumerate(prepared.preprocessor.columns)}
    return Projection(
        method="pca",
        x_label=f"PC1 ({ratio[0]:.0%} of variance)", y_label=f"PC2 ({ratio[1]:.0%} of variance)",
        x=_rounded(points[:, 0]), y=_rounded(points[:, 1]), segment=segment, row=frame_rows,
        explained_variance=[float(r) for r in ratio], loadings=loadings,
    )


def _rounded(array: np.ndarray) -> list[float]:
    return np.round(np.asarray(array, dtype="float64"), 4).tolist()
