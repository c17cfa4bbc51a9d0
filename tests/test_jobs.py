"""The job lock on real Redis (one delivery at a time, a redelivery takes over), and the job
tasks' failure handling."""

import uuid

import pytest

from custseg_site.jobs import job_lock


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
