"""Segment profiles, surrogate rules, distances, and placing new customers with the model."""

import io

import joblib
import numpy as np
import pandas as pd
import pytest

from segments.ml import FittedModel, SegmentationConfig, assign, segment
from tests.segments.ml.planted import CENTRES, FEATURES, four_blobs
from tests.segments.ml.test_algorithms import mixed_groups, rfm_frame


def four_squares(per_group=300, seed=6):
    """Four squares of income x spending score, apart at income 60000-80000 and score 50-70:
    the planted cuts are income 70000 and score 60, the middles of the empty stretches."""
    rng = np.random.default_rng(seed)
    parts = []
    for income, score in (((80_000, 120_000), (70, 100)), ((20_000, 60_000), (70, 100)),
                          ((20_000, 60_000), (0, 50)), ((80_000, 120_000), (0, 50))):
        parts.append(pd.DataFrame({
            "annual_income": rng.uniform(*income, per_group),
            "spending_score": rng.uniform(*score, per_group),
        }))
    return pd.concat(parts, ignore_index=True), np.repeat([0, 1, 2, 3], per_group)


def test_surrogate_rules_read_back_the_planted_thresholds():
    frame, truth = four_squares()
    result = segment(frame, SegmentationConfig(features=("annual_income", "spending_score"), k=4))
    rich_spenders = result.labels[truth == 0][0]
    rule = result.segments[rich_spenders].rules[0]
    assert set(rule.text.split(" and ")) == {"annual_income > 70000", "spending_score > 60"}
    assert rule.precision == pytest.approx(1.0) and rule.recall == pytest.approx(1.0)
    assert rule.support == 300
    thrifty_poor = result.labels[truth == 2][0]
    assert set(result.segments[thrifty_poor].rules[0].text.split(" and ")) == {
        "annual_income <= 70000", "spending_score <= 60"}


def test_rules_on_whole_numbers_and_categories_read_naturally():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({
        "orders": np.concatenate([rng.integers(1, 3, 300), rng.integers(6, 12, 300)]).astype(float),
        "country": np.array(["UK"] * 300 + ["FR"] * 300, dtype=object),
    })
    result = segment(frame, SegmentationConfig(features=("orders", "country"), categorical=("country",), k=2))
    texts = {rule.text for s in result.segments for rule in s.rules}
    assert texts & {"orders >= 4", "orders >= 5", "orders >= 6", "country is FR", "country is not UK"}
    assert texts & {"orders <= 2", "orders <= 3", "orders <= 4", "orders <= 5", "country is UK", "country is not FR"}


def test_profiles_show_means_zscores_top_features_and_revenue_share():
    frame, truth = four_blobs(sizes=[400, 300, 200, 100])
    frame["revenue"] = np.where(truth == 1, 1_000.0, 10.0)
    result = segment(frame, SegmentationConfig(features=FEATURES, k=4, revenue="revenue"))
    assert [s.size for s in result.segments] == [400, 300, 200, 100]
    assert sum(s.revenue_share for s in result.segments) == pytest.approx(1.0)
    high_a = result.segments[1]  # the 300 at (10, 0, 0)
    assert high_a.revenue_share == pytest.approx(300_000 / (300_000 + 700 * 10))
    assert high_a.mean["a"] == pytest.approx(10, abs=0.2)
    assert high_a.median["a"] == pytest.approx(10, abs=0.2)
    assert high_a.zscore["a"] > 1.5
    assert high_a.top_features[0][0] == "a"
    assert high_a.label == "High a"
    assert "revenue" not in high_a.mean  # revenue is not a feature


def test_distance_and_nearest_other_segment():
    frame, truth = four_blobs()
    result = segment(frame, SegmentationConfig(features=FEATURES, k=4))
    assert (result.distance >= 0).all() and (result.distance < 1).all()  # scaled units; groups are tight
    assert (result.nearest_other != result.labels).all()
    assert set(result.nearest_other) <= {0, 1, 2, 3}
    # a customer of the group at the origin has one of the other three as nearest; (10,0,0)'s
    # nearest other is the origin group, being closer to it than to the others
    origin = result.labels[truth == 0][0]
    assert (result.nearest_other[truth == 1] == origin).all()


def new_customers_near(centre, n=20, seed=9):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(centre, 0.5, size=(n, 3)), columns=list(FEATURES))


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch_kmeans", "gmm", "agglomerative", "dbscan", "hdbscan"])
def test_assign_puts_new_customers_in_their_groups_segment(algorithm):
    frame, truth = four_blobs(noise=20)
    result = segment(frame, SegmentationConfig(features=FEATURES, k=4, algorithm=algorithm, stability_resamples=0))
    for group, centre in enumerate(CENTRES):
        placed = result.model.assign(new_customers_near(centre))
        run_segment = np.bincount(result.labels[truth == group]).argmax()
        assert (placed.labels == run_segment).all()
        assert (placed.distance >= 0).all() and (placed.nearest_other != placed.labels).all()
    if algorithm in ("dbscan", "hdbscan"):
        far_away = pd.DataFrame([[50.0, 50.0, 50.0]], columns=list(FEATURES))
        assert assign(result.model, far_away).labels.tolist() == [result.segments[-1].index]


