"""From the customers' feature table to the matrix the algorithms see, and back.

One scikit-learn ColumnTransformer does it, per numeric feature: impute the median, clip at
the chosen quantiles, log-scale where asked (LogScale: log1p, or asinh for a feature with
negative values such as net spend after returns), scale; per categorical feature: fill missing with
the value "missing" (its own category, so a customer without a country is not silently
made British), one-hot encode. The fitted transformer is kept on the model, so new
customers are transformed exactly as the run's were.

Missing values with `missing="drop"` drop the row instead (its label is -1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    RobustScaler,
    StandardScaler,
)

from segments.ml.types import SegmentationConfig, SegmentationError

# A feature is "skewed" above this sample skewness: 1 is the usual rule of thumb for
# "highly skewed" (Bulmer), which money and count features (a few big spenders) exceed.
SKEW_THRESHOLD = 1.0
# The value a missing categorical becomes: its own category, never a guess.
MISSING_CATEGORY = "missing"
# Unscaled features whose standard deviations differ by this factor (two orders of
# magnitude) get a warning: the wider one's distances swamp the other's (income in dollars
# spreads ~2,000 times wider than age in years).
UNSCALED_SPREAD_RATIO = 100
# One-hot columns per categorical feature; rarer values are pooled into one "infrequent"
# column. Beyond 20 values a segment profile cannot show them and the dense matrix grows
# by a column per value for every customer.
MAX_CATEGORIES = 20


class QuantileClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each column at quantiles learnt in fit (winsorising outliers)."""

    def __init__(self, quantiles: tuple[float, float] | None = None):
        self.quantiles = quantiles

    def fit(self, X, y=None):
        X = np.asarray(X, dtype="float64")
        self.n_features_in_ = X.shape[1]
        if self.quantiles is None:
            self.bounds_ = np.full((2, X.shape[1]), np.nan)
        else:
            self.bounds_ = np.nanquantile(X, self.quantiles, axis=0)
        return self

    def transform(self, X):
        X = np.asarray(X, dtype="float64")
        if self.quantiles is None:
            return X
        return np.clip(X, self.bounds_[0], self.bounds_[1])


