"""Integration tokens: scopes, every endpoint checked, throttling, the CLI."""

import re
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connections, transaction
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from custseg_site import roles
from integrations.models import ApiToken
from integrations.scopes import SCOPES
from integrations.services.tokens import token_create, token_for_key, token_revoke
from segments.personas.services import persona_create
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db

# What a membership:read token may call (method, path template)
MEMBERSHIP_OPERATIONS = {
    ("get", "/api/v1/personas/"),  # to find the ids it pulls
    ("get", "/api/v1/segments/"),
    ("get", "/api/v1/personas/{id}/members/"),
    ("get", "/api/v1/personas/{id}/members/csv/"),
    ("get", "/api/v1/segments/{id}/members/"),
    ("get", "/api/v1/segments/{id}/members/csv/"),
    ("get", "/api/v1/customers/{external_id}/"),
    ("get", "/api/v1/campaigns/{id}/members/"),  # a campaign's audience, for the channel to send to
    ("get", "/api/v1/campaigns/{id}/members/csv/"),
}


def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in schema["paths"].items():
        for method in item:
            yield method, path


@pytest.fixture
def published(analyst, marketer):
    customers = CustomerFactory.create_batch(6)
    run = segmented_run(groups={0: customers[:3], 1: customers[3:]}, publish=True, by=analyst)
    persona = persona_create(segment=run.segments.get(index=0), name="Persona", by=marketer)
    return {"id": persona.pk, "external_id": customers[0].external_id, "run": run,
            "segment": run.segments.get(index=0).pk}


def _url(path, published, method):
    ids = {"id": published["segment"] if "/segments/" in path else
           published["run"].pk if "/runs/" in path else published["id"], "external_id": published["external_id"]}
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


def test_a_membership_token_reads_memberships_and_nothing_else(scoped_client, admin_user, published):
    client = scoped_client(admin_user, "membership:read")
    seen = set()
    for method, path in operations():
        response = getattr(client, method)(_url(path, published, method))
        allowed = (method, path) in MEMBERSHIP_OPERATIONS
        assert (response.status_code != 403) == allowed, (method, path, response.status_code)
        if not allowed:
            assert response.json()["error"]["code"] == "permission_denied"
            assert "membership:read" in response.json()["error"]["message"]
        seen.add((method, path))
    assert MEMBERSHIP_OPERATIONS <= seen
    # and its key opens no page: pages use sessions, not tokens
    assert client.get("/").status_code == 302


def test_every_endpoint_declares_its_scope(scoped_client, admin_user, published):
    # given a superuser's token with every scope: no endpoint refuses it
    client = scoped_client(admin_user, *SCOPES)
    for method, path in operations():
        response = getattr(client, method)(_url(path, published, method))
        assert response.status_code != 403, (method, path, response.content[:200])


def test_scope_and_role_both_apply(scoped_client, manager, marketer, published):
    # a Manager's token with personas:write still cannot write: the role says read only
    response = scoped_client(manager, "personas:write").patch(f"/api/v1/personas/{published['id']}/", {"notes": "x"})
    assert response.status_code == 403 and "change_persona" in response.json()["error"]["message"]
    # a Marketer's token with personas:read cannot write either: the scope says read only
    response = scoped_client(marketer, "personas:read").patch(f"/api/v1/personas/{published['id']}/", {"notes": "x"})
    assert response.status_code == 403 and "personas:write" in response.json()["error"]["message"]
    response = scoped_client(marketer, "personas:write").patch(f"/api/v1/personas/{published['id']}/", {"notes": "x"})
    assert response.status_code == 200


