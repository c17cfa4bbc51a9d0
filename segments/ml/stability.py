"""Bootstrap stability: would the segments come back on a resample of the customers?

Each resample draws customers with replacement, refits the run's algorithm with its k, and
compares with the run's own labels on the drawn customers: the adjusted Rand index overall,
and per segment the Jaccard similarity to its best-matching new segment (Hennig 2007,
"Cluster-wise assessment of cluster stability"). A segment's stability is its mean Jaccard.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import adjusted_rand_score

from segments.ml.types import Stability

# Hennig's reading of the mean Jaccard: below 0.5 a segment "dissolves", 0.6-0.75 shows a
# pattern but which points belong is doubtful, above 0.85 it is highly stable. Below 0.6 we
# flag the segment as unstable: not something to build a campaign on.
UNSTABLE_JACCARD = 0.6
DISSOLVED_JACCARD = 0.5
# Each resample refits on at most this many customers. Measured at 100k x 8, k = 4: a
# k-means fit on 10k rows takes 0.03-0.08 s, on 20k 0.3-0.7 s (as much as 100k: the
# restarts' fixed costs dominate), so ten resamples of 10k add ~1 s to a run and keep it
# within 1.3x a plain scikit-learn script (bench/README.md). A segment of 5 % still has
# ~500 members per resample, plenty for its Jaccard.
STABILITY_MAX_ROWS = 10_000
# Algorithms whose fit grows faster than linearly (or loops in Python) get smaller
# resamples, so that stability stays a small part of the run: agglomerative is O(n^2) in
# time and memory, k-prototypes (kmodes) loops over points in Python, DBSCAN/HDBSCAN
# build neighbourhoods per point.
SLOW_ALGORITHM_MAX_ROWS = {"agglomerative": 5_000, "kprototypes": 2_000, "dbscan": 10_000, "hdbscan": 10_000}
# Fewer customers than this and a resample is too small to say anything about stability.
STABILITY_MIN_ROWS = 20

Refit = Callable[[np.ndarray, int], np.ndarray]  # (row positions, seed) -> labels


def bootstrap(
    labels: np.ndarray,
    n_segments: int,
    refit: Refit,
    *,
    algorithm: str,
    resamples: int,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> Stability | None:
    """`labels`: the run's (noise -1, segments 0..n_segments-1) over the matrix `refit` sees."""
    n_rows = len(labels)
    if resamples <= 0 or n_rows < STABILITY_MIN_ROWS:
        return None
    rng = np.random.default_rng([seed, 1])
    max_rows = min(STABILITY_MAX_ROWS, SLOW_ALGORITHM_MAX_ROWS.get(algorithm, STABILITY_MAX_ROWS))
    size = min(n_rows, max_rows)
    pool = np.arange(n_rows) if n_rows <= size else np.sort(rng.choice(n_rows, size, replace=False))
    aris: list[float] = []
    jaccards: list[list[float]] = [[] for _ in range(n_segments)]
    for resample in range(resamples):
        if progress:
            progress(resample, resamples)
        drawn = rng.choice(pool, size=size, replace=True)
        try:
            new_labels = refit(drawn, seed + 1 + resample)
        except ValueError:
            continue  # too few distinct points in this draw for k: skip it
        aris.append(float(adjusted_rand_score(labels[drawn], new_labels)))
        # each drawn customer once (duplicates carry no new information for Jaccard)
        unique_rows, first = np.unique(drawn, return_index=True)
        for segment, value in enumerate(_best_jaccard(labels[unique_rows], new_labels[first], n_segments)):
            if not np.isnan(value):
                jaccards[segment].append(value)
    if not aris:
        return None
    jaccard = {segment: float(np.mean(values)) for segment, values in enumerate(jaccards) if values}
    return Stability(
        resamples=len(aris),
        ari=[round(value, 4) for value in aris],
        ari_mean=float(np.mean(aris)),
        jaccard=jaccard,
        unstable=[segment for segment, value in jaccard.items() if value < UNSTABLE_JACCARD],
        threshold=UNSTABLE_JACCARD,
        sample_size=int(size),
    )


def _best_jaccard(original: np.ndarray, new: np.ndarray, n_segments: int) -> np.ndarray:
    """Per original segment, the Jaccard index with its best-matching new segment."""
    new_segments = np.unique(new[new >= 0])
    out = np.full(n_segments, np.nan)
    if len(new_segments) == 0:
        return out
    new_index = np.searchsorted(new_segments, new)
    for segment in range(n_segments):
        members = original == segment
        size = int(members.sum())
        if size == 0:
            continue
        clustered = new >= 0
        overlap = np.bincount(new_index[members & clustered], minlength=len(new_segments))
        new_sizes = np.bincount(new_index[clustered], minlength=len(new_segments))
        out[segment] = float((overlap / (size + new_sizes - overlap)).max())
    return out
