"""The engine on seeded data with known answers; no database."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segments.ml import SegmentationConfig, SegmentationError, segment


def blobs(n_per_group=300, seed=1):
    """Three well-separated groups in RFM-like units, plus their true labels."""
    rng = np.random.default_rng(seed)
    centres = [(5, 20, 2_000), (200, 2, 50), (60, 6, 400)]
    parts, truth = [], []
    for label, (r, f, m) in enumerate(centres):
        parts.append(
            np.column_stack([
                rng.normal(r, max(r * 0.1, 1), n_per_group),
                rng.normal(f, max(f * 0.1, 0.5), n_per_group),
                rng.normal(m, m * 0.1, n_per_group),
            ])
        )
        truth += [label] * n_per_group
    frame = pd.DataFrame(np.vstack(parts), columns=["recency", "frequency", "monetary"])
    return frame, np.array(truth)


def config(**overrides):
    values = {"features": ("recency", "frequency", "monetary"), "k": 3, "seed": 0}
    values.update(overrides)
    return SegmentationConfig(**values)


def test_kmeans_recovers_planted_groups():
    frame, truth = blobs()
    result = segment(frame, config())
    assert adjusted_rand_score(truth, result.labels) > 0.99
    assert sorted(s.size for s in result.segments) == [300, 300, 300]
    assert result.metrics["silhouette"] > 0.7
    assert result.metrics["davies_bouldin"] < 0.5


def test_centroids_are_in_feature_units():
    frame, truth = blobs()
    result = segment(frame, config())
    monetary_centres = sorted(s.centroid["monetary"] for s in result.segments)
    assert monetary_centres == pytest.approx([50, 400, 2_000], rel=0.05)


def test_segments_are_numbered_largest_first_and_labelled():
    frame, _ = blobs()
    frame = frame.iloc[: 300 + 300 + 100]  # third group cut to 100 rows
    result = segment(frame, config())
    assert [s.size for s in result.segments] == [300, 300, 100]
    assert np.bincount(result.labels).tolist() == [300, 300, 100]
    high_spenders = max(result.segments, key=lambda s: s.centroid["monetary"])
    assert "big spenders" in high_spenders.label.lower() or "frequent" in high_spenders.label.lower()


def test_same_seed_same_labels_and_metrics():
    frame, _ = blobs()
    first = segment(frame, config(seed=7))
    second = segment(frame, config(seed=7))
    assert np.array_equal(first.labels, second.labels)
    assert first.metrics == second.metrics


def test_silhouette_is_sampled_above_the_sample_size():
    frame, _ = blobs(n_per_group=1_000)
    result = segment(frame, config(silhouette_sample=500))
    assert result.metrics["silhouette_sample_size"] == 500
    assert result.metrics["n_customers"] == 3_000


def test_projection_is_a_bounded_sample_with_pca_for_three_features():
    frame, _ = blobs(n_per_group=1_000)
    result = segment(frame, config(scatter_sample=400))
    projection = result.projection
    assert projection.method == "pca"
    assert len(projection.x) == len(projection.y) == len(projection.segment) == 400
    assert projection.x_label.startswith("PC1")
    # the sampled rows' segments are the customers' real segments
    assert [result.labels[row] for row in projection.row] == projection.segment


def test_two_features_are_plotted_as_themselves():
    frame, _ = blobs()
    result = segment(frame, config(features=("recency", "monetary")))
    assert result.projection.method == "features"
    assert (result.projection.x_label, result.projection.y_label) == ("recency", "monetary")


def test_missing_values_are_imputed_and_counted():
    frame, _ = blobs()
    frame.loc[:9, "recency"] = np.nan
    result = segment(frame, config())
    assert result.metrics["imputed"] == {"recency": 10}
    assert len(result.labels) == len(frame)


@pytest.mark.parametrize(
    "overrides, frame_rows, message",
    [
        ({"k": 1}, 900, "between 2 and"),
        ({"features": ("recency", "nope")}, 900, "Unknown feature"),
        ({"k": 5}, 3, "more than the 3 customers"),
        ({}, 0, "no customers"),
        ({"algorithm": "magic"}, 900, "Unknown algorithm"),
        ({"features": ()}, 900, "at least one feature"),
    ],
)
def test_bad_input_raises_a_readable_error(overrides, frame_rows, message):
    frame, _ = blobs()
    with pytest.raises(SegmentationError, match=message):
        segment(frame.iloc[:frame_rows], config(**overrides))


def test_too_few_distinct_profiles_for_k():
    frame = pd.DataFrame({"recency": [1.0] * 50 + [2.0] * 50, "frequency": [3.0] * 100})
    with pytest.raises(SegmentationError, match="distinct"):
        segment(frame, config(features=("recency", "frequency"), k=3))


def test_one_customer_per_segment_gives_no_silhouette_rather_than_a_crash():
    frame = pd.DataFrame({"recency": [1.0, 50.0, 300.0], "frequency": [9.0, 3.0, 1.0]})
    result = segment(frame, config(features=("recency", "frequency"), k=3))
    assert sorted(result.labels.tolist()) == [0, 1, 2]
    assert result.metrics["silhouette"] is None


def test_segment_names_use_the_labels_people_know_the_features_by():
    # imported attributes have no phrase of their own: names say them by their display names
    frame, _ = blobs()
    frame = frame.rename(columns=lambda name: f"attr_{name}")
    labelled = SegmentationConfig(features=("attr_recency", "attr_frequency", "attr_monetary"), k=3, seed=0,
                                  stability_resamples=0,
                                  feature_labels=(("attr_monetary", "Net spend"), ("attr_frequency", "Purchases"),
                                                  ("attr_recency", "Days since last purchase")))
    names = " / ".join(profile.label for profile in segment(frame, labelled).segments)
    assert "net spend" in names.lower() or "purchases" in names.lower() or "days since" in names.lower()
    assert "attr_" not in names.lower()
