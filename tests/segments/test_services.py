import pytest
from django.core.exceptions import ValidationError
from sklearn.metrics import adjusted_rand_score

from custseg_site.jobs.lifecycle import MAX_ATTEMPTS, JobCancelled, job_claim
from segments import services
from segments.models import Membership, Segment, SegmentationRun
from segments.services.execute import _persist
from tests.customers.factories import CustomerFactory, planted_customers

pytestmark = pytest.mark.django_db


def create_run(**options):
    values = {"features": ["recency", "frequency", "monetary"], "k": 3}
    values.update(options)
    return services.run_create(**values)


def test_run_finds_the_planted_groups_and_writes_one_membership_per_customer():
    # given customers with three distinct buying patterns
    groups = planted_customers(per_group=15)
    # when a k=3 run on RFM is created and executed
    run = create_run()
    services.run_execute(run_id=run.pk)
    # then it succeeded, every customer has exactly one membership, and the groups match
    run.refresh_from_db()
    assert run.status == "succeeded" and run.progress == 100, run.error
    assert Membership.objects.filter(run=run).count() == 45
    assert sorted(s.size for s in run.segments.all()) == [15, 15, 15]
    segment_of = dict(Membership.objects.filter(run=run).values_list("customer_id", "segment__index"))
    truth = [name for name, customers in groups.items() for c in customers]
    found = [segment_of[c.pk] for customers in groups.values() for c in customers]
    assert adjusted_rand_score(truth, found) == pytest.approx(1.0)
    assert run.metrics["silhouette"] > 0.5
    assert run.metrics["sizes"] == [15, 15, 15]
    assert len(run.projection["external_id"]) == 45
    assert run.started_at <= run.finished_at


def test_customers_without_purchases_are_left_out_of_a_purchase_feature_run_and_counted():
    planted_customers(per_group=5)
    CustomerFactory.create_batch(3)  # no transactions
    run = create_run()
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert Membership.objects.filter(run=run).count() == 15
    assert run.metrics["no_purchases"] == 3 and run.metrics["n_customers"] == 18
    assert "recency" not in run.metrics["imputed"]  # no recency made up for them


