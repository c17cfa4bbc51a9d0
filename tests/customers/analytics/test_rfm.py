import itertools

import numpy as np
import pandas as pd

from customers.analytics.rfm import NO_PURCHASES, RFM_SEGMENTS, quintile_scores, rfm_scores


def test_ties_across_a_quintile_boundary_share_one_score():
    # given ten customers where the value 5 sits at positions 4, 5 and 6 (40%-60%),
    # straddling the 3|4 boundary at 60%
    values = pd.Series([1, 2, 3, 4, 5, 5, 5, 8, 9, 10])
    # when scored, then the tie takes the score where it starts: 1 + floor(5 * 4 / 10) = 3
    assert quintile_scores(values).tolist() == [1, 1, 2, 2, 3, 3, 3, 4, 5, 5]


def test_a_value_shared_by_sixty_percent_leaves_scores_unused():
    frequency = pd.Series([1] * 6 + [2, 2, 3, 7])
    scores = quintile_scores(frequency)
    assert scores.tolist() == [1] * 6 + [4, 4, 5, 5]


def test_recency_is_reversed_more_recent_scores_higher():
    scores = quintile_scores(pd.Series([1.0, 10.0, 20.0, 30.0, 400.0]), higher_is_better=False)
    assert scores.tolist() == [5, 4, 3, 2, 1]


def test_scores_codes_and_segments():
    frame = pd.DataFrame(
        {
            "recency": [1.0, 5.0, 5.0, 9.0, np.nan, 3.0],
            "frequency": [3, 1, 1, 1, 0, 2],
            "monetary": [100.0, 10.0, 10.0, 5.0, -3.0, 50.0],
        },
        index=pd.Index([10, 11, 12, 13, 14, 15], name="customer_id"),
    )
    result = rfm_scores(frame)
    assert result["rfm_code"].drop(14).to_dict() == {10: "555", 11: "212", 12: "212", 13: "111", 15: "444"}
    assert result["rfm_segment"].to_dict() == {
        10: "Champions", 11: "Hibernating", 12: "Hibernating", 13: "Lost", 14: NO_PURCHASES, 15: "Champions",
    }
    # the customer without a purchase has no scores and no code
    assert result.loc[14, ["r_score", "f_score", "m_score", "rfm_code"]].isna().all()


def test_every_code_gets_exactly_one_segment_and_every_rule_is_reachable():
    codes = list(itertools.product(range(1, 6), repeat=3))
    r, f, m = (np.array(c) for c in zip(*codes))
    matches = np.array([segment.matches(r, f, m) for segment in RFM_SEGMENTS])
    assert matches.any(axis=0).all(), "a code matches no rule"
    first_match = matches.argmax(axis=0)
    assert set(first_match) == set(range(len(RFM_SEGMENTS))), "a rule is shadowed by the ones before it"
    assert len(RFM_SEGMENTS) == 11 and len({s.name for s in RFM_SEGMENTS}) == 11


def test_rule_text_is_made_from_the_ranges():
    by_name = {s.name: s for s in RFM_SEGMENTS}
    assert by_name["Champions"].rule == "R 4-5, F 4-5, M 4-5"
    assert by_name["New Customers"].rule == "R 5, F 1"
    assert all(s.description and s.action for s in RFM_SEGMENTS)
