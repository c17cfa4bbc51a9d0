"""Aggregates over rows that never change, kept in the cache under what makes them immutable.

A succeeded feature snapshot's rows and a finished run's memberships are written once and
never updated: a new computation makes a new snapshot or a new run. An aggregate over them
is therefore the same for as long as they exist, so a page computes it once and reads it
back afterwards. At a million customers that is the difference between 0.5-1 s and a cache
read for the persona card, the features page and the exploration page.

The cache is Redis (settings.CACHES["default"]). When it cannot be reached the value is
computed as if there were no cache: slower, never wrong, never an error page. That cache
already turns an unreachable Redis into a miss; the errors caught here are the ones it lets
through (a broken reply) and those of any other cache configured in its place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A month. Keys name the ids and finish times of the rows they summarise, so a value never
# goes stale; the expiry only returns memory from snapshots and runs nobody reads any more.
TIMEOUT_SECONDS = 30 * 24 * 3600


def stamp(job) -> str | None:
    """A finished snapshot's or run's identity for a key: its id and when it finished (ids
    alone are reused when a database is rebuilt, or by SQLite after a rollback). None while
    it has no finish time: its rows may still change, so nothing over them is kept."""
    if job.finished_at is None:
        return None
    return f"{job.pk}@{job.finished_at.timestamp()}"


def cached(key: str, compute: Callable[[], T], *stamps: str | None) -> T:
    """compute(), kept under `key` and the stamps of the snapshots and runs it reads; computed
    afresh every time when one of them is unfinished (a None stamp)."""
    if any(part is None for part in stamps):
        return compute()
    key = ":".join(["custseg:aggregate", key, *stamps])
    try:
        value = cache.get(key)
    except RedisError:
        logger.warning("custseg.aggregate_cache_unavailable key=%s", key)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, TIMEOUT_SECONDS)
        except RedisError:
            logger.warning("custseg.aggregate_cache_unavailable key=%s", key)
    return value