@pytest.mark.parametrize(
    "options, field, message",
    [
        ({"features": ["recency", "shoe_size"]}, "features", "Unknown feature(s): shoe_size"),
        ({"k": 1}, "k", "between 2 and 50"),
        ({"k": 1000}, "k", "between 2 and 50"),
        ({"k": 40}, "k", "more than the 30 customers"),
        ({"features": []}, "features", "at least one feature"),
        ({"algorithm": "magic"}, "algorithm", "'magic' is not one of kmeans"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_written(options, field, message):
    CustomerFactory.create_batch(30)
    with pytest.raises(ValidationError) as caught:
        create_run(**options)
    assert any(message in text for text in caught.value.message_dict[field])
    assert SegmentationRun.objects.count() == 0


def test_empty_database_is_refused_with_a_hint():
    with pytest.raises(ValidationError) as caught:
        create_run()
    assert "no customers yet" in caught.value.messages[0]
    assert SegmentationRun.objects.count() == 0


def test_run_that_cannot_be_computed_fails_with_its_reason_and_writes_nothing():
    # given a valid request, but by the time it runs the data cannot give 3 segments
    planted_customers(per_group=2)
    run = create_run()
    from customers.models import Customer

    Customer.objects.exclude(pk=Customer.objects.order_by("pk").first().pk).delete()
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "more than the 1 customers" in run.error
    assert Segment.objects.count() == 0 and Membership.objects.count() == 0


def test_execute_twice_does_no_work_twice():
    planted_customers(per_group=5)
    run = create_run()
    services.run_execute(run_id=run.pk)
    services.run_execute(run_id=run.pk)  # a redelivered message
    assert Segment.objects.filter(run=run).count() == 3
    assert Membership.objects.filter(run=run).count() == 15


def test_cancelled_run_is_not_computed():
    planted_customers(per_group=5)
    run = create_run()
    assert services.run_cancel(run=run)
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert Membership.objects.count() == 0
    assert not services.run_cancel(run=run)


def test_publish_moves_the_published_flag_and_refuses_unfinished_runs():
    planted_customers(per_group=5)
    first, second = create_run(), create_run(k=2)
    with pytest.raises(services.PublishError):
        services.run_publish(run=first)
    services.run_execute(run_id=first.pk)
    services.run_execute(run_id=second.pk)
    services.run_publish(run=first)
    services.run_publish(run=second)
    assert list(SegmentationRun.objects.filter(published=True)) == [second]
    services.run_publish(run=first)  # an earlier run can be published again
    assert list(SegmentationRun.objects.filter(published=True)) == [first]


def test_k_equal_to_the_number_of_customers_is_refused():
    CustomerFactory.create_batch(4)
    with pytest.raises(ValidationError) as caught:
        create_run(features=["age"], k=4)
    assert "segment of its own" in caught.value.message_dict["k"][0]


def test_a_seed_beyond_what_the_libraries_take_is_refused():
    CustomerFactory.create_batch(10)
    with pytest.raises(ValidationError) as caught:
        create_run(features=["age"], seed=2**40)
    assert "seed must be at most 4,294,967,295" in caught.value.message_dict["seed"][0]


def test_purchase_features_without_any_transactions_are_refused_up_front():
    CustomerFactory.create_batch(10)
    with pytest.raises(ValidationError) as caught:
        create_run(features=["recency", "age"])
    assert "recency need purchase history" in caught.value.message_dict["features"][0]
    assert SegmentationRun.objects.count() == 0
    # demographic features alone are fine
    assert create_run(features=["age"], k=3).status == "pending"


def test_a_run_cancelled_while_computing_writes_nothing():
    planted_customers(per_group=5)
    run = create_run()
    # given a worker computing the run
    claimed = job_claim(SegmentationRun, run.pk)
    from customers.selectors import customer_feature_frame
    from segments import ml

    frame = customer_feature_frame(features=claimed.config["features"])
    result = ml.segment(frame, ml.SegmentationConfig(features=tuple(claimed.config["features"]), k=3))
    # when someone cancels before the result is written
    assert services.run_cancel(run=run)
    with pytest.raises(JobCancelled):
        _persist(run.pk, frame.index, result, model_name="", timings={}, started=0)
    # then nothing of it is kept
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert Segment.objects.count() == 0 and Membership.objects.count() == 0


def test_a_run_whose_worker_keeps_dying_is_failed_instead_of_retried_forever():
    planted_customers(per_group=5)
    run = create_run()
    # given as many deliveries as a run gets, each of which died mid-run (the row still says running)
    SegmentationRun.objects.filter(pk=run.pk).update(status="running", attempts=MAX_ATTEMPTS)
    # when the message is delivered again
    services.run_execute(run_id=run.pk)
    # then the run fails with a reason, and nothing is written
    run.refresh_from_db()
    assert run.status == "failed" and f"started {MAX_ATTEMPTS} times without finishing" in run.error
    assert Membership.objects.count() == 0


def test_a_redelivered_run_that_was_interrupted_is_computed():
    planted_customers(per_group=5)
    run = create_run()
    SegmentationRun.objects.filter(pk=run.pk).update(status="running", attempts=1, progress=40)
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and run.attempts == 2
    assert Membership.objects.filter(run=run).count() == 15


def test_categorical_features_segment_with_k_prototypes():
    # given customers whose country follows their buying group
    groups = planted_customers(per_group=10)
    from customers.models import Customer

    for country, customers in zip(["UK", "France", "Spain"], groups.values()):
        Customer.objects.filter(pk__in=[c.pk for c in customers]).update(country=country)
    run = create_run(features=["recency", "frequency", "country"], algorithm="kprototypes", k=3)
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    shares = [segment.profile["categories"]["country"] for segment in run.segments.all()]
    # each segment is one country
    assert sorted(max(share, key=share.get) for share in shares) == ["France", "Spain", "UK"]
    assert all(max(share.values()) == pytest.approx(1.0) for share in shares)
