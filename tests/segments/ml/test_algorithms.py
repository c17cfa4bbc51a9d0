"""Every algorithm, the automatic choice of k and bootstrap stability on planted data."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from customers.analytics.rfm import rfm_scores
from segments.ml import SegmentationConfig, SegmentationError, segment
from tests.segments.ml.planted import FEATURES, four_blobs


def config(**overrides):
    values = {"features": FEATURES, "k": None, "seed": 0}
    values.update(overrides)
    return SegmentationConfig(**values)


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch_kmeans", "gmm", "agglomerative"])
def test_automatic_k_finds_the_planted_groups(algorithm):
    # given four well-separated groups
    frame, truth = four_blobs()
    # when k is left to the engine
    result = segment(frame, config(algorithm=algorithm))
    # then it picks 4 by the highest silhouette, says so, and recovers the groups
    assert result.selection.chosen_k == 4
    assert result.selection.rule_text.startswith("k = 4: the highest silhouette")
    assert result.selection.ks == list(range(2, 11))
    assert adjusted_rand_score(truth, result.labels) >= 0.95
    assert len(result.segments) == 4


@pytest.mark.parametrize("rule", ["elbow", "davies_bouldin", "calinski_harabasz"])
def test_every_k_rule_finds_the_planted_k(rule):
    frame, _ = four_blobs()
    result = segment(frame, config(k_rule=rule))
    assert result.selection.chosen_k == 4
    assert result.selection.rule == rule
    assert result.selection.knee == 4
    assert len(result.selection.inertia) == len(result.selection.silhouette) == 9
    assert result.selection.bic == [None] * 9  # k-means has no likelihood


def test_bic_picks_the_planted_number_of_mixture_components():
    # given three Gaussian components of different shapes, overlapping a little
    rng = np.random.default_rng(4)
    parts = [
        rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], 400),
        rng.multivariate_normal([5, 0], [[0.3, 0], [0, 2]], 300),
        rng.multivariate_normal([2, 5], [[2, 0], [0, 0.3]], 300),
    ]
    frame = pd.DataFrame(np.vstack(parts), columns=["x", "y"])
    result = segment(frame, SegmentationConfig(features=("x", "y"), k=None, algorithm="gmm", k_rule="bic"))
    assert result.selection.chosen_k == 3
    assert "lowest BIC" in result.selection.rule_text
    assert all(value is not None for value in result.selection.aic)
    assert result.metrics["bic"] == min(result.selection.bic)


def test_bic_without_gmm_is_refused_in_words():
    frame, _ = four_blobs()
    with pytest.raises(SegmentationError, match="only the Gaussian mixture"):
        segment(frame, config(k_rule="bic"))


# HDBSCAN attaches about a quarter of the scattered customers to the nearest group (its
# excess-of-mass selection keeps points that joined a group before it split); DBSCAN with the
# suggested eps leaves nearly all of them out.
@pytest.mark.parametrize("algorithm, caught", [("dbscan", 0.9), ("hdbscan", 0.7)])
def test_density_algorithms_put_planted_noise_in_the_last_segment(algorithm, caught):
    # given four groups and 50 customers scattered away from them
    frame, truth = four_blobs(noise=50)
    result = segment(frame, config(algorithm=algorithm))
    noise = result.segments[-1]
    assert noise.is_noise and noise.label == "Outliers (not in any segment)"
    assert [s.is_noise for s in result.segments[:-1]] == [False] * 4
    # then the scattered customers are (nearly all) unassigned and the groups are recovered
    assert np.mean(result.labels[truth == -1] == noise.index) >= caught
    # and the unassigned are scattered customers (a few group edges at most)
    assert np.mean(truth[result.labels == noise.index] == -1) >= 0.5
    grouped = truth >= 0
    assert adjusted_rand_score(truth[grouped], result.labels[grouped]) >= 0.95
    assert result.metrics["eps_suggested"] > 0
    assert result.metrics["noise_count"] == noise.size
    assert result.selection is None


def test_dbscan_eps_can_be_set_by_hand():
    frame, _ = four_blobs(noise=50)
    result = segment(frame, config(algorithm="dbscan", eps=0.05))
    assert result.metrics["eps"] == 0.05
    # far too small: almost everyone is unassigned
    assert result.segments[-1].is_noise and result.segments[-1].share > 0.5


def test_agglomerative_above_its_size_limit_samples_and_says_so():
    frame, truth = four_blobs()
    result = segment(frame, config(algorithm="agglomerative", k=4, agglomerative_max=200))
    assert adjusted_rand_score(truth, result.labels) >= 0.95
    assert any("random sample of 200 of the 1,000" in note for note in result.notes)


def test_kmeans_above_the_minibatch_threshold_switches_and_says_so():
    frame, truth = four_blobs()
    result = segment(frame, config(k=4, minibatch_threshold=500))
    assert result.metrics["algorithm"] == "minibatch_kmeans"
    assert any("mini-batch k-means" in note for note in result.notes)
    assert adjusted_rand_score(truth, result.labels) >= 0.95


def mixed_groups(seed=2, per_group=150):
    """Three groups that differ in age, spend and country."""
    rng = np.random.default_rng(seed)
    parts = []
    for age, spend, country in ((25, 100, "UK"), (45, 400, "DE"), (65, 150, "FR")):
        parts.append(pd.DataFrame({
            "age": rng.normal(age, 3, per_group),
            "spend": rng.normal(spend, 20, per_group),
            "country": rng.choice([country, "US"], p=[0.9, 0.1], size=per_group),
        }))
    return pd.concat(parts, ignore_index=True), np.repeat([0, 1, 2], per_group)


def test_kprototypes_recovers_mixed_groups():
    frame, truth = mixed_groups()
    result = segment(frame, SegmentationConfig(
        features=("age", "spend", "country"), categorical=("country",), k=3, algorithm="kprototypes",
    ))
    assert adjusted_rand_score(truth, result.labels) >= 0.95
    uk = max(result.segments, key=lambda s: s.categories["country"].get("UK", 0))
    assert uk.categories["country"]["UK"] > 0.8
    assert ("country = UK", pytest.approx(uk.top_features[0][1])) in uk.top_features or any(
        name == "country = UK" for name, _ in uk.top_features)


def test_kprototypes_without_categorical_features_is_refused_in_words():
    frame, _ = four_blobs()
    with pytest.raises(SegmentationError, match="no categorical feature"):
        segment(frame, config(algorithm="kprototypes", k=3))


def test_one_hot_categoricals_work_with_kmeans():
    frame, truth = mixed_groups()
    result = segment(frame, SegmentationConfig(features=("age", "spend", "country"), categorical=("country",), k=3))
    assert adjusted_rand_score(truth, result.labels) >= 0.95
    assert "country_UK" in result.projection.loadings


def rfm_frame(n=500, seed=5):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "recency": rng.integers(1, 400, n).astype(float),
        "frequency": rng.integers(0, 30, n).astype(float),
        "monetary": rng.gamma(2, 200, n),
    })
    frame.loc[frame["frequency"] == 0, "monetary"] = 0.0
    return frame


def test_rfm_gives_the_named_rfm_segments():
    frame = rfm_frame()
    result = segment(frame, SegmentationConfig(features=("recency", "frequency", "monetary"), algorithm="rfm", k=7))
    expected = rfm_scores(frame)["rfm_segment"].to_numpy()
    labels = np.array([s.label for s in result.segments])[result.labels]
    assert (labels == expected).all()
    assert {"Champions", "Lost"} <= {s.label for s in result.segments}
    sizes = [s.size for s in result.segments]
    assert sizes == sorted(sizes, reverse=True)
    assert result.stability is None and result.selection is None
    assert any("k is ignored" in note for note in result.notes)


def test_rfm_needs_the_three_columns():
    frame = rfm_frame()
    with pytest.raises(SegmentationError, match="missing: monetary"):
        segment(frame, SegmentationConfig(features=("recency", "frequency"), algorithm="rfm"))


def test_same_seed_same_everything():
    frame, _ = four_blobs(noise=20)
    for algorithm in ("kmeans", "gmm", "hdbscan"):
        first = segment(frame, config(algorithm=algorithm, seed=3))
        second = segment(frame, config(algorithm=algorithm, seed=3))
        assert np.array_equal(first.labels, second.labels)
        assert first.metrics == second.metrics
        assert first.selection == second.selection
        assert first.stability == second.stability


def test_stability_is_high_for_real_groups_and_flags_arbitrary_splits():
    # given two round 6-D groups far apart
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(np.vstack([rng.normal(0, 1, (400, 6)), rng.normal(12, 1, (400, 6))]), columns=list("abcdef"))
    # when segmented into the two real groups, the bootstrap finds them every time
    real = segment(frame, SegmentationConfig(features=tuple("abcdef"), k=2))
    assert real.stability.resamples == 10 and real.stability.ari_mean > 0.95
    assert real.stability.unstable == []
    assert all(s.stability > 0.95 for s in real.segments)
    # when each group is cut in two anyway, the cuts do not come back: flagged unstable
    split = segment(frame, SegmentationConfig(features=tuple("abcdef"), k=4))
    assert split.stability.ari_mean < 0.7
    assert len(split.stability.unstable) >= 2
    assert split.stability.threshold == 0.6


def test_stability_can_be_turned_off():
    frame, _ = four_blobs()
    result = segment(frame, config(k=4, stability_resamples=0))
    assert result.stability is None
    assert all(s.stability is None for s in result.segments)


def test_progress_is_reported_per_stage():
    frame, _ = four_blobs()
    seen = []
    segment(frame, config(k_max=4), progress=lambda percent, stage: seen.append((percent, stage)))
    stages = [stage for _, stage in seen]
    assert stages[0] == "Preprocessing"
    assert "Fitting k = 3 (2 of 3)" in stages
    assert "Stability (resample 4 of 10)" in stages
    assert {"Scoring", "Explaining segments", "Projecting"} <= set(stages)
    percents = [percent for percent, _ in seen]
    assert percents == sorted(percents) and percents[-1] == 100


def test_silhouette_curve_is_sampled_and_said():
    frame, _ = four_blobs()
    result = segment(frame, config(silhouette_sample=300))
    assert result.metrics["silhouette_sample_size"] == 300
    assert result.selection.rule_text.endswith("silhouette on a sample of 300")
