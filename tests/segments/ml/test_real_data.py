"""Pitfalls of real customer data: net spend below 0, customers who never bought, unscaled
features in dollars and years. Each test builds its data; the known answers are computed
independently (scikit-learn directly, pandas)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans

from segments.ml import SegmentationConfig, SegmentationError, segment


def spend_with_returns(n=1_500, seed=7):
    """Online Retail-like: spend with a long tail (a few wholesalers), 2 % net returners."""
    rng = np.random.default_rng(seed)
    monetary = rng.lognormal(6.3, 1.1, n)
    monetary[:6] *= 60  # wholesalers
    returners = rng.choice(np.arange(6, n), n // 50, replace=False)
    monetary[returners] = -rng.lognormal(3.5, 1.0, len(returners))
    frequency = np.maximum(1, np.round(monetary.clip(0) / 300 + rng.poisson(2, n)))
    recency = rng.uniform(1, 370, n)
    return pd.DataFrame({"recency": recency, "frequency": frequency, "monetary": monetary}), returners


def test_auto_log_scales_a_long_tailed_feature_that_has_negative_values():
    # given net spend with a long tail and 30 customers whose returns exceed their purchases
    frame, returners = spend_with_returns()
    # when the log transform is left on auto
    result = segment(frame, SegmentationConfig(features=("recency", "frequency", "monetary"), k=None,
                                               log_features="auto", stability_resamples=0))
    # then spend is log-scaled anyway, and the run says so and why
    treatment = result.preprocessing["transforms"]["monetary"]
    assert "monetary" in result.preprocessing["log_features"]
    assert treatment["transform"] == "log" and treatment["negative_values"] == len(returners)
    assert "30 customers have a negative value" in treatment["reason"]
    assert result.preprocessing["transforms"]["recency"]["transform"] == "none"
    # and k = auto no longer hands the six wholesalers a segment of their own
    assert min(s.size for s in result.segments) >= 0.05 * len(frame)


def test_a_small_net_return_sits_next_to_a_small_spend_on_the_log_scale():
    frame, _ = spend_with_returns()
    result = segment(frame, SegmentationConfig(features=("monetary",), k=2, log_features=("monetary",),
                                               stability_resamples=0))
    scaled = result.model.preprocessor.transform(pd.DataFrame({"monetary": [-50.0, 50.0, 5_000.0]}))[:, 0]
    # -50 and +50 are closer to each other than +50 is to +5,000
    assert abs(scaled[1] - scaled[0]) < abs(scaled[2] - scaled[1])
    # and the centres read back in currency, within the data's range
    assert all(frame["monetary"].min() < s.centroid["monetary"] < frame["monetary"].max() for s in result.segments)


def test_an_explicit_log_of_a_feature_with_negative_values_runs():
    frame, _ = spend_with_returns()
    result = segment(frame, SegmentationConfig(features=("recency", "monetary"), k=3, log_features=("monetary",),
                                               stability_resamples=0))
    assert result.preprocessing["transforms"]["monetary"]["reason"].startswith("Asked for in the run options.")


def with_non_buyers(n_buyers=300, n_never=120, seed=1):
    rng = np.random.default_rng(seed)
    buyers = pd.DataFrame({
        "recency": rng.uniform(1, 365, n_buyers),
        "frequency": rng.integers(1, 20, n_buyers).astype(float),
        "monetary": rng.lognormal(5, 1, n_buyers),
    })
    never = pd.DataFrame({"recency": np.nan, "frequency": 0.0, "monetary": 0.0}, index=range(n_never))
    frame = pd.concat([buyers, never], ignore_index=True).sample(frac=1, random_state=seed).reset_index(drop=True)
    return frame, frame["frequency"].to_numpy() == 0


def test_customers_who_never_bought_are_left_out_and_counted():
    frame, never = with_non_buyers()
    result = segment(frame, SegmentationConfig(features=("recency", "frequency", "monetary"), k=3,
                                               purchases="frequency", stability_resamples=0))
    # none of them is in a segment; every buyer is
    assert (result.labels[never] == -1).all() and (result.labels[~never] >= 0).all()
    assert result.metrics["no_purchases"] == never.sum() == 120
    assert result.metrics["n_customers"] == len(frame) and result.metrics["n_segmented"] == 300
    assert sum(s.size for s in result.segments) == 300
    assert any("120 customers without any purchase were left out" in note for note in result.notes)
    # the segments' recency is the buyers' own, not pulled towards an imputed median
    assert result.preprocessing["imputed"] == {}
    # and a new customer who never bought is not placed in a segment either
    placed = result.model.assign(pd.DataFrame({"recency": [np.nan, 10.0], "frequency": [0.0, 5.0],
                                               "monetary": [0.0, 300.0]}))
    assert placed.labels[0] == -1 and placed.labels[1] >= 0


def test_rfm_rules_keep_customers_who_never_bought_in_their_own_segment():
    frame, never = with_non_buyers()
    result = segment(frame, SegmentationConfig(features=("recency", "frequency", "monetary"), algorithm="rfm",
                                               purchases="frequency", stability_resamples=0))
    no_purchases = next(s for s in result.segments if s.label == "No purchases")
    assert no_purchases.size == never.sum()


def test_a_run_on_purchase_features_with_nobody_who_bought_says_so():
    frame, _ = with_non_buyers(n_buyers=0)
    with pytest.raises(SegmentationError, match="No customer has bought anything yet"):
        segment(frame, SegmentationConfig(features=("frequency", "monetary"), k=2, purchases="frequency"))


def mall_like(seed=0, n=200):
    """Age in years, income in dollars, spending score 1-100: the Mall data's units."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 70, n).astype(float),
        "annual_income": rng.gamma(6, 10, n) * 1000,
        "spending_score": np.clip(rng.normal(50, 25, n), 1, 100),
    })


@pytest.mark.parametrize("seed", range(5))
def test_unscaled_k_means_reaches_the_best_segments_found(seed):
    frame = mall_like()
    features = tuple(frame.columns)
    result = segment(frame, SegmentationConfig(features=features, k=5, scaling="none", seed=seed,
                                               stability_resamples=0))
    # the best of 200 independent single k-means++ starts, on the same raw matrix
    best = min(KMeans(5, n_init=1, random_state=start).fit(frame.to_numpy()).inertia_ for start in range(200))
    assert result.metrics["inertia"] <= best * 1.005
    assert result.metrics["n_init"] == 10


def test_unscaled_features_of_very_different_spread_are_warned_about():
    frame = mall_like()
    labels = (("annual_income", "Annual income"),)
    unscaled = segment(frame, SegmentationConfig(features=tuple(frame.columns), k=3, scaling="none",
                                                 stability_resamples=0, feature_labels=labels))
    ratio = frame["annual_income"].std() / frame["age"].std()
    warning = [note for note in unscaled.notes if note.startswith("Scaling is off")]
    assert len(warning) == 1 and "Annual income alone decides the segments" in warning[0]
    assert f"{ratio:,.0f}-fold" in warning[0]
    scaled = segment(frame, SegmentationConfig(features=tuple(frame.columns), k=3, stability_resamples=0))
    assert not any(note.startswith("Scaling is off") for note in scaled.notes)
