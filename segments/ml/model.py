"""The fitted model a run leaves behind: assigns new customers to the run's segments.

How a new customer is placed, per algorithm:

* kmeans, minibatch_kmeans, agglomerative: the nearest segment centre (scaled space), which
  for k-means is exactly its predict();
* gmm, kprototypes: the fitted estimator's predict();
* dbscan, hdbscan: the segment of the nearest clustered customer of the run if that one is
  within `radius` (DBSCAN: eps, and only core customers count, as DBSCAN itself does;
  HDBSCAN: the eps suggested by the k-distance knee), otherwise noise ("Outliers (not in any segment)");
* rfm: the run's quintile boundaries (the same scores the customer would have had in the
  run) and the RFM segment rules; a named segment the run did not have gives -1.

With `missing="drop"`, a customer missing a chosen feature gets -1 (the run dropped those);
so does a customer without purchases when the run left those out (config.purchases, when
the frame has that column).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from segments.ml.preprocess import Preprocessor
from segments.ml.types import AssignResult, SegmentationConfig, SegmentationError

# Distances to all centres are computed this many rows at a time, so a million customers
# x 50 centres stays a few tens of MB.
DISTANCE_CHUNK_ROWS = 100_000
# dbscan/hdbscan models keep at most this many of the run's clustered customers as
# references for new ones: enough to cover every segment densely, small to pickle (~3 MB
# at 8 features).
REFERENCE_POINTS = 50_000


@dataclass
class FittedModel:
    config: SegmentationConfig
    algorithm: str  # as run (kmeans may have become minibatch_kmeans)
    preprocessor: Preprocessor
    centres: np.ndarray  # one row per non-noise segment (its index), scaled space
    n_segments: int  # including the noise segment, if any
    noise_index: int | None = None
    segment_labels: list[str] = field(default_factory=list)
    estimator: Any = None  # gmm, kprototypes: predicts raw labels
    remap: np.ndarray | None = None  # raw label -> segment index (-1: a label that got nobody)
    reference_points: np.ndarray | None = None  # dbscan/hdbscan
    reference_labels: np.ndarray | None = None
    radius: float | None = None
    rfm_thresholds: dict[str, list[float]] | None = None
    rfm_segments: dict[str, int] | None = None  # RFM segment name -> segment index
    versions: dict[str, str] = field(default_factory=dict)

    def assign(self, frame: pd.DataFrame) -> AssignResult:
        """Place the rows of `frame` (same feature columns as the run) in the run's segments."""
        missing_columns = [name for name in self.config.features if name not in frame.columns]
        if missing_columns:
            raise SegmentationError(f"Missing feature column(s): {', '.join(missing_columns)}.")
        n_rows = len(frame)
        typed = self.preprocessor.prepare(frame)
        placeable = np.ones(n_rows, dtype=bool)
        if self.config.missing == "drop":
            placeable = typed.notna().all(axis=1).to_numpy()
        purchases = getattr(self.config, "purchases", None)  # models pickled before it existed
        if purchases is not None and self.algorithm != "rfm" and purchases in frame.columns:
            placeable &= pd.to_numeric(frame[purchases], errors="coerce").to_numpy(dtype="float64") > 0
        labels = np.full(n_rows, -1, dtype=np.int64)
        distance = np.full(n_rows, np.nan)
        nearest_other = np.full(n_rows, -1, dtype=np.int64)
        if not placeable.any():
            return AssignResult(labels, distance, nearest_other)
        rows = frame.iloc[np.flatnonzero(placeable)]
        matrix = self.preprocessor.transform(rows)
        placed = self._labels(rows, matrix)
        own, other = distances_to_centres(matrix, placed, self.centres)
        labels[placeable], distance[placeable], nearest_other[placeable] = placed, own, other
        return AssignResult(labels, distance, nearest_other)

    def _labels(self, rows: pd.DataFrame, matrix: np.ndarray) -> np.ndarray:
        if self.algorithm == "rfm":
            return self._rfm_labels(rows)
        if self.algorithm in ("dbscan", "hdbscan"):
            if self.reference_points is None or len(self.reference_points) == 0:
                return np.full(len(matrix), self.noise_index if self.noise_index is not None else -1)
            found, index = NearestNeighbors(n_neighbors=1).fit(self.reference_points).kneighbors(matrix)
            labels = self.reference_labels[index[:, 0]].copy()
            labels[found[:, 0] > self.radius] = -1 if self.noise_index is None else self.noise_index
            return labels
        nearest = nearest_centre(matrix, self.centres)
        if self.estimator is None:
            return nearest
        if self.algorithm == "kprototypes":
            n_numeric = len(self.preprocessor.numeric)
            mixed = np.empty((len(matrix), n_numeric + len(self.preprocessor.categorical)), dtype=object)
            mixed[:, :n_numeric] = matrix[:, :n_numeric]
            mixed[:, n_numeric:] = self.preprocessor.categories(rows)
            raw = np.asarray(self.estimator.predict(mixed, categorical=list(range(n_numeric, mixed.shape[1]))))
        else:
            raw = self.estimator.predict(matrix)
        labels = self.remap[raw]
        return np.where(labels >= 0, labels, nearest)

    def _rfm_labels(self, rows: pd.DataFrame) -> np.ndarray:
        from customers.analytics.rfm import NO_PURCHASES, RFM_SEGMENTS

        values = {name: pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype="float64")
                  for name in ("recency", "frequency", "monetary")}
        scored = (values["frequency"] > 0) & ~np.isnan(values["recency"]) & ~np.isnan(values["monetary"])
        scores = {}
        for name, thresholds in self.rfm_thresholds.items():
            column = values[name]
            if name == "recency":  # lower is better: score s needs recency below its boundary
                scores[name] = 1 + sum((column < t).astype(int) for t in thresholds)
            else:
                scores[name] = 1 + sum((column > t).astype(int) for t in thresholds)
        names = np.select(
            [segment.matches(scores["recency"], scores["frequency"], scores["monetary"]) for segment in RFM_SEGMENTS],
            [segment.name for segment in RFM_SEGMENTS], default="",
        )
        names = np.where(scored, names, NO_PURCHASES)
        return np.array([self.rfm_segments.get(name, -1) for name in names], dtype=np.int64)


