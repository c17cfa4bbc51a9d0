"""Segmentation engine: a feature table and a config in, a result dataclass out.

No Django here (tests/segments/ml/test_no_django.py enforces it): the service layer turns
database rows into a DataFrame, calls `segment`, and persists the result.

Stages: preprocess (preprocess.py) -> fit, choosing k when asked (algorithms.py,
selection.py) -> number segments largest first, noise last -> distances to centres ->
bootstrap stability (stability.py) -> profiles and surrogate rules (explain.py) -> 2-D view.

result.metrics keys (JSON-able; a key that does not apply is absent or None):
  n_customers (all rows in), no_purchases (left out: no purchase, see config.purchases),
  dropped (left out: a missing value), n_segmented (the rest: in a segment or outliers),
  imputed {feature: count}, n_init (k-means restarts),
  algorithm (as run: kmeans may become minibatch_kmeans), k (segments, noise not counted),
  inertia, silhouette, silhouette_sample_size, davies_bouldin, calinski_harabasz (noise left
  out of all scores), bic, aic (gmm), iterations, kprototypes_gamma, eps, eps_suggested,
  min_samples, min_cluster_size, noise_count, noise_share (dbscan/hdbscan),
  stability_ari_mean, rules_sample_size.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from segments.ml import explain
from segments.ml.algorithms import (
    KMEANS_N_INIT,  # noqa: F401  (bench/run.py reads it from here)
    Fit,
    hdbscan_min_cluster_size,
    kmeans_n_init,
    make_fitter,
    suggest_eps,
)
from segments.ml.model import REFERENCE_POINTS, FittedModel, distances_to_centres, rfm_thresholds
from segments.ml.preprocess import Prepared, prepare, unscaled_warning
from segments.ml.selection import choose_k, sample_rows, score, segment_means, within_sum_of_squares
from segments.ml.stability import bootstrap
from segments.ml.types import (
    K_ALGORITHMS,
    AssignResult,
    ProgressCallback,
    SegmentationConfig,
    SegmentationError,
    SegmentationResult,
)
from segments.ml.validation import RFM_COLUMNS, validate_config

# Progress percentages at which each stage starts; fitting takes most of a run.
PROGRESS_FIT, PROGRESS_SCORE, PROGRESS_STABILITY, PROGRESS_EXPLAIN, PROGRESS_PROJECT = 5, 60, 65, 85, 95


def _noop(percent: int, stage: str) -> None:
    return None


def segment(
    frame: pd.DataFrame, config: SegmentationConfig, progress: ProgressCallback | None = None
) -> SegmentationResult:
    """Segment the rows of `frame` (one per customer) on `config.features`."""
    report = progress or _noop
    validate_config(config)
    if len(frame) == 0:
        raise SegmentationError("There are no customers to segment.")
    unknown = [name for name in config.features if name not in frame.columns]
    if unknown:
        raise SegmentationError(f"Unknown feature(s): {', '.join(unknown)}.")
    revenue = None
    if config.revenue is not None:
        if config.revenue not in frame.columns:
            raise SegmentationError(f"Unknown revenue column {config.revenue!r}.")
        revenue = pd.to_numeric(frame[config.revenue], errors="coerce").to_numpy(dtype="float64")
    n_customers = len(frame)
    notes: list[str] = []
    buyers = _buyers(frame, config)
    if not buyers.all():
        # segmenting customers who never bought on purchase features would place them by
        # imputed values among recent, regular buyers: they are left out and counted instead
        frame = frame.iloc[buyers]
        revenue = None if revenue is None else revenue[buyers]
        notes.append(f"{n_customers - len(frame):,} customers without any purchase were left out: purchase "
                     f"features such as recency say nothing about them. They are in no segment of this run.")
    rows_in = np.flatnonzero(buyers)  # positions in the input frame of the rows segmented from here on

    report(0, "Preprocessing")
    prepared = prepare(frame, config)
    matrix = prepared.matrix
    n_rows = len(prepared.kept)
    if prepared.report["dropped"]:
        notes.append(f"{prepared.report['dropped']:,} customers missing a value of a chosen feature were "
                     f"left out: they are in no segment of this run.")
    if config.scaling == "none":
        notes.extend(unscaled_warning(prepared, dict(config.feature_labels)))
    algorithm = config.algorithm
    if algorithm == "kmeans" and n_rows > config.minibatch_threshold:
        algorithm = "minibatch_kmeans"
        notes.append(f"{n_rows:,} customers is more than {config.minibatch_threshold:,}, so mini-batch "
                     f"k-means was used instead of k-means (much faster, nearly the same segments).")
    if config.algorithm in K_ALGORITHMS and config.k is not None and config.k > n_rows:
        raise SegmentationError(f"k = {config.k} is more than the {n_rows} customers there are to segment.")

    rng = np.random.default_rng(config.seed)
    score_rows = sample_rows(rng, n_rows, config.silhouette_sample)
    sampled_silhouette = len(score_rows) if len(score_rows) < n_rows else None
    categories = prepared.preprocessor.categories(frame.iloc[prepared.kept]) if algorithm == "kprototypes" else None
    n_numeric = len(prepared.preprocessor.numeric)
    metrics: dict = {
        "n_customers": int(n_customers),
        "no_purchases": int(n_customers - len(frame)),
        "n_segmented": n_rows,
        "algorithm": algorithm,
        "imputed": prepared.report["imputed"],
        "dropped": prepared.report["dropped"],
        "silhouette_sample_size": int(len(score_rows)),
    }
    selection = None
    names = None
    eps_used = None
    min_cluster_size = None
    fit: Fit | None = None

    if algorithm == "rfm":
        report(PROGRESS_FIT, "Scoring RFM")
        raw_labels, rfm_names = _rfm_labels(prepared)
        notes.append("RFM segments come from rules on the recency, frequency and monetary quintile scores: "
                     "k is ignored, and there is no bootstrap stability (the rules are deterministic).")
    else:
        if algorithm in ("dbscan", "hdbscan"):
            eps_suggested, knee_found = suggest_eps(matrix, config.min_samples, config.seed)
            metrics["eps_suggested"] = round(eps_suggested, 6)
            metrics["min_samples"] = config.min_samples
            if algorithm == "dbscan":
                eps_used = config.eps if config.eps is not None else eps_suggested
                metrics["eps"] = round(eps_used, 6)
                if config.eps is None:
                    how = "the knee of" if knee_found else "the 95th percentile of (no knee in)"
                    notes.append(f"eps = {eps_used:.3g}, from {how} the {config.min_samples}-distance curve.")
            else:
                eps_used = eps_suggested
                min_cluster_size = hdbscan_min_cluster_size(config, n_rows)
                metrics["min_cluster_size"] = min_cluster_size
        fitter = make_fitter(algorithm, matrix, config, seed=config.seed, categories=categories,
                             n_numeric=n_numeric, eps=eps_used, min_cluster_size=min_cluster_size)
        if algorithm in K_ALGORITHMS and config.k is None:
            fit, selection = _select(fitter, matrix, score_rows, config, sampled_silhouette, report, n_rows)
        else:
            k = config.k if algorithm in K_ALGORITHMS else None
            if k is not None:
                report(PROGRESS_FIT, f"Fitting k = {k} (1 of 1)")
            else:
                report(PROGRESS_FIT, f"Fitting {algorithm}")
            fit = fitter(k)
            if k is not None:
                _check_segments(fit, k, matrix)
        raw_labels = fit.labels
        if algorithm == "agglomerative" and fit.extra.get("sampled_rows"):
            notes.append(f"Agglomerative clustering ran on a random sample of {fit.extra['sampled_rows']:,} of the "
                         f"{n_rows:,} customers (more than {config.agglomerative_max:,}); the others were assigned "
                         f"to the nearest segment centre.")

    report(PROGRESS_SCORE, "Scoring")
    labels, order = _largest_first(raw_labels)
    n_clusters = len(order)
    noise = labels < 0
    noise_index = n_clusters if noise.any() else None
    n_segments = n_clusters + (1 if noise_index is not None else 0)
    if algorithm == "rfm":
        names = [rfm_names[raw] for raw in order]
    if fit is not None and fit.centres is not None:  # k-means, GMM means, agglomerative sample means
        centres = np.asarray(fit.centres, dtype="float64")[order]
    else:  # DBSCAN, HDBSCAN, k-prototypes, RFM: the segments' means in the scaled space
        centres = segment_means(matrix, labels, n_clusters)
    if selection is not None:
        chosen = selection.ks.index(selection.chosen_k)
        metrics.update(inertia=selection.inertia[chosen], silhouette=selection.silhouette[chosen],
                       davies_bouldin=selection.davies_bouldin[chosen],
                       calinski_harabasz=selection.calinski_harabasz[chosen],
                       bic=selection.bic[chosen], aic=selection.aic[chosen])
    else:
        metrics.update(score(matrix, labels, score_rows))
        inertia = fit.inertia if fit is not None and fit.inertia is not None else \
            within_sum_of_squares(matrix, labels, segment_means(matrix, labels, n_clusters))
        metrics.update(inertia=float(inertia), bic=fit.bic if fit else None, aic=fit.aic if fit else None)
    metrics["k"] = n_clusters
    if fit is not None and fit.n_iter is not None:
        metrics["iterations"] = fit.n_iter
    if algorithm == "kmeans":
        metrics["n_init"] = kmeans_n_init(n_rows)
    if fit is not None and "gamma" in fit.extra:
        metrics["kprototypes_gamma"] = fit.extra["gamma"]
    if noise_index is not None or algorithm in ("dbscan", "hdbscan"):
        metrics["noise_count"] = int(noise.sum())
        metrics["noise_share"] = float(noise.mean())
        if noise_index is not None:
            notes.append(f"{int(noise.sum()):,} customers fit no dense group; they are shown as the last segment, "
                         f"\"{explain.NOISE_LABEL}\". Scores leave them out.")
    if sampled_silhouette:
        notes.append(f"Silhouette was computed on a random sample of {sampled_silhouette:,} customers.")
    final_labels = np.where(noise, noise_index if noise_index is not None else -1, labels)
    distance, nearest_other = distances_to_centres(matrix, final_labels, centres)

    stability = None
    if algorithm != "rfm" and config.stability_resamples > 0:
        k_refit = n_clusters if algorithm in K_ALGORITHMS else None

        def refit(rows, seed):
            refitter = make_fitter(
                algorithm, matrix[rows], config, seed=seed,
                categories=None if categories is None else categories[rows], n_numeric=n_numeric, eps=eps_used,
                min_cluster_size=None if min_cluster_size is None else max(2, round(min_cluster_size * len(rows) / n_rows)),
            )
            return refitter(k_refit).labels

        def stability_progress(done, total):
            span = PROGRESS_EXPLAIN - PROGRESS_STABILITY
            report(PROGRESS_STABILITY + span * done // total, f"Stability (resample {done + 1} of {total})")

        stability = bootstrap(labels, n_clusters, refit, algorithm=algorithm, resamples=config.stability_resamples,
                              seed=config.seed, progress=stability_progress)
        if stability is None:
            notes.append("Stability was not measured: too few customers to resample.")
        else:
            metrics["stability_ari_mean"] = round(stability.ari_mean, 4)
            if stability.sample_size < n_rows:
                notes.append(f"Stability: {stability.resamples} bootstrap resamples of {stability.sample_size:,} "
                             f"customers each.")

    report(PROGRESS_EXPLAIN, "Explaining segments")
    feature_labels = dict(config.feature_labels)
    rules = explain.surrogate_rules(prepared, final_labels, list(range(n_clusters)), seed=config.seed,
                                    feature_labels=feature_labels)
    metrics["rules_sample_size"] = int(min(n_rows, explain.RULE_SAMPLE))
    centroids = prepared.preprocessor.to_feature_units(
        np.vstack([centres, segment_means(matrix, final_labels, n_segments)[n_clusters:]])[:, :n_numeric]
    ) if n_numeric else np.zeros((n_segments, 0))
    profiles = explain.profiles(
        prepared, final_labels, centroids, n_segments=n_segments, noise_index=noise_index, names=names,
        revenue=None if revenue is None else revenue[prepared.kept], rules=rules,
        stability=None if stability is None else stability.jaccard, feature_labels=feature_labels,
    )

    report(PROGRESS_PROJECT, "Projecting")
    scatter_rows = sample_rows(rng, n_rows, config.scatter_sample)
    projection = explain.projection(prepared, final_labels, scatter_rows, rng, config.seed, feature_labels)

    model = _model(config, algorithm, prepared, fit, centres, order, final_labels, n_segments, noise_index,
                   eps_used, profiles, names, rng)
    segmented = rows_in[prepared.kept]
    all_labels = np.full(n_customers, -1, dtype=np.int64)
    all_labels[segmented] = final_labels
    all_distance = np.full(n_customers, np.nan)
    all_distance[segmented] = distance
    all_nearest = np.full(n_customers, -1, dtype=np.int64)
    all_nearest[segmented] = nearest_other
    report(100, "Done")
    return SegmentationResult(
        labels=all_labels, segments=profiles, metrics=metrics, projection=projection,
        preprocessing=prepared.report, selection=selection, stability=stability,
        distance=all_distance, nearest_other=all_nearest, model=model, notes=notes,
    )


def assign(model: FittedModel, frame: pd.DataFrame) -> AssignResult:
    """New customers in a finished run's segments; see FittedModel.assign."""
    return model.assign(frame)