class LogScale(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """A log scale for long tails, per column: log1p where no value is negative; where some
    are (net spend after returns), asinh(x / s) with s the median of the nonzero |x|.

    asinh(x / s) is log(2x / s) for large x, like log1p, but passes smoothly through 0 and
    mirrors below it, and is nearly linear within about s of 0: a small net return sits
    next to a small spend, as a marketer would place it. Rejected alternatives: log1p(|x|)
    with the sign put back sends a -500 return as far below 0 as a +500 spend above it (the
    few returners became a segment of their own); Yeo-Johnson (PowerTransformer) with its
    near-0 lambda on spend maps -500 to about -125,000; shifting by the minimum squeezes the
    typical customers together when one customer returned a lot.
    """

    def fit(self, X, y=None):
        X = np.asarray(X, dtype="float64")
        self.n_features_in_ = X.shape[1]
        self.scale_ = np.full(X.shape[1], np.nan)  # NaN: log1p (no negative values)
        for column in range(X.shape[1]):
            values = X[:, column][~np.isnan(X[:, column])]
            if (values < 0).any():
                nonzero = np.abs(values[values != 0])
                self.scale_[column] = float(np.median(nonzero))
        return self

    def transform(self, X):
        X = np.asarray(X, dtype="float64")
        mirrored = ~np.isnan(self.scale_)
        scale = np.where(mirrored, self.scale_, 1.0)
        # A column fitted without negative values takes log1p; a customer placed later with a
        # net return there is put at 0 (log1p of a value below -1 is not a number).
        return np.where(mirrored, np.arcsinh(X / scale), np.log1p(np.maximum(np.where(mirrored, 0.0, X), 0.0)))

    def inverse_transform(self, X):
        X = np.asarray(X, dtype="float64")
        mirrored = ~np.isnan(self.scale_)
        scale = np.where(mirrored, self.scale_, 1.0)
        return np.where(mirrored, np.sinh(X) * scale, np.expm1(np.where(mirrored, 0.0, X)))


# Models stored before LogScale (FunctionTransformer(_log1p, inverse_func=_expm1)) name these
# two functions: they stay so that runs made then can still place new customers.
def _log1p(X):
    return np.log1p(np.maximum(X, 0.0))


def _expm1(X):
    return np.expm1(X)


SCALERS = {
    "standard": StandardScaler,
    "robust": RobustScaler,
    "minmax": MinMaxScaler,
}


@dataclass
class Preprocessor:
    """The fitted transformation; `transform` turns a feature frame into the scaled matrix."""

    numeric: list[str]
    categorical: list[str]
    log_features: list[str]
    transformer: ColumnTransformer
    columns: list[str]  # names of the matrix columns (numeric features, then one-hot columns)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        return _typed(frame, self.numeric, self.categorical)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return np.ascontiguousarray(self.transformer.transform(self.prepare(frame)), dtype="float64")

    def categories(self, frame: pd.DataFrame) -> np.ndarray:
        """The categorical features as strings, missing filled (k-prototypes' native input)."""
        typed = self.prepare(frame)
        return typed[self.categorical].fillna(MISSING_CATEGORY).to_numpy(dtype=object)

    def to_feature_units(self, scaled_numeric: np.ndarray) -> np.ndarray:
        """Points in the scaled space (numeric block) back in feature units."""
        out = np.empty_like(scaled_numeric, dtype="float64")
        for position, name in enumerate(self.numeric):
            pipeline = self.transformer.named_transformers_[name]
            column = scaled_numeric[:, [position]]
            scaler = pipeline.named_steps["scale"]
            if scaler != "passthrough":
                column = scaler.inverse_transform(column)
            if name in self.log_features:
                column = pipeline.named_steps["log"].inverse_transform(column)
            out[:, position] = column[:, 0]
        return out


@dataclass
class Prepared:
    """The run's data after preprocessing."""

    kept: np.ndarray  # positions (in the input frame) of the rows segmented
    values: pd.DataFrame  # the kept rows' features, original units, missing left as NaN
    filled: pd.DataFrame  # the same with missing numeric values imputed (median), categories filled
    matrix: np.ndarray  # scaled, one-hot; what the algorithms and metrics see
    preprocessor: Preprocessor
    report: dict = field(default_factory=dict)


def _typed(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    typed = pd.DataFrame(index=frame.index)
    for name in numeric:
        try:
            typed[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
        except (TypeError, ValueError) as error:
            raise SegmentationError(
                f"Feature {name!r} has values that are not numbers; list it among the "
                f"categorical features or choose another."
            ) from error
    for name in categorical:
        column = frame[name]
        typed[name] = pd.Series(
            np.where(column.isna(), None, column.astype(str).to_numpy(dtype=object)),
            index=frame.index, dtype=object,
        )
    return typed


def prepare(frame: pd.DataFrame, config: SegmentationConfig) -> Prepared:
    features = list(config.features)
    categorical = [name for name in features if name in config.categorical]
    numeric = [name for name in features if name not in categorical]
    typed = _typed(frame, numeric, categorical)

    all_missing = [name for name in features if typed[name].isna().all()]
    if all_missing:
        raise SegmentationError(
            f"No customer has a value for: {', '.join(all_missing)}. Choose other features."
        )
    missing_counts = {name: int(count) for name, count in typed.isna().sum().items() if count}
    report: dict = {
        "missing": config.missing,
        "missing_counts": missing_counts,
        "imputed": {},
        "dropped": 0,
        "categorical_missing": f"own category {MISSING_CATEGORY!r}" if categorical else None,
    }
    if config.missing == "drop":
        complete = typed.notna().all(axis=1).to_numpy()
        kept = np.flatnonzero(complete)
        report["dropped"] = int(len(typed) - len(kept))
        if len(kept) == 0:
            raise SegmentationError(
                "Every customer misses a value of at least one chosen feature, so dropping "
                "them leaves nobody. Impute missing values (median) instead."
            )
        typed = typed.iloc[kept]
    else:
        kept = np.arange(len(typed))
        report["imputed"] = missing_counts

    skew = {}
    for name in numeric:
        value = typed[name].skew()
        skew[name] = None if pd.isna(value) else round(float(value), 4)
    negatives = {name: int((typed[name].dropna() < 0).sum()) for name in numeric}
    suggested = [name for name in numeric if _long_tailed(skew[name], negatives[name])]
    if config.log_features == "auto":
        log_features = suggested
    else:
        log_features = list(config.log_features)
        unknown = [name for name in log_features if name not in numeric]
        if unknown:
            raise SegmentationError(
                f"The log transform applies to chosen number features only; not to: {', '.join(unknown)}."
            )
    report.update(skew=skew, log_suggested=suggested, log_features=log_features,
                  skew_threshold=SKEW_THRESHOLD, scaling=config.scaling,
                  transforms={name: _transform_entry(name, config, skew[name], negatives[name], log_features,
                                                     suggested) for name in numeric})

    transformers = []
    for name in numeric:
        steps = [
            ("impute", SimpleImputer(strategy="median")),
            ("clip", QuantileClipper(config.clip_quantiles)),
        ]
        if name in log_features:
            steps.append(("log", LogScale()))
        scaler = SCALERS[config.scaling]() if config.scaling != "none" else "passthrough"
        steps.append(("scale", scaler))
        transformers.append((name, Pipeline(steps), [name]))
    if categorical:
        transformers.append((
            "categorical",
            Pipeline([
                ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY, missing_values=None)),
                ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES,
                                         sparse_output=False, dtype=np.float64)),
            ]),
            categorical,
        ))
    transformer = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    matrix = np.ascontiguousarray(transformer.fit_transform(typed), dtype="float64")
    columns = [str(c) for c in transformer.get_feature_names_out()]
    preprocessor = Preprocessor(numeric, categorical, log_features, transformer, columns)

    filled = typed.copy()
    for name in numeric:
        filled[name] = filled[name].fillna(transformer.named_transformers_[name].named_steps["impute"].statistics_[0])
    for name in categorical:
        filled[name] = filled[name].fillna(MISSING_CATEGORY)

    if config.clip_quantiles is not None:
        clipped, bounds = {}, {}
        for name in numeric:
            low, high = transformer.named_transformers_[name].named_steps["clip"].bounds_[:, 0]
            column = filled[name].to_numpy()
            clipped[name] = {"low": int((column < low).sum()), "high": int((column > high).sum())}
            bounds[name] = [float(low), float(high)]
        report["clipped"] = clipped
        report["clip_bounds"] = bounds
        report["clip_quantiles"] = list(config.clip_quantiles)
    return Prepared(kept=kept, values=typed, filled=filled, matrix=matrix, preprocessor=preprocessor, report=report)


