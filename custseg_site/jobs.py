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


@contextlib.contextmanager
def job_lock(key: str, *, owner: str, timeout: int):
    """Hold a Redis lock while a job runs; yields False when another job holds it.

    Guards against two deliveries of one job running at once. `owner` is the Celery task
    id, which a redelivered message keeps: when a worker died holding the lock, its
    redelivery takes the lock over instead of waiting out the timeout.
    """
    client = redis.Redis.from_url(settings.REDIS_URL)
    lock = client.lock(f"custseg:lock:{key}", timeout=timeout, blocking=False)
    acquired = lock.acquire(token=owner)
    if not acquired and client.get(lock.name) == owner.encode():
        client.set(lock.name, owner, ex=timeout)  # our own earlier delivery: take over
        lock.local.token = owner.encode()
        acquired = True
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()
        client.close()
