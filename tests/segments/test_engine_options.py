"""Runs with the engine's options, through the service, on a real database."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.selectors import customer_feature_frame
from segments import services
from segments.models import Membership, SegmentationRun
from tests.customers.factories import CustomerFactory, planted_customers

pytestmark = pytest.mark.django_db
RFM = ["recency", "frequency", "monetary"]


def executed(**options):
    values = {"features": RFM, "stability_resamples": 3}
    values.update(options)
    run = services.run_create(**values)
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return run


def test_automatic_k_finds_the_three_planted_groups_and_says_why():
    # given three planted buying patterns
    planted_customers(per_group=20)
    # when k is left to the engine over 2-6
    run = executed(k="auto", k_min=2, k_max=6)
    # then it picked 3, kept every curve, and the run says which rule chose it
    assert run.metrics["k"] == 3
    assert run.selection["ks"] == [2, 3, 4, 5, 6]
    assert run.selection["chosen_k"] == 3
    assert len(run.selection["silhouette"]) == 5
    assert "silhouette" in run.selection["rule_text"].lower()
    assert run.segments.count() == 3


def test_every_membership_knows_its_distance_and_runner_up():
    planted_customers(per_group=10)
    run = executed(k=3)
    rows = list(Membership.objects.filter(run=run).values_list("distance", "nearest_segment_index", "segment__index"))
    assert len(rows) == 30
    assert all(distance is not None and distance >= 0 for distance, _, _ in rows)
    assert all(nearest is not None and nearest != own for _, nearest, own in rows)


def test_segments_carry_rules_stability_and_revenue_share():
    planted_customers(per_group=20)
    run = executed(k=3, stability_resamples=5)
    segments = list(run.segments.all())
    assert all(segment.rules for segment in segments)
    assert all(0 <= rule["precision"] <= 1 and 0 <= rule["recall"] <= 1 for s in segments for rule in s.rules)
    assert all(segment.stability is not None and segment.stability > 0.8 for segment in segments)
    assert sum(segment.revenue_share for segment in segments) == pytest.approx(1.0)
    assert run.stability["resamples"] == 5 and run.stability["ari_mean"] > 0.8


def test_customers_with_missing_values_can_be_left_out_and_are_counted():
    planted_customers(per_group=10)
    CustomerFactory.create_batch(4, age=None)
    run = executed(features=["age", "annual_income"], k=3, missing="drop")
    assert Membership.objects.filter(run=run).count() == 30
    assert run.preprocessing["dropped"] == 4


@pytest.mark.parametrize("algorithm", ["gmm", "agglomerative", "minibatch_kmeans"])
def test_other_algorithms_recover_the_planted_groups(algorithm):
    from sklearn.metrics import adjusted_rand_score

    groups = planted_customers(per_group=15)
    run = executed(algorithm=algorithm, k=3)
    segment_of = dict(Membership.objects.filter(run=run).values_list("customer_id", "segment__index"))
    truth = [name for name, customers in groups.items() for _ in customers]
    found = [segment_of[c.pk] for customers in groups.values() for c in customers]
    assert adjusted_rand_score(truth, found) == pytest.approx(1.0)


def test_rfm_rules_run_gives_named_segments():
    planted_customers(per_group=10)
    run = executed(algorithm="rfm")
    names = set(run.segments.values_list("label", flat=True))
    assert names and names <= {
        "Champions", "Loyal", "Potential Loyalist", "New Customers", "Promising", "Need Attention",
        "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
    }
    assert Membership.objects.filter(run=run).count() == 30


@pytest.mark.parametrize("options, field, message", [
    ({"algorithm": "kprototypes", "k": 3}, "features", "categorical feature"),
    ({"algorithm": "kmeans", "k": "auto", "k_rule": "bic"}, "k_rule", "Gaussian mixture"),
    ({"k": "auto", "k_min": 6, "k_max": 3}, "k_max", "below the smallest"),
    ({"algorithm": "rfm", "features": ["recency", "monetary"]}, "features", "add frequency"),
    ({"log_features": ["age"]}, "log_features", "Only chosen number features"),
])
def test_option_combinations_that_cannot_work_are_refused_up_front(options, field, message):
    planted_customers(per_group=5)
    with pytest.raises(ValidationError) as caught:
        services.run_create(**{"features": RFM, **options})
    assert any(message in text for text in caught.value.message_dict[field]), caught.value.message_dict
    assert SegmentationRun.objects.count() == 0


def test_comparing_two_runs_counts_who_moved_where():
    planted_customers(per_group=10)
    first = executed(k=3, seed=1)
    second = executed(k=2, seed=2)
    from segments.selectors import run_comparison

    comparison = run_comparison(run_a=first, run_b=second)
    assert comparison["customers_in_both"] == 30
    assert sum(map(sum, comparison["matrix"])) == 30
    assert [len(row) for row in comparison["matrix"]] == [2, 2, 2]
    # k=2 merges two of the three groups: each group of A lands whole in one segment of B
    assert all(sorted(row)[0] == 0 for row in comparison["matrix"])
    assert 0 < comparison["adjusted_rand_index"] < 1
    same = run_comparison(run_a=first, run_b=first)
    assert same["adjusted_rand_index"] == pytest.approx(1.0)


def test_assigning_known_customers_gives_their_segment_in_the_run():
    groups = planted_customers(per_group=10)
    run = executed(k=3)
    customers = [customers[0] for customers in groups.values()]
    results = services.customers_assign(run=run, external_ids=[c.external_id for c in customers])
    membership = dict(Membership.objects.filter(run=run).values_list("customer__external_id", "segment__index"))
    assert [r["segment"]["index"] for r in results] == [membership[c.external_id] for c in customers]
    assert all(r["distance"] is not None for r in results)


def test_assigning_new_customers_by_feature_values_uses_the_stored_model():
    groups = planted_customers(per_group=10)
    run = executed(k=3)
    member = groups[next(iter(groups))][0]
    own = Membership.objects.get(run=run, customer=member).segment.index
    features = customer_feature_frame(features=RFM, customer_ids=[member.pk]).iloc[0].to_dict()
    results = services.customers_assign(run=run, rows=[features, {"recency": None, "frequency": 2}])
    assert results[0]["segment"]["index"] == own
    assert results[1]["segment"] is not None  # gaps are filled the way the run filled them


@pytest.mark.parametrize("kwargs, message", [
    ({"rows": [{"shoe_size": 42}]}, "unknown: shoe_size"),
    ({"rows": [{"recency": "soon"}]}, "recency must be a number"),
    ({"external_ids": ["nobody"]}, "No customer with external id nobody"),
    ({}, "Give either external_ids or rows"),
])
def test_assigning_bad_input_says_what_is_wrong(kwargs, message):
    planted_customers(per_group=5)
    run = executed(k=3)
    with pytest.raises(services.AssignError, match=message):
        services.customers_assign(run=run, **kwargs)


def test_cli_takes_the_engine_options_and_prints_the_new_metrics(capsys, celery_worker):
    planted_customers(per_group=10)
    call_command("segment", "--k", "auto", "--k-min", "2", "--k-max", "5", "--scaling", "robust",
                 "--features", "recency,frequency,monetary", "--seed", "3", "--stability-resamples", "3", "--json")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert summary["k"] == 3
    assert summary["davies_bouldin"] is not None and summary["calinski_harabasz"] is not None
    assert summary["k_rule"] == "silhouette" and "silhouette" in summary["k_rule_text"].lower()
    assert summary["stability"]["resamples"] == 3
    run = SegmentationRun.objects.get(pk=summary["run_id"])
    assert run.config["scaling"] == "robust" and run.config["seed"] == 3


def test_cli_bad_option_exits_non_zero_and_writes_nothing():
    planted_customers(per_group=5)
    with pytest.raises(CommandError, match="zscore"):
        call_command("segment", "--k", "3", "--scaling", "zscore")
    assert SegmentationRun.objects.count() == 0


def test_what_the_engine_would_refuse_is_refused_when_the_run_is_asked_for():
    planted_customers(per_group=5)
    with pytest.raises(ValidationError) as caught:
        services.run_create(features=RFM, algorithm="dbscan", eps=0)
    assert any("eps must be greater than 0" in text for text in caught.value.message_dict["__all__"])
    assert SegmentationRun.objects.count() == 0
