"""Scores of one segmentation, and the automatic choice of k from the curves over k."""

from __future__ import annotations

import numpy as np
import sklearn
from kneed import KneeLocator
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from segments.ml.types import ModelSelection

# Silhouette computes pairwise distances block by block; sklearn's default blocks of 1 GB
# made a worker's memory jump by that much. 64 MB blocks are as fast (measured on 10k).
SILHOUETTE_WORKING_MEMORY_MB = 64


def sample_rows(rng: np.random.Generator, n_rows: int, size: int) -> np.ndarray:
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=size, replace=False))


def segment_means(matrix: np.ndarray, labels: np.ndarray, n_segments: int) -> np.ndarray:
    """Mean point of each segment 0..n-1 (noise, -1, left out); NaN for an empty segment."""
    counts = np.bincount(labels[labels >= 0], minlength=n_segments).astype("float64")
    sums = np.zeros((n_segments, matrix.shape[1]))
    for column in range(matrix.shape[1]):
        sums[:, column] = np.bincount(labels[labels >= 0], weights=matrix[labels >= 0, column], minlength=n_segments)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def within_sum_of_squares(matrix: np.ndarray, labels: np.ndarray, means: np.ndarray) -> float:
    """Inertia: squared distances of the segmented (non-noise) rows to their segment's mean."""
    clustered = labels >= 0
    counts = np.bincount(labels[clustered], minlength=len(means))
    total = float((matrix[clustered] ** 2).sum())
    return total - float((counts * np.nansum(means ** 2, axis=1)).sum())


def score(matrix: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> dict:
    """Silhouette on the sampled `rows`, Davies-Bouldin and Calinski-Harabasz on all; noise
    (label -1) left out of all three. None where a score is undefined (one segment, or as
    many segments as customers)."""
    scores = {"silhouette": None, "davies_bouldin": None, "calinski_harabasz": None}
    clustered = labels >= 0
    n_segments = len(np.unique(labels[clustered]))
    n_clustered = int(clustered.sum())
    if not 1 < n_segments < n_clustered:
        return scores
    sampled = rows[clustered[rows]]
    sampled_labels = labels[sampled]
    if 1 < len(np.unique(sampled_labels)) < len(sampled):
        with sklearn.config_context(working_memory=SILHOUETTE_WORKING_MEMORY_MB):
            scores["silhouette"] = float(silhouette_score(matrix[sampled], sampled_labels))
    if clustered.all():
        points, point_labels = matrix, labels
    else:
        points, point_labels = matrix[clustered], labels[clustered]
    scores["davies_bouldin"] = float(davies_bouldin_score(points, point_labels))
    scores["calinski_harabasz"] = float(calinski_harabasz_score(points, point_labels))
    return scores


def knee_of(ks: list[int], inertia: list[float | None]) -> int | None:
    points = [(k, value) for k, value in zip(ks, inertia) if value is not None]
    if len(points) < 3:
        return None
    xs, ys = zip(*points)
    knee = KneeLocator(list(xs), list(ys), curve="convex", direction="decreasing").knee
    return None if knee is None else int(knee)


RULE_WORDS = {
    "silhouette": ("the highest silhouette", max),
    "davies_bouldin": ("the lowest Davies-Bouldin index", min),
    "calinski_harabasz": ("the highest Calinski-Harabasz score", max),
    "bic": ("the lowest BIC", min),
    "aic": ("the lowest AIC", min),
}


def choose_k(curves: dict[str, list], ks: list[int], rule: str, silhouette_sample: int | None) -> ModelSelection:
    """Pick k from the curves by `rule`; the rule text says why, in words."""
    knee = knee_of(ks, curves["inertia"])
    span = f"k = {ks[0]}-{ks[-1]}" if len(ks) > 1 else f"k = {ks[0]}"
    used = rule
    prefix = ""
    if rule == "elbow":
        if knee is not None:
            chosen = knee
            text = f"k = {knee}: the elbow (knee) of the inertia curve over {span}"
        else:
            used = "silhouette"
            prefix = "The inertia curve has no clear elbow, so: "
    if used != "elbow":
        words, best = RULE_WORDS[used]
        scored = [(value, k) for k, value in zip(ks, curves[used]) if value is not None]
        if not scored:
            chosen = ks[0]
            text = f"k = {chosen}: no {used.replace('_', '-')} could be computed over {span}, so the smallest k"
        else:
            value, chosen = best(scored, key=lambda item: item[0])
            text = f"{prefix}k = {chosen}: {words} ({_number(value)}) over {span}"
    if silhouette_sample:
        text += f"; silhouette on a sample of {silhouette_sample:,}"
    return ModelSelection(
        ks=list(ks),
        inertia=curves["inertia"], silhouette=curves["silhouette"],
        davies_bouldin=curves["davies_bouldin"], calinski_harabasz=curves["calinski_harabasz"],
        bic=curves["bic"], aic=curves["aic"],
        knee=knee, rule=rule, rule_text=text, chosen_k=int(chosen),
    )


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"
