"""Shared pieces for Celery jobs: the transient errors worth a retry, and a run lock."""

from __future__ import annotations

import contextlib

import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError

# Only outages that a retry can outlast. Anything else is a bug or bad data: retrying
# would repeat it, so it fails the job at once with its message.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, redis.exceptions.ConnectionError)
MAX_RETRIES = 3


# Renew the lock only if its holder is `owner`: one atomic step, so that two deliveries
# cannot both see "mine" and both take it.
_TAKE_OVER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return false
"""


@contextlib.contextmanager
def job_lock(key: str, *, owner: str, timeout: int):
    """Hold a Redis lock while a job runs; yields False when another job holds it.

    What it guards: two different task messages for one job (a second enqueue of the same
    run) never compute at once. What it lets through: a redelivery of the *same* message
    (same task id), because Redis redelivers a late-acked message only when its worker
    was lost or the visibility timeout (longer than the hard time limit) ran out, so the
    earlier delivery is gone; it takes the lock over instead of waiting out the timeout.
    The database claim (`select_for_update` on the job's row) and the status check before
    the final write keep the result correct either way.
    """
    client = redis.Redis.from_url(settings.REDIS_URL)
    lock = client.lock(f"custseg:lock:{key}", timeout=timeout, blocking=False)
    acquired = lock.acquire(token=owner)
    if not acquired and client.eval(_TAKE_OVER, 1, lock.name, owner, timeout):
        lock.local.token = owner.encode()
        acquired = True
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()
        client.close()
