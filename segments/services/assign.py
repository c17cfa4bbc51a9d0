"""Placing customers in the segments of a finished run with its stored model."""

from __future__ import annotations

import functools

import joblib
import numpy as np
import pandas as pd
from django.core.files.storage import default_storage

from customers.selectors import customer_feature_frame, customer_ids_by_external_id, feature_catalogue
from segments import ml
from segments.models import SegmentationRun
from segments.services.execute import purchases_column


class AssignError(Exception):
    """Customers cannot be assigned; the message is meant for the caller."""


# One request assigns at most this many customers: a batch for an integration, small
# enough that the request never holds more than a few MB.
MAX_ASSIGN_BATCH = 1000


@functools.lru_cache(maxsize=4)
def _load_model(run_id: int, name: str):
    with default_storage.open(name, "rb") as handle:
        return joblib.load(handle)


def _library_mismatch(model_info: dict) -> str:
    import sklearn

    current = {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__}
    stored = {key.replace("sklearn", "scikit-learn"): value for key, value in (model_info or {}).items()}
    differing = [f"{lib} {stored[lib]} (this server has {version})" for lib, version in current.items()
                 if lib in stored and stored[lib] != version]
    return ", ".join(differing)


def customers_assign(*, run: SegmentationRun, external_ids: list[str] | None = None,
                     rows: list[dict] | None = None) -> list[dict]:
    """Assign customers to the segments of `run` with its stored preprocessing and model.

    `external_ids` are existing customers (their current features are read); `rows` are
    feature values of customers not imported yet ({"recency": 12, "monetary": 340, ...};
    a feature left out counts as missing and is filled the way the run filled gaps).
    """
    if run.status != SegmentationRun.Status.SUCCEEDED:
        raise AssignError(f"Run #{run.pk} is {run.status}; only a finished run can assign customers.")
    if not run.model_file:
        raise AssignError(f"Run #{run.pk} has no stored model (it was made before models were kept). "
                          "Start a new run to assign customers.")
    if bool(external_ids) == bool(rows):
        raise AssignError("Give either external_ids or rows (feature values), not both and not neither.")
    batch = external_ids or rows
    if len(batch) > MAX_ASSIGN_BATCH:
        raise AssignError(f"At most {MAX_ASSIGN_BATCH:,} customers per request; got {len(batch):,}.")
    mismatch = _library_mismatch(run.model_info)
    if mismatch:
        raise AssignError(f"Run #{run.pk}'s model was made with {mismatch}. Start a new run on this server.")
    features = list(run.config["features"])
    if external_ids:
        ids = customer_ids_by_external_id(external_ids=external_ids)
        unknown = [external_id for external_id in external_ids if external_id not in ids]
        if unknown:
            raise AssignError(f"No customer with external id {', '.join(map(str, unknown[:10]))}"
                              f"{' and others' if len(unknown) > 10 else ''}.")
        # the run's purchases column too: a customer who never bought stays out, as in the run
        purchases = purchases_column(features, feature_catalogue())
        columns = features + ([purchases] if purchases and purchases not in features else [])
        frame = customer_feature_frame(features=columns, customer_ids=[ids[e] for e in external_ids])
        keys = [{"external_id": external_id} for external_id in external_ids]
    else:
        stray = sorted({name for row in rows if isinstance(row, dict) for name in row} - set(features))
        if any(not isinstance(row, dict) for row in rows):
            raise AssignError("Each row must be an object of feature values.")
        if stray:
            raise AssignError(f"Run #{run.pk} was made on {', '.join(features)}; unknown: {', '.join(stray)}.")
        frame = _rows_frame(rows, features)
        keys = [{"row": position} for position in range(len(rows))]
    model = _load_model(run.pk, run.model_file.name)
    try:
        assigned = model.assign(frame)
    except ml.SegmentationError as exc:
        raise AssignError(str(exc)) from exc
    segments = {s.index: s for s in run.segments.all()}
    results = []
    for key, label, distance, nearest in zip(keys, assigned.labels, assigned.distance, assigned.nearest_other):
        segment = segments.get(int(label))
        other = segments.get(int(nearest)) if nearest is not None and int(nearest) >= 0 else None
        results.append({
            **key,
            "segment": {"id": segment.pk, "index": segment.index, "name": segment.display_name} if segment else None,
            "distance": float(distance) if distance is not None and np.isfinite(distance) else None,
            "nearest_other": {"id": other.pk, "index": other.index, "name": other.display_name} if other else None,
        })
    return results


def _rows_frame(rows: list[dict], features: list[str]) -> pd.DataFrame:
    catalogue = feature_catalogue()
    frame = pd.DataFrame.from_records(rows, columns=features)
    for name in features:
        if name in catalogue and catalogue[name].categorical:
            frame[name] = frame[name].astype("object").where(frame[name].notna(), None).astype("category")
        else:
            numbers = pd.to_numeric(frame[name], errors="coerce")
            bad = frame[name].notna() & numbers.isna()
            if bad.any():
                raise AssignError(f"{name} must be a number; got {frame[name][bad].iloc[0]!r}.")
            frame[name] = numbers.astype("float64")
    return frame
