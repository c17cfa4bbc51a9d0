"""The clustering algorithms behind one interface: `make_fitter(...)(k) -> Fit`.

A fitter is made once per run (or per bootstrap resample) on a matrix and returns raw labels
for a given k (-1 = noise for DBSCAN/HDBSCAN). Work that does not depend on k is done once:
agglomerative clustering builds its merge tree once and cuts it at every k.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from kneed import KneeLocator
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from segments.ml.model import nearest_centre
from segments.ml.types import SegmentationConfig, SegmentationError

# k-means++ restarts on large data: 4 finds the same optimum as sklearn's old default of 10
# on the planted and a million-customer synthetic set, at 40 % of the cost.
KMEANS_N_INIT = 4
# On small data (the Mall's 200 customers, any shop under ~50,000) restarts cost little
# and 4 is not enough: unscaled Mall features with k = 5 ended in a local optimum 4
# restarts in. sklearn's classic 10 there.
KMEANS_SMALL_N_INIT = 10
KMEANS_SMALL_ROWS = 50_000
# Mini-batch k-means: restarts of the (cheap, sampled) initialisation; sklearn's own
# default for random-style init, and the full passes dominate the cost anyway.
MINIBATCH_N_INIT = 3
# Mini-batch size: 4 x sklearn's 1024, since at the sizes where mini-batch is used
# (> 200k rows) larger batches give k-means-like inertia for little extra time.
MINIBATCH_BATCH_SIZE = 4096
# k-prototypes restarts: its kmodes implementation loops over points in Python, so few.
KPROTOTYPES_N_INIT = 2
# The k-distance curve (to suggest DBSCAN's eps) is computed for at most this many
# customers, each against all the others: the knee is as sharp on 20k as on 1M points.
EPS_SAMPLE = 20_000
# If the k-distance curve has no knee, eps is this quantile of it: it leaves the 5 % most
# isolated customers as noise, a typical share.
EPS_FALLBACK_QUANTILE = 0.95
# HDBSCAN's default smallest segment: 1 % of customers (a segment smaller than that is
# rarely worth a campaign), but at least 5 points (sklearn's own default).
HDBSCAN_MIN_SHARE = 0.01
HDBSCAN_MIN_SIZE = 5


@dataclass
class Fit:
    labels: np.ndarray  # raw labels per row, -1 = noise
    centres: np.ndarray | None = None  # per raw label, scaled space; None -> segment means
    estimator: Any = None
    inertia: float | None = None
    bic: float | None = None
    aic: float | None = None
    n_iter: int | None = None
    extra: dict = field(default_factory=dict)


def suggest_eps(matrix: np.ndarray, min_samples: int, seed: int) -> tuple[float, bool]:
    """eps at the knee of the sorted k-distance curve (k = min_samples); (eps, knee found)."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(matrix))
    if len(rows) > EPS_SAMPLE:
        rows = np.sort(rng.choice(len(matrix), EPS_SAMPLE, replace=False))
    neighbours = min(min_samples, len(matrix))
    # the sampled customers' neighbours among all customers, so the density is the data's
    distances, _ = NearestNeighbors(n_neighbors=neighbours).fit(matrix).kneighbors(matrix[rows])
    curve = np.sort(distances[:, -1])
    knee = None
    if len(curve) >= 3 and curve[-1] > curve[0]:
        # Polynomial smoothing: kneed's default (piecewise-linear) locks on to the far tail
        # when 5 % or more of customers are scattered noise (eps then swallowed the noise;
        # measured on planted blobs + 0-12 % uniform noise); the smoothed knee sits where
        # the curve leaves the dense customers, at the cost of a few edge points as noise.
        knee = KneeLocator(np.arange(len(curve)), curve, curve="convex", direction="increasing",
                           interp_method="polynomial").knee
    if knee is None:
        return float(np.quantile(curve, EPS_FALLBACK_QUANTILE)), False
    return float(curve[int(knee)]), True


def kmeans_n_init(n_rows: int) -> int:
    """k-means++ restarts for `n_rows` customers: more where they are cheap."""
    return KMEANS_SMALL_N_INIT if n_rows <= KMEANS_SMALL_ROWS else KMEANS_N_INIT


