"""Missing values, log1p, clipping and scaling, as the run reports them."""

import numpy as np
import pandas as pd
import pytest

from segments.ml import SKEW_THRESHOLD, SegmentationConfig, SegmentationError, segment
from tests.segments.ml.planted import FEATURES, four_blobs


def config(**overrides):
    values = {"features": FEATURES, "k": 4, "seed": 0, "stability_resamples": 0}
    values.update(overrides)
    return SegmentationConfig(**values)


def with_gaps():
    frame, truth = four_blobs()
    frame.iloc[:7, 0] = np.nan
    frame.iloc[5:10, 1] = np.nan  # rows 5 and 6 miss two values
    return frame, truth


def test_median_imputes_and_counts_per_feature():
    frame, _ = with_gaps()
    result = segment(frame, config())
    assert result.preprocessing["imputed"] == {"a": 7, "b": 5}
    assert result.preprocessing["dropped"] == 0
    assert (result.labels >= 0).all()


def test_drop_leaves_rows_out_with_label_minus_one():
    frame, _ = with_gaps()
    result = segment(frame, config(missing="drop"))
    assert result.preprocessing["dropped"] == 10
    assert result.preprocessing["imputed"] == {}
    assert (result.labels[:10] == -1).all() and (result.labels[10:] >= 0).all()
    assert np.isnan(result.distance[:10]).all() and (result.nearest_other[:10] == -1).all()
    assert sum(s.size for s in result.segments) == len(frame) - 10
    assert any("10 customers missing a value" in note for note in result.notes)
    assert all(row >= 10 for row in result.projection.row)


def test_categorical_missing_values_are_their_own_category():
    frame, _ = four_blobs()
    frame["country"] = np.where(np.arange(len(frame)) % 2, "UK", "FR").astype(object)
    frame.loc[frame.index[:30], "country"] = np.nan
    result = segment(frame, config(features=(*FEATURES, "country"), categorical=("country",)))
    shares = {value for s in result.segments for value in s.categories["country"]}
    assert shares == {"UK", "FR", "missing"}
    assert result.preprocessing["imputed"] == {"country": 30}
    assert result.preprocessing["categorical_missing"] == "own category 'missing'"


def skewed(n=2_000, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "monetary": rng.lognormal(5, 1.2, n),  # long right tail, like spend
        "age": rng.normal(40, 10, n),
        "balance": rng.lognormal(3, 1.0, n) - 30,  # skewed and partly negative
    })


def test_auto_log_picks_the_skewed_features_negative_values_or_not():
    frame = skewed()
    result = segment(frame, SegmentationConfig(features=("monetary", "age", "balance"), k=3, log_features="auto",
                                               stability_resamples=0))
    report = result.preprocessing
    assert report["skew"]["monetary"] > SKEW_THRESHOLD and abs(report["skew"]["age"]) < 0.5
    assert report["skew"]["balance"] > SKEW_THRESHOLD
    assert report["log_suggested"] == ["monetary", "balance"]
    assert report["log_features"] == ["monetary", "balance"]
    # the centroid is back in money units (geometric-mean like, so within the data's range)
    assert all(frame["monetary"].min() < s.centroid["monetary"] < frame["monetary"].max() for s in result.segments)


def test_no_log_unless_asked_but_still_suggested():
    result = segment(skewed(), SegmentationConfig(features=("monetary", "age"), k=3, stability_resamples=0))
    assert result.preprocessing["log_features"] == []
    assert result.preprocessing["log_suggested"] == ["monetary"]


def test_clipping_counts_the_customers_clipped_at_each_end():
    frame = skewed(n=1_000)
    result = segment(frame, SegmentationConfig(features=("monetary", "age"), k=3, clip_quantiles=(0.01, 0.99),
                                               stability_resamples=0))
    clipped = result.preprocessing["clipped"]
    assert clipped["monetary"] == {"low": 10, "high": 10}
    assert clipped["age"] == {"low": 10, "high": 10}
    low, high = result.preprocessing["clip_bounds"]["monetary"]
    assert low == pytest.approx(frame["monetary"].quantile(0.01))


@pytest.mark.parametrize("scaling", ["standard", "robust", "minmax", "none"])
def test_every_scaling_recovers_the_planted_groups(scaling):
    from sklearn.metrics import adjusted_rand_score

    frame, truth = four_blobs()
    result = segment(frame, config(scaling=scaling))
    assert adjusted_rand_score(truth, result.labels) >= 0.95
    assert sorted(s.centroid["a"] for s in result.segments) == pytest.approx([0, 0, 0, 10], abs=0.3)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"features": ("a", "empty")}, "No customer has a value for: empty"),
        ({"categorical": ("zzz",)}, "not among the chosen features"),
        ({"k": None, "k_min": 5, "k_max": 3}, "smallest first"),
        ({"scaling": "log"}, "Unknown scaling"),
        ({"clip_quantiles": (0.9, 0.1)}, "0 <= low < high <= 1"),
        ({"revenue": "nope"}, "Unknown revenue column"),
        ({"features": ("a", "label")}, "not numbers"),
    ],
)
def test_bad_input_is_refused_in_words(overrides, message):
    frame, _ = four_blobs()
    frame["empty"] = np.nan
    frame["label"] = "x"
    with pytest.raises(SegmentationError, match=message):
        segment(frame, config(**overrides))
