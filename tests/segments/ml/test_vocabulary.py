"""Segment names in a marketer's words: no database."""

import numpy as np
import pandas as pd
import pytest

from segments.ml import SegmentationConfig, segment
from segments.ml.explain import describe_segment
from segments.ml.vocabulary import PHRASES, segment_name

LABELS = {"attr_spending_score_1_100": "Spending score (1-100)", "attr_loyalty": "Loyalty points"}


@pytest.mark.parametrize("traits, expected", [
    ([("recency", -1.2)], "Recent buyers"),
    ([("recency", 1.1)], "Lapsed customers"),
    ([("monetary", 1.4), ("recency", 0.9)], "Lapsed big spenders"),
    ([("recency", 0.9), ("monetary", 1.4)], "Lapsed big spenders"),  # the same traits, the same name
    ([("age", -1.0), ("annual_income", 0.8)], "Young high earners"),
    ([("frequency", 1.3)], "Frequent buyers"),
    ([("avg_order_value", 0.9)], "Big-basket buyers"),
    ([("annual_income", 1.3), ("monetary", -0.9)], "Low-spending high earners"),
])
def test_traits_read_as_a_marketers_name(traits, expected):
    assert segment_name(traits, LABELS) == expected


def test_an_imported_attribute_is_said_with_its_display_name():
    assert segment_name([("attr_spending_score_1_100", 1.2)], LABELS) == "High spending score (1-100)"
    assert segment_name([("age", -0.9), ("attr_spending_score_1_100", 1.2)], LABELS) == (
        "Young customers with high spending score (1-100)")
    assert segment_name([("attr_spending_score_1_100", 1.2), ("attr_loyalty", -0.6)], LABELS) == (
        "High spending score (1-100), low loyalty points")


def test_every_phrase_names_something_in_each_direction():
    for feature, (high, low) in PHRASES.items():
        assert high.adjective and low.adjective and high != low, feature
        # a lone trait gives a name with a noun, never a bare adjective
        assert segment_name([(feature, 1.0)], {}).count(" ") >= 1, feature
        assert segment_name([(feature, -1.0)], {}).count(" ") >= 1, feature


def test_small_differences_leave_a_segment_typical():
    assert describe_segment({"recency": 0.3, "monetary": -0.2}) == "Typical customers"
    assert describe_segment({"recency": -0.8, "monetary": 0.2, "frequency": 1.5}) == "Frequent recent buyers"


def test_a_run_names_its_segments_in_marketer_words_and_keeps_them_unique():
    # given customers from four planted groups: recent frequent big spenders, lapsed ones who
    # spent a lot, lapsed small spenders, and a middle group
    rng = np.random.default_rng(5)
    groups = [((5, 20, 5_000), 200), ((200, 3, 4_000), 200), ((250, 1, 50), 200), ((60, 6, 600), 200)]
    frame = pd.DataFrame(np.vstack([rng.normal(centre, np.array(centre) * 0.05, size=(n, 3)) for centre, n in groups]),
                         columns=["recency", "frequency", "monetary"])
    labels = {"recency": "Days since last order", "frequency": "Orders", "monetary": "Net spend"}
    # when the engine segments them
    result = segment(frame, SegmentationConfig(features=("recency", "frequency", "monetary"), k=4, stability_resamples=0,
                                               feature_labels=tuple(labels.items())))
    names = [profile.label for profile in result.segments]
    # then every name is phrased from the vocabulary of its two strongest traits, and no two are alike
    assert len({name.lower() for name in names}) == len(names), names
    for profile in result.segments:
        top = sorted(((f, z) for f, z in profile.zscore.items() if abs(z) >= 0.5), key=lambda item: -abs(item[1]))[:2]
        assert profile.label == segment_name(top, labels), (profile.label, top)
    assert not any(word in " ".join(names).lower() for word in ("recency", "monetary", "high frequency", "low "))


def test_rules_name_features_by_display_name_and_say_equal_bounds_once():
    # given whole-number orders in three groups, the middle one exactly 4
    rng = np.random.default_rng(1)
    orders = np.concatenate([rng.integers(2, 4, 300), np.full(300, 4), rng.integers(5, 7, 300)]).astype(float)
    frame = pd.DataFrame({"frequency": orders})
    config = SegmentationConfig(features=("frequency",), k=3, stability_resamples=0,
                                feature_labels=(("frequency", "Orders"),))
    # when it is segmented
    result = segment(frame, config)
    texts = [rule.text for profile in result.segments for rule in profile.rules]
    # then the middle segment's rule is "Orders = 4", and no rule names a feature by its key
    assert "Orders = 4" in texts, texts
    assert not any("frequency" in text or ">= 4 and" in text for text in texts), texts
