"""The engine's contract: the config that goes in and the result that comes out.

Everything here is plain data (JSON-able once `dataclasses.asdict` is applied, numpy arrays
aside), so the service layer can store it without knowing how it was computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Algorithm names as users type them (CLI, API, form).
ALGORITHMS = (
    "kmeans", "minibatch_kmeans", "gmm", "agglomerative", "dbscan", "hdbscan", "kprototypes", "rfm",
)
# Algorithms that take a number of segments k (and so can choose it automatically).
K_ALGORITHMS = ("kmeans", "minibatch_kmeans", "gmm", "agglomerative", "kprototypes")
# Rules for the automatic choice of k; the first is the default.
K_RULES = ("silhouette", "elbow", "davies_bouldin", "calinski_harabasz", "bic", "aic")
SCALINGS = ("standard", "robust", "minmax", "none")
MISSING_STRATEGIES = ("median", "drop")
GMM_COVARIANCES = ("full", "tied", "diag", "spherical")
LINKAGES = ("ward", "average", "complete")

MIN_K = 2
MAX_K = 50  # beyond this, segments stop being something a marketer can name and act on
DEFAULT_K_MIN, DEFAULT_K_MAX = 2, 10

ProgressCallback = Callable[[int, str], None]


class SegmentationError(ValueError):
    """The data or config cannot be segmented; the message is meant for the user."""


@dataclass(frozen=True)
class SegmentationConfig:
    """What to segment on and how. `k=None` means choose k in [k_min, k_max] by `k_rule`."""

    features: tuple[str, ...]
    k: int | None = 4
    algorithm: str = "kmeans"
    seed: int = 0
    # features among `features` that are categorical (one-hot, or native for k-prototypes)
    categorical: tuple[str, ...] = ()
    k_min: int = DEFAULT_K_MIN
    k_max: int = DEFAULT_K_MAX
    k_rule: str = "silhouette"
    scaling: str = "standard"
    missing: str = "median"
    # numeric features to put on a log scale (preprocess.LogScale: log1p, or asinh where
    # there are negatives such as net returns) before scaling; "auto" applies it to every feature whose skew is
    # above SKEW_THRESHOLD (the result's preprocessing["transforms"] says which, and why)
    log_features: tuple[str, ...] | str = ()
    # clip numeric features at these quantiles, e.g. (0.01, 0.99); None leaves them alone
    clip_quantiles: tuple[float, float] | None = None
    gmm_covariance: str = "full"
    linkage: str = "ward"
    # DBSCAN: None means use the knee of the k-distance curve
    eps: float | None = None
    min_samples: int = 5  # DBSCAN and HDBSCAN
    min_cluster_size: int | None = None  # HDBSCAN; None = about 1 % of customers, at least 5
    stability_resamples: int = 10  # 0 turns the bootstrap off
    silhouette_sample: int = 10_000
    scatter_sample: int = 5_000
    # above this many rows, algorithm "kmeans" switches to mini-batch k-means (said in notes)
    minibatch_threshold: int = 200_000
    # agglomerative on more rows clusters a sample / micro-clusters and assigns the rest
    # scipy's ward linkage keeps an n x n/2 distance matrix: 10,000 rows is ~400 MB, 20,000
    # would be ~1.6 GB on a worker that must stay under 2 GB
    agglomerative_max: int = 10_000
    # a numeric column of the frame (a feature or not) counting each customer's purchases:
    # customers with none (0 or missing) are left out of the run (metrics["no_purchases"]),
    # since purchase features (recency, ...) say nothing about them. None: everyone is kept.
    # RFM rules ignore it: they give such customers their own segment, "No purchases".
    purchases: str | None = None
    # a numeric column of the frame (a feature or not) whose per-segment sum is "revenue"
    revenue: str | None = None
    # ((feature, "Label shown to people"), ...): segment names say "high Spending Score"
    # rather than "high attr spending score 1 100"; a feature not listed is named as it is
    feature_labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rule:
    """A human-readable rule from the surrogate tree, as it scores on the data."""

    text: str  # "annual_income > 70000 and spending_score > 60"
    precision: float  # of the customers the rule selects, the share in the segment
    recall: float  # of the segment's customers, the share the rule selects
    support: int  # customers the rule selects


@dataclass(frozen=True)
class SegmentProfile:
    index: int
    size: int
    share: float  # of customers
    label: str  # short automatic name: "High monetary, low recency"
    centroid: dict[str, float]  # numeric features, in feature units (original scale)
    mean: dict[str, float]
    median: dict[str, float]
    zscore: dict[str, float]  # of the segment mean against the whole population
    # categorical features: share of each value within the segment, {feature: {value: share}}
    categories: dict[str, dict[str, float]] = field(default_factory=dict)
    top_features: list[tuple[str, float]] = field(default_factory=list)  # (feature, z), by |z|
    rules: list[Rule] = field(default_factory=list)
    revenue_share: float | None = None
    is_noise: bool = False  # DBSCAN/HDBSCAN's unassigned customers, shown as their own segment
    stability: float | None = None  # mean bootstrap Jaccard; None when not computed


@dataclass(frozen=True)
class ModelSelection:
    """Curves over k, as evaluated; a metric that does not apply is None at every k."""

    ks: list[int]
    inertia: list[float | None]
    silhouette: list[float | None]
    davies_bouldin: list[float | None]
    calinski_harabasz: list[float | None]
    bic: list[float | None]
    aic: list[float | None]
    knee: int | None  # the elbow of the inertia curve (kneed), when there is one
    rule: str  # the rule used
    rule_text: str  # "k = 4: the highest silhouette (0.62) over k = 2-10"
    chosen_k: int


@dataclass(frozen=True)
class Stability:
    resamples: int
    ari: list[float]  # adjusted Rand index of each resample's labels against the run's
    ari_mean: float
    jaccard: dict[int, float]  # segment index -> mean best-match Jaccard over resamples
    unstable: list[int]  # segment indexes with Jaccard below UNSTABLE_JACCARD
    threshold: float
    sample_size: int  # rows per resample


@dataclass(frozen=True)
class Projection:
    """A sample of customers in two dimensions, for the scatter plot."""

    method: str  # "features" when one or two numeric features were used, else "pca"
    x_label: str
    y_label: str
    x: list[float]
    y: list[float]
    segment: list[int]
    row: list[int]  # positions in the input frame, to look the customers up
    explained_variance: list[float] = field(default_factory=list)
    # PCA loadings: {feature (or one-hot column): [pc1, pc2]}
    loadings: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class SegmentationResult:
    labels: np.ndarray  # segment index per input row (rows dropped for missing values: -1)
    segments: list[SegmentProfile]
    metrics: dict[str, Any]  # n_customers, k, inertia, silhouette, ..., see engine
    projection: Projection
    # how the data was prepared: imputed / dropped / clipped counts, log features, notes
    preprocessing: dict[str, Any]
    selection: ModelSelection | None
    stability: Stability | None
    distance: np.ndarray  # per row: distance to its own segment's centre (scaled space); NaN if none
    nearest_other: np.ndarray  # per row: index of the nearest other segment; -1 if none
    # the fitted preprocessing + model, picklable with joblib; see FittedModel.assign
    model: Any = None
    notes: list[str] = field(default_factory=list)  # said on the run page, e.g. sampling


@dataclass(frozen=True)
class AssignResult:
    """New customers placed in a finished run's segments (FittedModel.assign)."""

    labels: np.ndarray  # segment index per row; -1 when a row cannot be placed (see assign)
    distance: np.ndarray  # to the segment's centre, scaled space; NaN when not placed
    nearest_other: np.ndarray  # index of the nearest other segment; -1 if none