def _select(fitter, matrix, score_rows, config, sampled_silhouette, report, n_rows):
    ks = list(range(config.k_min, min(config.k_max, n_rows - 1) + 1))
    if not ks:
        raise SegmentationError(
            f"There are only {n_rows} customers: too few to compare k = {config.k_min}-{config.k_max}."
        )
    curves = {name: [] for name in ("inertia", "silhouette", "davies_bouldin", "calinski_harabasz", "bic", "aic")}
    fits = {}
    for position, k in enumerate(ks):
        report(PROGRESS_FIT + (PROGRESS_SCORE - PROGRESS_FIT) * position // len(ks),
               f"Fitting k = {k} ({position + 1} of {len(ks)})")
        fit = fitter(k)
        if len(np.unique(fit.labels[fit.labels >= 0])) < k:
            if position == 0:
                _check_segments(fit, k, matrix)
            ks = ks[:position]  # too few distinct customers for this k and beyond
            break
        fits[k] = fit
        scores = score(matrix, fit.labels, score_rows)
        inertia = fit.inertia if fit.inertia is not None else \
            within_sum_of_squares(matrix, fit.labels, segment_means(matrix, fit.labels, k))
        for name, value in (("inertia", inertia), *scores.items(), ("bic", fit.bic), ("aic", fit.aic)):
            curves[name].append(None if value is None else float(value))
    selection = choose_k(curves, ks, config.k_rule, sampled_silhouette)
    return fits[selection.chosen_k], selection


