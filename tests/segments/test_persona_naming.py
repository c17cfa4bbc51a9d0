"""Suggested persona names and descriptions, and match scores: plain Python, no database."""

import pytest

from segments.personas import matching, naming

LABELS = {"annual_income": "Annual income", "monetary": "Net spend", "age": "Age", "distinct_products": "Different products",
          "attr_spending_score_1_100": "Spending score (1-100)", "gender": "Gender"}


def test_suggested_name_reads_the_most_distinguishing_features_in_plain_words():
    # given a segment far above average income, below average spend, aged mid-thirties
    profile = {
        "share": 0.18,
        "top_features": [["annual_income", 1.3], ["monetary", -0.9], ["age", 0.6], ["distinct_products", 0.1]],
        "mean": {"annual_income": 92000, "monetary": 210.0, "age": 38.2},
        "median": {"annual_income": 88000, "monetary": 150.0, "age": 36},
    }
    # when a name is suggested
    suggestion = naming.suggest(profile, LABELS, [{"text": "income > 70k", "precision": 0.8}])
    # then it names the traits in a marketer's words (as segment names do), with the age as a range
    assert suggestion.name == "Low-spending high earners aged 35-40"
    assert suggestion.description.startswith("About 18% of customers.")
    assert "Annual income median 88,000, 1.3 standard deviations above" in suggestion.description
    assert "Typically: income > 70k." in suggestion.description


def test_features_without_a_phrase_say_high_or_low_with_their_display_name():
    profile = {"top_features": [["attr_spending_score_1_100", 1.4], ["monetary", 0.8]], "median": {}, "mean": {}}
    assert naming.suggest(profile, LABELS).name == "Big spenders with high spending score (1-100)"


def test_a_persona_set_apart_by_a_category_says_it():
    profile = {"top_features": [["gender = Female", 1.4]], "median": {}, "mean": {}}
    suggestion = naming.suggest(profile, LABELS)
    assert suggestion.name == "Mostly female customers"
    assert "Gender: Female 1.4 standard deviations above" in suggestion.description


def test_a_segment_like_everyone_gets_a_name_that_says_so():
    profile = {"share": 0.5, "top_features": [["monetary", 0.2]], "mean": {}, "median": {}}
    suggestion = naming.suggest(profile, LABELS, fallback="Segment 2")
    assert suggestion.name == "Typical customers (Segment 2)"
    assert "Close to the average customer" in suggestion.description


@pytest.mark.parametrize("mean, median, expected", [(38.2, 36, "35-40"), (30, 30, "30-35"), (29, 46, "25-50")])
def test_value_range_widens_mean_and_median_to_whole_brackets(mean, median, expected):
    assert naming.value_range(mean, median, 5) == expected


def test_match_score_prefers_the_segment_sharing_most_customers():
    ranked = matching.rank(
        overlaps={10: 45, 11: 5}, size=50, zscore={"monetary": 1.0, "recency": -1.0},
        candidates=[{"id": 11, "size": 50, "zscore": {"monetary": 1.0, "recency": -1.0}},
                    {"id": 10, "size": 50, "zscore": {"monetary": 0.8, "recency": -0.9}}],
    )
    assert [m.segment_id for m in ranked] == [10, 11]
    assert ranked[0].jaccard == pytest.approx(45 / 55)
    assert ranked[0].score >= matching.RELINK_THRESHOLD > ranked[1].score


def test_centre_similarity_uses_only_features_both_runs_have():
    assert matching.centroid_similarity({"a": 1.0, "b": 5.0}, {"a": 2.0, "c": -3.0}) == pytest.approx(1.0)
    assert matching.centroid_similarity({"a": 1.0}, {"a": -1.0}) == pytest.approx(0.0)
    assert matching.centroid_similarity({"a": 1.0}, {"c": 1.0}) is None


def test_naming_and_matching_import_no_django():
    import ast
    from pathlib import Path

    import segments.personas

    for name in ("naming.py", "matching.py"):
        tree = ast.parse(Path(segments.personas.__file__).with_name(name).read_text())
        modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        # segments.ml (the shared vocabulary of names) is Django-free too
        django_side = {m for m in modules if m.split(".")[0] in {"django", "rest_framework", "segments"}
                       and not m.startswith("segments.ml")}
        assert not django_side, name