def test_assign_gives_the_run_its_own_labels_back():
    frame, _ = four_blobs()
    result = segment(frame, SegmentationConfig(features=FEATURES, k=4))
    placed = result.model.assign(frame)
    assert np.array_equal(placed.labels, result.labels)
    assert np.allclose(placed.distance, result.distance)
    assert np.array_equal(placed.nearest_other, result.nearest_other)


def test_assign_with_kprototypes_and_rfm():
    frame, truth = mixed_groups()
    config = SegmentationConfig(features=("age", "spend", "country"), categorical=("country",), k=3,
                                algorithm="kprototypes", stability_resamples=0)
    result = segment(frame, config)
    assert np.array_equal(result.model.assign(frame).labels, result.labels)
    unseen_country = pd.DataFrame({"age": [25.0], "spend": [100.0], "country": ["JP"]})
    assert result.model.assign(unseen_country).labels[0] == result.labels[0]

    frame = rfm_frame()
    result = segment(frame, SegmentationConfig(features=("recency", "frequency", "monetary"), algorithm="rfm"))
    assert np.array_equal(result.model.assign(frame).labels, result.labels)


def test_assign_leaves_out_incomplete_customers_when_the_run_dropped_them():
    frame, _ = four_blobs()
    result = segment(frame, SegmentationConfig(features=FEATURES, k=4, missing="drop"))
    new = pd.DataFrame([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]], columns=list(FEATURES))
    assert result.model.assign(new).labels[0] == -1
    assert result.model.assign(new).labels[1] >= 0


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "hdbscan", "kprototypes", "rfm"])
def test_the_fitted_model_survives_a_joblib_round_trip(algorithm):
    if algorithm == "kprototypes":
        frame, _ = mixed_groups()
        config = SegmentationConfig(features=("age", "spend", "country"), categorical=("country",), k=3,
                                    algorithm=algorithm, stability_resamples=0)
    elif algorithm == "rfm":
        frame = rfm_frame()
        config = SegmentationConfig(features=("recency", "frequency", "monetary"), algorithm="rfm")
    else:
        frame, _ = four_blobs()
        config = SegmentationConfig(features=FEATURES, k=4, algorithm=algorithm, stability_resamples=0,
                                    log_features=(), clip_quantiles=(0.01, 0.99))
    result = segment(frame, config)
    buffer = io.BytesIO()
    joblib.dump(result.model, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    assert isinstance(loaded, FittedModel)
    assert np.array_equal(loaded.assign(frame).labels, result.model.assign(frame).labels)
    assert {"scikit-learn", "numpy", "pandas", "kmodes"} <= set(loaded.versions)


def test_segment_labels_are_unique_even_when_two_segments_share_their_top_traits():
    import numpy as np
    import pandas as pd

    from segments.ml import SegmentationConfig, segment

    # two groups cut into eight segments: the pieces of one group share its strongest traits
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(np.vstack([rng.normal((0, 0, 0), 1, size=(300, 3)), rng.normal((8, 8, 8), 1, size=(100, 3))]),
                         columns=["x", "y", "z"])
    result = segment(frame, SegmentationConfig(features=("x", "y", "z"), k=8, stability_resamples=0))
    names = [profile.label.lower() for profile in result.segments]
    assert len(set(names)) == len(names), names


def test_a_customer_with_a_net_return_is_placed_on_a_log_scale_fitted_without_returns():
    # the run saw no negative spend, so spend took log1p; a customer placed later with a net
    # return (-1 gave -inf, -20 gave NaN and segment 0 by accident) sits where zero spend does
    frame = rfm_frame()
    frame = frame[frame["frequency"] > 0]
    result = segment(frame, SegmentationConfig(features=("recency", "frequency", "monetary"), k=3,
                                               log_features=("monetary",), stability_resamples=0))
    new = pd.DataFrame({"recency": [30.0, 30.0, 30.0], "frequency": [2.0, 2.0, 2.0], "monetary": [-1.0, -20.0, 0.0]})
    placed = result.model.assign(new)
    assert np.isfinite(placed.distance).all()
    assert placed.labels[0] == placed.labels[1] == placed.labels[2]
    assert np.allclose(placed.distance, placed.distance[2])


def test_a_model_stored_before_the_log_scale_class_still_loads_and_places_customers():
    # runs made before LogScale stored FunctionTransformer(preprocess._log1p, inverse_func=_expm1):
    # their pickles name those functions, so loading one must still find them
    from sklearn.preprocessing import FunctionTransformer

    from segments.ml import preprocess

    buffer = io.BytesIO()
    joblib.dump(FunctionTransformer(preprocess._log1p, inverse_func=preprocess._expm1,
                                    feature_names_out="one-to-one"), buffer)
    assert b"_log1p" in buffer.getvalue() and b"segments.ml.preprocess" in buffer.getvalue()
    buffer.seek(0)
    loaded = joblib.load(buffer)
    values = np.array([[0.0], [99.0]])
    assert np.allclose(loaded.fit(values).transform(values), np.log1p(values))
    assert np.allclose(loaded.inverse_transform(np.log1p(values)), values)