def _check_segments(fit: Fit, k: int, matrix: np.ndarray) -> None:
    found = len(np.unique(fit.labels[fit.labels >= 0]))
    if found < k:
        distinct = len(np.unique(matrix, axis=0))
        if distinct < k:
            raise SegmentationError(
                f"Only {distinct} distinct customer profiles on these features: k = {k} segments cannot be "
                f"told apart. Choose a smaller k or more features."
            )
        raise SegmentationError(
            f"Only {found} of the k = {k} segments got customers with this algorithm; choose a smaller k."
        )


def _buyers(frame: pd.DataFrame, config: SegmentationConfig) -> np.ndarray:
    """Rows with at least one purchase by `config.purchases`; all rows when it is not set.
    RFM rules keep everyone: they name customers without purchases "No purchases"."""
    if config.purchases is None or config.algorithm == "rfm":
        return np.ones(len(frame), dtype=bool)
    if config.purchases not in frame.columns:
        raise SegmentationError(f"Unknown purchases column {config.purchases!r}.")
    bought = pd.to_numeric(frame[config.purchases], errors="coerce").to_numpy(dtype="float64") > 0
    if not bought.any():
        raise SegmentationError(
            "No customer has bought anything yet, so purchase features such as recency, frequency and "
            "spend say nothing. Import transactions, or choose features from the customer record (age, income)."
        )
    return bought


