"""Shared fixtures: users per role, API clients, Redis, and a real Celery worker.

Redis: with REDIS_URL set the tests use it (CI: the machine's Redis); without, they start
a private embedded redis-server (the one `make run` uses). Either way the worker consumes
a queue named for this test session, so stale messages from earlier runs never reach it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from custseg_site import embedded_redis, roles
from custseg_site.celery import app as celery_app

Path(settings.BASE_DIR, "var").mkdir(exist_ok=True)
ARTIFACTS = Path(settings.BASE_DIR, "test-artifacts")


@pytest.fixture(scope="session")
def redis_url():
    given = os.environ.get("REDIS_URL")
    process = None
    if given:
        url = given
    else:
        process, url = embedded_redis.start()
    queue = f"custseg-test-{uuid.uuid4().hex[:8]}"
    settings.REDIS_URL = url
    celery_app.conf.broker_url = url
    celery_app.conf.task_default_queue = queue
    yield url
    if process is not None:
        process.terminate()
        process.wait(timeout=10)


def local_caches() -> dict:
    """settings.CACHES' aliases on one new in-memory cache: like Redis, "strict" and "default"
    are one key space (a token's cached authentication is written through one, forgotten
    through the other)."""
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"test-{uuid.uuid4().hex}"}
    return {"default": local, "strict": local}


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Each test its own empty in-memory cache: cached aggregates never leak between tests
    (SQLite reuses ids after a rollback) nor into a Redis shared with anything else."""
    settings.CACHES = local_caches()


def run_celery_worker():
    """A real Celery worker (celery.contrib.testing) in a thread, on the real broker."""
    from celery.contrib.testing.worker import start_worker

    return start_worker(
        celery_app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        loglevel="WARNING",
        queues=[celery_app.conf.task_default_queue],
        shutdown_timeout=30,
    )


@pytest.fixture
def celery_worker(redis_url, transactional_db):
    with run_celery_worker() as worker:
        yield worker


@pytest.fixture
def celery_worker_later(redis_url, transactional_db):
    """For tests that start the worker themselves, after something has been queued."""
    return run_celery_worker


def _user(django_user_model, username, role=None):
    user = django_user_model.objects.create_user(username=username, password="pw-for-tests-1")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def analyst(django_user_model):
    return _user(django_user_model, "ana", roles.ANALYST)


@pytest.fixture
def marketer(django_user_model):
    return _user(django_user_model, "mark", roles.MARKETER)


@pytest.fixture
def manager(django_user_model):
    return _user(django_user_model, "manny", roles.MANAGER)


@pytest.fixture
def reader(django_user_model):
    """A custom role: reads runs, segments, personas, members and campaigns, but not
    customers, so not their personal data (custseg_site.roles.may_see_personal_data)."""
    user = _user(django_user_model, "reader")
    for code in ("segments.view_segmentationrun", "segments.view_segment", "segments.view_membership",
                 "segments.view_persona", "campaigns.view_campaign"):
        app_label, codename = code.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def nobody(django_user_model):
    """Signed in, but in no role group."""
    return _user(django_user_model, "nobody")


@pytest.fixture(autouse=True)
def _api_throttle_cache(settings):
    """API throttling counts in the cache: a private in-memory one per test, so tests need
    no Redis for it and never share counts."""
    settings.CACHES = local_caches()


@pytest.fixture
def scoped_client():
    """An API client with a new integration token of `user` limited to `scopes`."""
    from integrations.services.tokens import token_create

    def for_user(user, *scopes: str) -> APIClient:
        _, key = token_create(user=user, name="test integration", scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return for_user


@pytest.fixture
def api_client():
    def for_user(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return for_user
