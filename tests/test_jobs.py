"""The job lock on real Redis (one delivery at a time, a redelivery takes over), and the job
tasks' failure handling."""

import uuid

import pytest

from custseg_site.jobs.worker import job_lock


@pytest.fixture
def key(redis_url):
    return f"test:{uuid.uuid4().hex}"


def test_a_second_job_does_not_get_the_lock_while_the_first_holds_it(key):
    with job_lock(key, owner="task-a", timeout=60) as first:
        with job_lock(key, owner="task-b", timeout=60) as second:
            assert first is True and second is False
    with job_lock(key, owner="task-b", timeout=60) as later:
        assert later is True  # released when the first finished


def test_a_redelivered_job_takes_over_its_own_lock(key):
    import redis
    from django.conf import settings

    # given a worker that died while holding the lock (never released)
    assert redis.Redis.from_url(settings.REDIS_URL).set(f"custseg:lock:{key}", "task-a", nx=True, ex=60)
    # when the same task id is delivered again, it gets the lock; another task does not
    with job_lock(key, owner="task-b", timeout=60) as other:
        assert other is False
    with job_lock(key, owner="task-a", timeout=60) as redelivered:
        assert redelivered is True
    with job_lock(key, owner="task-b", timeout=60) as after:
        assert after is True


@pytest.mark.django_db
@pytest.mark.parametrize("task_path, service_path, message", [
    ("segments.tasks.run_segmentation", "segments.services.run_execute",
     "The job stopped with an internal error (RuntimeError)"),
    ("campaigns.tasks.import_outcomes", "campaigns.services.outcome_imports.outcome_import_execute",
     "The import stopped with an internal error (RuntimeError)"),
])
def test_a_job_whose_task_breaks_is_failed_with_a_sentence_not_left_running(
        redis_url, monkeypatch, task_path, service_path, message):
    import importlib

    from campaigns.models import OutcomeImport
    from tests.campaigns.factories import campaign, world

    def broken(**kwargs):
        raise RuntimeError("a bug in the service")

    # given a pending job, and a service that fails with something no retry can fix
    module, name = service_path.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module), name, broken)
    if task_path.startswith("campaigns."):
        row = OutcomeImport.objects.create(campaign=campaign(world(sizes=(2, 2, 2))), source="api")
    else:
        from tests.segments.factories import RunFactory
        row = RunFactory(status="running")
    # when its task runs (in this process, through Celery's own task machinery)
    module, name = task_path.rsplit(".", 1)
    result = getattr(importlib.import_module(module), name).apply(args=[row.pk])
    # then the task failed and the row says so in words, for the page that shows it
    assert result.failed()
    row.refresh_from_db()
    assert row.status == "failed" and message in row.error


# The job kernel (custseg_site.jobs.lifecycle): every job model on it, every transition through it.

def test_every_job_model_is_a_job_row_whose_task_the_worker_knows():
    from django.apps import apps

    from custseg_site.celery import app as celery_app
    from custseg_site.jobs.models import JobRow

    celery_app.loader.import_default_modules()
    models = {model._meta.label: model for model in apps.get_models() if issubclass(model, JobRow)}
    # the four jobs there are today (a new one joins this list)
    assert {"segments.SegmentationRun", "customers.ImportJob", "customers.FeatureSnapshot",
            "campaigns.OutcomeImport"} <= set(models)
    for model in models.values():
        # a typo in a task name would leave every such job pending forever
        assert model._meta.get_field("task_name").default in celery_app.tasks, model


@pytest.mark.django_db
def test_a_job_cancelled_before_its_results_are_written_keeps_nothing_of_them():
    from django.db import transaction

    from custseg_site.jobs.lifecycle import JobCancelled, job_cancel, job_claim, job_succeed
    from segments.models import Segment, SegmentationRun
    from tests.segments.factories import RunFactory

    # given a run a worker has claimed, then someone cancels it
    run = job_claim(SegmentationRun, RunFactory().pk)
    assert job_cancel(run)
    # when the worker writes its results with the success
    with pytest.raises(JobCancelled), transaction.atomic():
        Segment.objects.create(run=run, index=0, size=1)
        job_succeed(run, metrics={"sizes": [1]})
    # then the results went with the success: neither is there
    run.refresh_from_db()
    assert run.status == "cancelled" and run.metrics == {} and not Segment.objects.filter(run=run).exists()


@pytest.mark.django_db
def test_progress_stops_a_cancelled_job_and_succeed_is_refused_after_a_failure():
    from custseg_site.jobs.lifecycle import JobCancelled, job_claim, job_fail, job_progress, job_succeed
    from segments.models import SegmentationRun
    from tests.segments.factories import RunFactory

    run = job_claim(SegmentationRun, RunFactory().pk)
    job_progress(run, 40, "Half way")
    run.refresh_from_db()
    assert (run.progress, run.stage) == (40, "Half way")
    # a job that failed (its time ran out, say) is not turned into a success by a late worker
    assert job_fail(run, "It took too long.")
    with pytest.raises(JobCancelled):
        job_progress(run, 50, "Still going")
    with pytest.raises(JobCancelled):
        job_succeed(run)
    run.refresh_from_db()
    assert run.status == "failed" and run.error == "It took too long." and run.progress == 40


@pytest.mark.django_db
def test_a_bug_in_a_run_fails_it_with_a_plain_sentence_and_logs_the_traceback(monkeypatch, caplog):
    # given a run whose engine breaks with a KeyError (a bug, not the user's data: before
    # the kernel such errors became the run's message, "'recency'", with no traceback logged)
    from segments import ml, services
    from tests.customers.factories import planted_customers

    planted_customers(per_group=5)
    run = services.run_create(features=["recency", "frequency", "monetary"], k=3)

    def broken(*args, **kwargs):
        raise KeyError("recency")

    monkeypatch.setattr(ml, "segment", broken)
    # when its job runs
    services.run_execute(run_id=run.pk)
    # then the run failed with a sentence for its page, and the log has the traceback
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == "An internal error stopped this run; the log has the details."
    logged = [r for r in caplog.records if r.getMessage().startswith("jobs.internal_error")]
    assert logged and logged[0].exc_info and "KeyError" in logged[0].exc_text


@pytest.mark.django_db
def test_a_domain_error_fails_the_run_with_its_own_message(monkeypatch):
    from segments import ml, services
    from tests.customers.factories import planted_customers

    planted_customers(per_group=5)
    run = services.run_create(features=["recency", "frequency", "monetary"], k=3)

    def refused(*args, **kwargs):
        raise ml.SegmentationError("Every customer has the same values: there is nothing to segment.")

    monkeypatch.setattr(ml, "segment", refused)
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and run.error == "Every customer has the same values: there is nothing to segment."


@pytest.mark.django_db
def test_a_database_outage_propagates_so_the_task_retries(monkeypatch):
    from django.db import OperationalError

    from segments import ml, services
    from tests.customers.factories import planted_customers

    planted_customers(per_group=5)
    run = services.run_create(features=["recency", "frequency", "monetary"], k=3)

    def outage(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ml, "segment", outage)
    with pytest.raises(OperationalError):
        services.run_execute(run_id=run.pk)
    # the row stays running for the retry's claim, which resumes it
    run.refresh_from_db()
    assert run.status == "running" and run.attempts == 1