def _largest_first(raw_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments renumbered 0 = largest (ties: lower raw label first), noise stays -1.
    Returns (labels, order) where order[i] is the raw label of segment i."""
    raw_labels = np.asarray(raw_labels)
    clustered = raw_labels >= 0
    present, counts = np.unique(raw_labels[clustered], return_counts=True)
    order = present[np.argsort(-counts, kind="stable")]
    lookup = np.full(int(raw_labels.max()) + 1 if clustered.any() else 1, -1, dtype=np.int64)
    lookup[order] = np.arange(len(order))
    labels = np.where(clustered, lookup[np.where(clustered, raw_labels, 0)], -1)
    return labels.astype(np.int64), order


def _rfm_labels(prepared: Prepared) -> tuple[np.ndarray, list[str]]:
    from customers.analytics.rfm import rfm_scores

    names = rfm_scores(prepared.values[list(RFM_COLUMNS)])["rfm_segment"].to_numpy(dtype=object)
    unique, raw = np.unique(names.astype(str), return_inverse=True)
    return raw.astype(np.int64), [str(name) for name in unique]


def _model(config, algorithm, prepared, fit, centres, order, final_labels, n_segments, noise_index, eps_used,
           profiles, names, rng) -> FittedModel:
    model = FittedModel(
        config=config, algorithm=algorithm, preprocessor=prepared.preprocessor, centres=centres,
        n_segments=n_segments, noise_index=noise_index, segment_labels=[p.label for p in profiles],
        versions=_versions(),
    )
    if algorithm in ("gmm", "kprototypes"):
        model.estimator = fit.estimator
        n_raw = fit.estimator.n_components if algorithm == "gmm" else fit.estimator.n_clusters
        remap = np.full(n_raw, -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        model.remap = remap
    elif algorithm in ("dbscan", "hdbscan"):
        if algorithm == "dbscan":
            reference = np.zeros(len(final_labels), dtype=bool)
            reference[fit.estimator.core_sample_indices_] = True
        else:
            reference = final_labels != (noise_index if noise_index is not None else -1)
        rows = np.flatnonzero(reference)
        if len(rows) > REFERENCE_POINTS:
            rows = np.sort(rng.choice(rows, REFERENCE_POINTS, replace=False))
        model.reference_points = prepared.matrix[rows]
        model.reference_labels = final_labels[rows]
        model.radius = eps_used
    elif algorithm == "rfm":
        model.rfm_thresholds = rfm_thresholds(prepared.values[list(RFM_COLUMNS)])
        model.rfm_segments = {name: index for index, name in enumerate(names)}
    return model


def _versions() -> dict[str, str]:
    out = {}
    for package in ("scikit-learn", "numpy", "pandas", "scipy", "kmodes", "kneed"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out
