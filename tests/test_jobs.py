"""The job lock on real Redis: one delivery at a time, and a redelivery takes over."""

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
