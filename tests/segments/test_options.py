"""Run options: one parser for the page, the API and the CLI; no database."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from segments.options import describe, engine_config, parse_options
from segments.selectors import adjusted_rand_index


def test_defaults_are_k_auto_over_2_to_10_by_silhouette_with_stability():
    values, errors = parse_options({})
    assert errors == {}
    assert (values["algorithm"], values["k"], values["k_min"], values["k_max"], values["k_rule"]) == (
        "kmeans", "auto", 2, 10, "silhouette")
    assert values["stability_resamples"] == 10


@pytest.mark.parametrize("raw, expected", [
    ({"k": "4"}, 4), ({"k": 4}, 4), ({"k": "AUTO"}, "auto"), ({"k": " auto "}, "auto"), ({"k": ""}, "auto"),
])
def test_k_is_a_number_or_auto_whether_typed_or_sent_as_json(raw, expected):
    values, errors = parse_options(raw)
    assert errors == {} and values["k"] == expected


@pytest.mark.parametrize("raw, field, message", [
    ({"k": "four"}, "k", "must be a number"),
    ({"k": 1}, "k", "between 2 and 50"),
    ({"k": "2.5"}, "k", "whole number"),
    ({"scaling": "zscore"}, "scaling", "not one of standard, robust, minmax, none"),
    ({"clip_quantile": 0.4}, "clip_quantile", "at most 0.25"),
    ({"stability_resamples": -1}, "stability_resamples", "at least 0"),
    ({"seed": True}, "seed", "must be a number"),
    ({"colour": "red"}, "__all__", "Unknown option(s): colour"),
])
def test_bad_values_get_a_message_naming_the_option(raw, field, message):
    _, errors = parse_options(raw)
    assert any(message in text for text in errors[field]), errors


def test_stored_config_becomes_the_engine_config():
    values, _ = parse_options({"k": "auto", "k_min": 3, "k_max": 6, "clip_quantile": 0.01, "log_features": "monetary, frequency",
                               "scaling": "robust", "algorithm": "gmm", "gmm_covariance": "diag"})
    config = engine_config({**values, "features": ["recency", "frequency", "monetary", "country"]},
                           categorical=("country",), revenue="monetary", silhouette_sample=500, scatter_sample=100)
    assert config.k is None and (config.k_min, config.k_max) == (3, 6)
    assert config.clip_quantiles == (0.01, 0.99)
    assert config.log_features == ("monetary", "frequency")
    assert config.categorical == ("country",)
    assert (config.scaling, config.algorithm, config.gmm_covariance, config.revenue) == ("robust", "gmm", "diag", "monetary")
    assert config.silhouette_sample == 500


def test_a_run_made_before_the_options_existed_still_has_an_engine_config():
    config = engine_config({"algorithm": "kmeans", "features": ["recency"], "k": 3, "seed": 7},
                           silhouette_sample=10, scatter_sample=10)
    assert (config.k, config.seed, config.scaling) == (3, 7, "standard")


def test_default_names_say_what_the_run_does():
    assert describe({"algorithm": "kmeans", "k": "auto", "k_min": 2, "k_max": 10}) == "k-means k=auto (2-10)"
    assert describe({"algorithm": "gmm", "k": 5}) == "Gaussian mixture k=5"
    assert describe({"algorithm": "rfm", "k": None}) == "RFM rules"


@pytest.mark.parametrize("seed", range(5))
def test_ari_from_the_migration_matrix_equals_sklearn_on_the_labels(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, 300)
    b = np.where(rng.random(300) < 0.7, a, rng.integers(0, 5, 300))
    matrix = [[int(((a == i) & (b == j)).sum()) for j in range(5)] for i in range(4)]
    assert adjusted_rand_index(matrix) == pytest.approx(adjusted_rand_score(a, b))


def test_ari_of_identical_splits_is_one():
    assert adjusted_rand_index([[10, 0], [0, 5]]) == pytest.approx(1.0)
    assert adjusted_rand_index([[7]]) == 1.0