def test_revoked_or_unknown_tokens_are_refused_and_full_access_tokens_still_work(manager, api_client, published):
    token, key = token_create(user=manager, name="crm", scopes=["membership:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(f"/api/v1/personas/{published['id']}/members/").status_code == 200
    token_revoke(token=token)
    response = client.get(f"/api/v1/personas/{published['id']}/members/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"
    client.credentials(HTTP_AUTHORIZATION="Token cs_not-a-key")
    assert client.get(f"/api/v1/personas/{published['id']}/members/").status_code == 401
    # the user's own (DRF) token: everything the role allows
    assert api_client(manager).get("/api/v1/runs/").status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_role_and_user_changes_reach_a_token_at_once_although_its_authentication_is_cached(
        manager, published, django_assert_max_num_queries):
    # given a Manager's membership token that has been used (its authentication is cached)
    token, key = token_create(user=manager, name="crm", scopes=["membership:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    url = f"/api/v1/personas/{published['id']}/members/"
    first = client.get(url + "?page_size=1")
    assert first.status_code == 200
    # then the next page asks the database for the members only, not for the token or the role
    with django_assert_max_num_queries(1):
        assert client.get(first.json()["next"]).status_code == 200
    # when the user loses the role, the next request is refused
    manager.groups.clear()
    assert client.get(url).status_code == 403
    manager.groups.add(Group.objects.get(name=roles.MANAGER))
    assert client.get(url).status_code == 200
    # and when the user is deactivated, or the token's scopes are edited (the admin), too
    manager.is_active = False
    manager.save()
    assert client.get(url).status_code == 401
    manager.is_active = True
    manager.save()
    assert client.get(url).status_code == 200
    token.scopes = ["personas:read"]
    token.save()
    assert client.get(url).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_request_that_read_the_token_just_before_its_revocation_committed_cannot_cache_it_again(manager):
    # given a used token (its authentication is cached)
    token, key = token_create(user=manager, name="crm", scopes=["membership:read"])
    assert token_for_key(key) is not None
    with transaction.atomic():
        token_revoke(token=token)
        # when a concurrent request, on its own connection, reads the token before the commit
        seen = []

        def concurrent_request():
            seen.append(token_for_key(key))
            connections.close_all()

        thread = threading.Thread(target=concurrent_request)
        thread.start()
        thread.join()
        assert seen[0] is not None  # it still saw the token live: the revocation was not committed
    # then after the commit the token is refused, although that request wrote after the revoke
    assert token_for_key(key) is None


def test_a_change_to_a_roles_permissions_reaches_its_tokens_at_once(manager, published):
    token, key = token_create(user=manager, name="crm", scopes=["membership:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    url = f"/api/v1/personas/{published['id']}/members/"
    assert client.get(url).status_code == 200
    role = Group.objects.get(name=roles.MANAGER)
    view_persona = role.permissions.get(codename="view_persona")
    role.permissions.remove(view_persona)
    assert client.get(url).status_code == 403
    role.permissions.add(view_persona)
    assert client.get(url).status_code == 200


def test_the_cache_keeps_no_password_hash(manager):
    from django.core.cache import cache

    from integrations.services.tokens import _cache_key, _hash

    _, key = token_create(user=manager, name="crm", scopes=["membership:read"])
    token = token_for_key(key)
    assert token.user.pk == manager.pk and token.user.has_perm("segments.view_persona")
    cached = cache.get(_cache_key(_hash(key)))
    assert manager.password and manager.password not in repr(cached) and "password" not in repr(cached)


def test_requests_past_the_rate_get_429_per_token(settings, scoped_client, manager, published):
    settings.API_THROTTLE_RATE = "3/minute"
    url = f"/api/v1/personas/{published['id']}/members/"
    first, second = scoped_client(manager, "membership:read"), scoped_client(manager, "membership:read")
    assert [first.get(url).status_code for _ in range(3)] == [200, 200, 200]
    response = first.get(url)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["status"] == 429 and error["code"] == "throttled" and int(response["Retry-After"]) > 0
    # another token has its own allowance
    assert second.get(url).status_code == 200


def test_create_api_token_command_makes_a_scoped_token(manager, published, capsys):
    call_command("create_api_token", manager.username, "--scope", "membership:read", "--name", "crm sync")
    key = capsys.readouterr().out.strip()
    assert key.startswith("cs_")
    token = ApiToken.objects.get()
    assert token.scopes == ["membership:read"] and token.name == "crm sync" and key not in token.key_hash
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"/api/v1/personas/{published['id']}/members/").status_code == 200
    assert client.get("/api/v1/runs/").status_code == 403


def test_a_membership_token_finds_the_personas_and_segments_it_pulls(scoped_client, manager, published,
                                                                     django_assert_max_num_queries):
    client = scoped_client(manager, "membership:read")
    # given only membership:read, an integration lists personas: ids, names, the segment, its size and run
    personas = client.get("/api/v1/personas/")
    assert personas.status_code == 200
    [persona] = personas.json()["results"]
    link = persona["current_link"]
    assert persona["id"] == published["id"] and persona["name"] == "Persona"
    assert (link["segment"], link["run"], link["size"]) == (published["segment"], published["run"].pk, 3)
    # and nothing more: the marketing text and its owner are the whole record's (personas:read)
    assert {"description", "goals", "pain_points", "notes", "owner", "suggested_description"}.isdisjoint(persona)
    assert client.get(persona["members_url"]).status_code == 200
    # and the published run's segments, or another run's with ?run=
    segments = client.get("/api/v1/segments/")
    assert segments.status_code == 200
    assert [(s["id"], s["run"], s["size"], s["run_published"]) for s in segments.json()] == [
        (segment.pk, published["run"].pk, 3, True) for segment in published["run"].segments.order_by("index")]
    assert {"profile", "rules"}.isdisjoint(segments.json()[0])
    with django_assert_max_num_queries(1):
        assert len(client.get("/api/v1/segments/", {"run": published["run"].pk}).json()) == 2
    assert client.get("/api/v1/segments/", {"run": published["run"].pk + 1000}).json() == []
    bad = client.get("/api/v1/segments/", {"run": "latest"})
    assert bad.status_code == 400 and "run" in bad.json()["error"]["fields"]
    # then pulls the members of what it found
    assert client.get(segments.json()[0]["members_url"]).status_code == 200
    # but reads no more: one persona or segment, and writes, still need their own scopes
    for response in (client.get(f"/api/v1/personas/{published['id']}/"),
                     client.get(f"/api/v1/segments/{published['segment']}/"),
                     client.post("/api/v1/personas/", {"name": "x", "segment": published["segment"]})):
        assert response.status_code == 403
        assert "(it needs personas:" in response.json()["error"]["message"] or \
            "(it needs runs:read)" in response.json()["error"]["message"]
    # and a token with only runs:read lists segments but not personas
    runs = scoped_client(manager, "runs:read")
    assert runs.get("/api/v1/segments/").status_code == 200
    refused = runs.get("/api/v1/personas/")
    assert refused.status_code == 403
    assert "it needs personas:read or membership:read" in refused.json()["error"]["message"]