def rfm_thresholds(values: pd.DataFrame) -> dict[str, list[float]]:
    """The values at the run's quintile boundaries, so new customers get the scores
    `customers.analytics.rfm.quintile_scores` would have given them in the run.

    Score >= s needs at least ceil((s-1) n / 5) scored customers strictly worse, i.e. a value
    beyond the ceil((s-1) n / 5)-th worst one."""
    scored = values[(values["frequency"] > 0) & values["recency"].notna() & values["monetary"].notna()]
    n = len(scored)
    out = {}
    for name, higher_is_better in (("recency", False), ("frequency", True), ("monetary", True)):
        worst_first = np.sort(scored[name].to_numpy(dtype="float64"))
        if not higher_is_better:
            worst_first = worst_first[::-1]
        out[name] = [float(worst_first[int(np.ceil((s - 1) * n / 5)) - 1]) for s in range(2, 6)] if n else []
    return out


def nearest_centre(matrix: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return distances_to_centres(matrix, None, centres)[1]


def distances_to_centres(
    matrix: np.ndarray, labels: np.ndarray | None, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(distance to the row's own centre, index of the nearest other centre). Rows whose label
    has no centre (noise, -1) get NaN and their nearest centre. With labels=None: (NaN, the
    nearest centre)."""
    n_rows, n_centres = len(matrix), len(centres)
    own = np.full(n_rows, np.nan)
    other = np.full(n_rows, -1, dtype=np.int64)
    if n_centres == 0:
        return own, other
    squared_centres = (centres ** 2).sum(axis=1)
    for start in range(0, n_rows, DISTANCE_CHUNK_ROWS):
        block = matrix[start:start + DISTANCE_CHUNK_ROWS]
        squared = np.maximum((block ** 2).sum(axis=1)[:, None] + squared_centres - 2 * block @ centres.T, 0.0)
        if labels is None:
            other[start:start + len(block)] = np.argmin(squared, axis=1)
            continue
        block_labels = labels[start:start + len(block)]
        has_centre = (block_labels >= 0) & (block_labels < n_centres)
        positions = np.flatnonzero(has_centre)
        own_block = np.full(len(block), np.nan)
        own_block[positions] = np.sqrt(squared[positions, block_labels[positions]])
        if n_centres > 1:
            squared[positions, block_labels[positions]] = np.inf
            other[start:start + len(block)] = np.argmin(squared, axis=1)
        else:
            other[start:start + len(block)] = np.where(has_centre, -1, 0)
        own[start:start + len(block)] = own_block
    return own, other