def _long_tailed(skew: float | None, negatives: int) -> bool:
    """A tail worth a log scale: right-skewed, or (with negative values, which the signed
    log mirrors) skewed either way."""
    if skew is None:
        return False
    return skew > SKEW_THRESHOLD or (negatives > 0 and skew < -SKEW_THRESHOLD)


def _transform_entry(name: str, config: SegmentationConfig, skew: float | None, negatives: int,
                     log_features: list[str], suggested: list[str]) -> dict:
    """What was done to one number feature and why, in words for the run page and the API."""
    logged = name in log_features
    tail = f"long tail (skew {skew:.1f}, above {SKEW_THRESHOLD:g})" if name in suggested else None
    if config.log_features == "auto":
        reason = (f"Automatic: {tail}, so a few very large values do not dominate the segments." if logged
                  else "Automatic: spread evenly enough (skew "
                  f"{'unknown' if skew is None else f'{skew:.1f}'}), kept as it is.")
    elif logged:
        reason = "Asked for in the run options."
    else:
        reason = (f"Not asked for in the run options, though it has a {tail}: try the automatic log transform."
                  if tail else "Not asked for in the run options.")
    if logged and negatives:
        reason += (f" {negatives:,} customer{'s have' if negatives != 1 else ' has'} a negative value (such as "
                   f"net returns): kept, on a log-like scale (asinh) that passes through 0, so a small "
                   f"return sits next to a small spend.")
    return {
        "transform": "log" if logged else "none",
        "reason": reason,
        "negative_values": negatives,
        "scaling": config.scaling,
    }


def unscaled_warning(prepared: Prepared, labels: dict[str, str]) -> list[str]:
    """A note when unscaled number features differ in spread by orders of magnitude: the
    widest then decides the segments alone (income in dollars against age in years)."""
    numeric = prepared.preprocessor.numeric
    if len(numeric) < 2:
        return []
    spread = prepared.matrix[:, :len(numeric)].std(axis=0)
    narrowest = float(spread[spread > 0].min()) if (spread > 0).any() else 0.0
    widest = int(np.argmax(spread))
    if narrowest == 0 or spread[widest] / narrowest < UNSCALED_SPREAD_RATIO:
        return []
    ratio = spread[widest] / narrowest
    return [f"Scaling is off and the features' spreads differ {ratio:,.0f}-fold: "
            f"{labels.get(numeric[widest], numeric[widest])} alone decides the segments. "
            f"Choose standard scaling unless that is what you want."]
