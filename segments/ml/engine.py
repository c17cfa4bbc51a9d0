"""Segmentation engine: a feature table and a config in, a result dataclass out.

No Django here (tests/segments/ml/test_no_django.py enforces it): the service layer
turns database rows into a DataFrame, calls `segment`, and persists the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.decomposition import PCA
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from segments.ml.types import ALGORITHMS  # noqa: E402  (interim, until the new engine lands)
MIN_K = 2
MAX_K = 50  # beyond this, segments stop being something a marketer can name and act on

# k-means++ restarts: 4 finds the same optimum as sklearn's old default of 10 on the
# planted and real data we tried, at 40 % of the cost.
KMEANS_N_INIT = 4
# Silhouette is O(n^2): above this many customers it is computed on a random sample.
DEFAULT_SILHOUETTE_SAMPLE = 10_000
# Silhouette computes pairwise distances block by block; sklearn's default blocks of 1 GB
# made a worker's memory jump by that much. 64 MB blocks are as fast (measured on 10k).
SILHOUETTE_WORKING_MEMORY_MB = 64
# Points in the 2-D scatter; more than this and the browser slows without showing more.
DEFAULT_SCATTER_SAMPLE = 5_000
# A feature whose centroid is at least this many population standard deviations from
# the mean is named in the segment's automatic label.
LABEL_Z_THRESHOLD = 0.5

ProgressCallback = Callable[[int, str], None]


class SegmentationError(ValueError):
    """The data or config cannot be segmented; the message is meant for the user."""


@dataclass(frozen=True)
class SegmentationConfig:
    features: tuple[str, ...]
    k: int
    algorithm: str = "kmeans"
    seed: int = 0
    silhouette_sample: int = DEFAULT_SILHOUETTE_SAMPLE
    scatter_sample: int = DEFAULT_SCATTER_SAMPLE

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise SegmentationError(
                f"Unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}."
            )
        if not self.features:
            raise SegmentationError("Choose at least one feature.")
        if len(set(self.features)) != len(self.features):
            raise SegmentationError("Each feature can be chosen only once.")
        if not MIN_K <= self.k <= MAX_K:
            raise SegmentationError(f"k must be between {MIN_K} and {MAX_K}; got {self.k}.")


@dataclass(frozen=True)
class SegmentProfile:
    index: int
    size: int
    share: float
    label: str
    centroid: dict[str, float]
    mean: dict[str, float]
    median: dict[str, float]
    zscore: dict[str, float]


@dataclass(frozen=True)
class Projection:
    """A sample of customers in two dimensions, for the scatter plot."""

    method: str  # "features" when exactly two features were used, else "pca"
    x_label: str
    y_label: str
    x: list[float]
    y: list[float]
    segment: list[int]
    row: list[int]  # positions in the input frame, to look the customers up
    explained_variance: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class SegmentationResult:
    labels: np.ndarray  # segment index per input row, 0 = largest segment
    segments: list[SegmentProfile]
    metrics: dict[str, float | int | dict | None]
    projection: Projection


def _noop(percent: int, stage: str) -> None:
    return None


def segment(
    frame: pd.DataFrame, config: SegmentationConfig, progress: ProgressCallback | None = None
) -> SegmentationResult:
    """Segment the rows of `frame` (one per customer) on `config.features`."""
    report = progress or _noop
    missing = [name for name in config.features if name not in frame.columns]
    if missing:
        raise SegmentationError(f"Unknown feature(s): {', '.join(missing)}.")
    n_rows = len(frame)
    if n_rows == 0:
        raise SegmentationError("There are no customers to segment.")
    if config.k > n_rows:
        raise SegmentationError(
            f"k = {config.k} is more than the {n_rows} customers there are to segment."
        )

    report(5, "Preparing features")
    values = frame.loc[:, list(config.features)].astype("float64")
    all_missing = [name for name in config.features if values[name].isna().all()]
    if all_missing:
        raise SegmentationError(
            f"No customer has a value for: {', '.join(all_missing)}. Choose other features."
        )
    imputed = {name: int(count) for name, count in values.isna().sum().items() if count}
    values = values.fillna(values.median())
    scaler = StandardScaler()
    matrix = scaler.fit_transform(values.to_numpy())

    report(15, f"Fitting k-means with k = {config.k}")
    model = KMeans(n_clusters=config.k, n_init=KMEANS_N_INIT, random_state=config.seed)
    with warnings.catch_warnings():
        # fewer distinct points than k: reported below, in words, instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        raw_labels = model.fit_predict(matrix)
    counts = np.bincount(raw_labels, minlength=config.k)
    if (counts == 0).any():
        distinct_points = len(np.unique(matrix, axis=0))
        raise SegmentationError(
            f"Only {distinct_points} distinct customer profiles on these features: "
            f"k = {config.k} segments cannot be told apart. Choose a smaller k or more features."
        )

    # Renumber so that segment 0 is the largest: stable, readable order across reruns.
    order = np.argsort(-counts, kind="stable")
    remap = np.empty_like(order)
    remap[order] = np.arange(config.k)
    labels = remap[raw_labels]
    centers = model.cluster_centers_[order]

    report(60, "Scoring the segments")
    rng = np.random.default_rng(config.seed)
    sample_rows = _sample(rng, n_rows, config.silhouette_sample)
    sample_labels = labels[sample_rows]
    # silhouette and Calinski-Harabasz need 2 <= segments <= customers - 1
    if 1 < len(np.unique(sample_labels)) < len(sample_rows) and config.k < n_rows:
        with sklearn.config_context(working_memory=SILHOUETTE_WORKING_MEMORY_MB):
            silhouette = float(silhouette_score(matrix[sample_rows], sample_labels))
        davies_bouldin = float(davies_bouldin_score(matrix, labels))
        calinski_harabasz = float(calinski_harabasz_score(matrix, labels))
    else:
        silhouette = davies_bouldin = calinski_harabasz = None

    report(75, "Describing the segments")
    profiles = _profiles(values, labels, centers, scaler, config)

    report(85, "Projecting customers to 2-D")
    projection = _projection(values, matrix, labels, rng, config)

    metrics = {
        "n_customers": n_rows,
        "k": config.k,
        "inertia": float(model.inertia_),
        "silhouette": silhouette,
        "silhouette_sample_size": int(len(sample_rows)),
        "davies_bouldin": davies_bouldin,
        "calinski_harabasz": calinski_harabasz,
        "imputed": imputed,
        "iterations": int(model.n_iter_),
    }
    return SegmentationResult(
        labels=labels, segments=profiles, metrics=metrics, projection=projection
    )


def _sample(rng: np.random.Generator, n_rows: int, size: int) -> np.ndarray:
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=size, replace=False))


def _profiles(values, labels, centers, scaler, config) -> list[SegmentProfile]:
    features = list(config.features)
    centroids = scaler.inverse_transform(centers)
    population_mean = values.mean()
    population_std = values.std(ddof=0).replace(0, np.nan)
    grouped = values.groupby(labels)
    means, medians = grouped.mean(), grouped.median()
    sizes = np.bincount(labels, minlength=config.k)
    profiles = []
    for index in range(config.k):
        mean = means.loc[index]
        zscore = ((mean - population_mean) / population_std).fillna(0.0)
        profiles.append(
            SegmentProfile(
                index=index,
                size=int(sizes[index]),
                share=float(sizes[index] / len(labels)),
                label=describe_segment(zscore.to_dict()),
                centroid={name: float(centroids[index][i]) for i, name in enumerate(features)},
                mean={name: float(mean[name]) for name in features},
                median={name: float(medians.loc[index, name]) for name in features},
                zscore={name: float(zscore[name]) for name in features},
            )
        )
    return profiles


def describe_segment(zscore: dict[str, float], limit: int = 2) -> str:
    """A short name from the features that set a segment apart: "High monetary, low recency"."""
    notable = sorted(
        ((name, z) for name, z in zscore.items() if abs(z) >= LABEL_Z_THRESHOLD),
        key=lambda item: -abs(item[1]),
    )[:limit]
    if not notable:
        return "Typical customers"
    words = [f"{'high' if z > 0 else 'low'} {name.replace('_', ' ')}" for name, z in notable]
    text = ", ".join(words)
    return text[0].upper() + text[1:]


def _projection(values, matrix, labels, rng, config) -> Projection:
    rows = _sample(rng, len(labels), config.scatter_sample)
    features = list(config.features)
    if len(features) == 1:
        x = values.iloc[rows, 0].to_numpy()
        jitter = rng.uniform(-0.5, 0.5, size=len(rows))
        return Projection(
            method="features", x_label=features[0], y_label="(spread)",
            x=_round(x), y=_round(jitter), segment=labels[rows].tolist(), row=rows.tolist(),
        )
    if len(features) == 2:
        points = values.iloc[rows].to_numpy()
        return Projection(
            method="features", x_label=features[0], y_label=features[1],
            x=_round(points[:, 0]), y=_round(points[:, 1]),
            segment=labels[rows].tolist(), row=rows.tolist(),
        )
    pca = PCA(n_components=2, random_state=config.seed).fit(matrix[rows])
    points = pca.transform(matrix[rows])
    ratio = pca.explained_variance_ratio_
    return Projection(
        method="pca",
        x_label=f"PC1 ({ratio[0]:.0%} of variance)",
        y_label=f"PC2 ({ratio[1]:.0%} of variance)",
        x=_round(points[:, 0]), y=_round(points[:, 1]),
        segment=labels[rows].tolist(), row=rows.tolist(),
        explained_variance=[float(r) for r in ratio],
    )


def _round(array: np.ndarray) -> list[float]:
    return np.round(np.asarray(array, dtype="float64"), 4).tolist()