def hdbscan_min_cluster_size(config: SegmentationConfig, n_rows: int) -> int:
    if config.min_cluster_size is not None:
        return int(config.min_cluster_size)
    return max(HDBSCAN_MIN_SIZE, int(round(HDBSCAN_MIN_SHARE * n_rows)))


def make_fitter(
    algorithm: str,
    matrix: np.ndarray,
    config: SegmentationConfig,
    *,
    seed: int,
    categories: np.ndarray | None = None,
    n_numeric: int = 0,
    eps: float | None = None,
    min_cluster_size: int | None = None,
) -> Callable[[int | None], Fit]:
    """A function k -> Fit for `algorithm` on `matrix` (rows = customers, scaled space)."""
    if algorithm == "kmeans":
        def fit(k):
            model = KMeans(n_clusters=k, n_init=kmeans_n_init(len(matrix)), random_state=seed)
            labels = _quietly(model.fit_predict, matrix)
            return Fit(labels, model.cluster_centers_, model, float(model.inertia_), n_iter=int(model.n_iter_))
        return fit

    if algorithm == "minibatch_kmeans":
        def fit(k):
            model = MiniBatchKMeans(
                n_clusters=k, n_init=MINIBATCH_N_INIT, batch_size=MINIBATCH_BATCH_SIZE, random_state=seed,
            )
            labels = _quietly(model.fit_predict, matrix)
            return Fit(labels, model.cluster_centers_, model, float(model.inertia_), n_iter=int(model.n_iter_))
        return fit

    if algorithm == "gmm":
        def fit(k):
            model = GaussianMixture(n_components=k, covariance_type=config.gmm_covariance, random_state=seed)
            _quietly(model.fit, matrix)
            labels = model.predict(matrix)
            return Fit(labels, model.means_, model, bic=float(model.bic(matrix)), aic=float(model.aic(matrix)),
                       n_iter=int(model.n_iter_))
        return fit

    if algorithm == "agglomerative":
        return _agglomerative_fitter(matrix, config, seed)

    if algorithm == "dbscan":
        def fit(k=None):
            model = DBSCAN(eps=eps, min_samples=config.min_samples)
            labels = model.fit_predict(matrix)
            return Fit(labels, None, model)
        return fit

    if algorithm == "hdbscan":
        def fit(k=None):
            model = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=config.min_samples, copy=True)
            labels = model.fit_predict(matrix)
            return Fit(labels, None, model)
        return fit

    if algorithm == "kprototypes":
        from kmodes.kprototypes import KPrototypes

        mixed = np.empty((len(matrix), n_numeric + categories.shape[1]), dtype=object)
        mixed[:, :n_numeric] = matrix[:, :n_numeric]
        mixed[:, n_numeric:] = categories
        categorical_columns = list(range(n_numeric, mixed.shape[1]))

        def fit(k):
            model = KPrototypes(n_clusters=k, init="Cao", n_init=KPROTOTYPES_N_INIT, random_state=seed, n_jobs=1)
            labels = _quietly(model.fit_predict, mixed, categorical=categorical_columns)
            return Fit(np.asarray(labels), None, model, n_iter=int(model.n_iter_),
                       extra={"cost": float(model.cost_), "gamma": float(model.gamma)})
        return fit

    raise SegmentationError(f"Unknown algorithm {algorithm!r}.")


def _agglomerative_fitter(matrix, config, seed):
    n_rows = len(matrix)
    sampled = n_rows > config.agglomerative_max
    if sampled:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(n_rows, config.agglomerative_max, replace=False))
    else:
        rows = np.arange(n_rows)
    # one merge tree, cut at every k: the same as AgglomerativeClustering(k) for each k
    tree = linkage(matrix[rows], method=config.linkage, metric="euclidean")

    def fit(k):
        sample_labels = fcluster(tree, k, criterion="maxclust") - 1
        present = np.unique(sample_labels)
        centres = np.vstack([matrix[rows][sample_labels == label].mean(axis=0) for label in present])
        sample_labels = np.searchsorted(present, sample_labels)
        if sampled:
            labels = nearest_centre(matrix, centres)
            labels[rows] = sample_labels
        else:
            labels = sample_labels
        return Fit(labels, centres, None, extra={"sampled_rows": int(len(rows)) if sampled else None})
    return fit


def _quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        # fewer distinct points than k: the engine says so in words instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)
