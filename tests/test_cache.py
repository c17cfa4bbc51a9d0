"""The settings' caches (django-redis) on Redis: a token's authentication is cached through
the "default" alias and forgotten through the "strict" one. With Redis unreachable, what only
costs time goes on without it ("default" misses) and what would be wrong fails ("strict")."""

import re
import uuid

import pytest
from django.core.cache import caches
from django.urls import reverse
from redis.exceptions import RedisError
from rest_framework.test import APIClient

from custseg_site import settings as site_settings
from custseg_site.embedded_redis import free_port
from integrations.models import ApiToken
from integrations.services.tokens import _cache_key, _hash, token_create, token_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_caches(settings, redis_url):
    """The settings' own caches on the tests' Redis, under a prefix of this test's (entries
    expire by themselves; clearing would empty the Celery queues of a shared database)."""
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {alias: {**config, "LOCATION": redis_url, "KEY_PREFIX": prefix}
                       for alias, config in site_settings.CACHES.items()}


@pytest.fixture
def redis_down(settings):
    """The settings' own caches (django-redis), on a port nothing listens on."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {alias: {**config, "LOCATION": url} for alias, config in site_settings.CACHES.items()}


def test_a_revoked_token_is_refused_at_once_although_redis_had_cached_it(manager, redis_caches):
    # given a used token, its authentication cached in Redis
    token, key = token_create(user=manager, name="crm", scopes=["personas:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/personas/").status_code == 200
    assert isinstance(caches["default"].get(_cache_key(_hash(key))), dict)
    # when it is revoked, then its next request is refused
    token_revoke(token=token)
    assert client.get("/api/v1/personas/").status_code == 401


def test_with_redis_down_an_integration_token_still_reads_the_api(manager, redis_down):
    # given a token, its authentication not in the cache (which cannot be reached)
    _, key = token_create(user=manager, name="crm", scopes=["personas:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    # when it is used twice, then it is read from the database and the throttle lets it through
    for _ in range(2):
        assert client.get("/api/v1/personas/").status_code == 200


def test_with_redis_down_revoking_a_token_fails_instead_of_leaving_its_cached_authentication(manager, redis_down):
    token, _ = token_create(user=manager, name="crm", scopes=["personas:read"])
    with pytest.raises(RedisError):
        token_revoke(token=token)


def test_with_redis_down_the_new_token_form_is_still_accepted(client, analyst, redis_down):
    # the once-only check cannot tell whether the form was sent before: it takes it as new
    client.force_login(analyst)
    once = re.search(r'name="once" value="([^"]+)"', client.get("/integrations/").content.decode()).group(1)
    response = client.post(reverse("token-create"), {"name": "CRM sync", "scopes": ["membership:read"], "once": once})
    assert response.status_code == 200 and ApiToken.objects.count() == 1
