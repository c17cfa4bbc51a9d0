"""One authentication scheme: `Authorization: Bearer <key>` (what client generators send) or
`Token <key>`, for a user's token and an integration token alike, and the schema says so."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.services.tokens import token_create, token_revoke

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/runs/"


def _client(authorization: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


@pytest.mark.parametrize("prefix", ["Bearer", "Token", "bearer"])
def test_a_users_token_works_after_either_prefix(manager, prefix):
    key = Token.objects.create(user=manager).key
    response = _client(f"{prefix} {key}").get(RUNS)
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("prefix", ["Bearer", "Token"])
def test_an_integration_token_works_after_either_prefix_and_keeps_its_scopes(manager, prefix):
    _, key = token_create(user=manager, name="crm", scopes=["runs:read"])
    client = _client(f"{prefix} {key}")
    assert client.get(RUNS).status_code == 200
    refused = client.get("/api/v1/personas/")
    assert refused.status_code == 403 and "personas:read" in refused.json()["error"]["message"]


@pytest.mark.parametrize("authorization", [
    "Bearer 0123456789abcdef0123456789abcdef01234567",  # the shape of a user's key, but nobody's
    "Token 0123456789abcdef0123456789abcdef01234567",
    "Bearer cs_not-a-key",
    "Token cs_not-a-key",
    "Bearer",
    "Bearer two words",
])
def test_a_bad_key_after_either_prefix_is_a_401_in_the_error_format(authorization):
    response = _client(authorization).get(RUNS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["status"] == 401 and error["code"] == "authentication_failed" and error["message"]


def test_a_revoked_integration_token_is_a_401_after_bearer(manager):
    token, key = token_create(user=manager, name="crm", scopes=["runs:read"])
    client = _client(f"Bearer {key}")
    assert client.get(RUNS).status_code == 200
    token_revoke(token=token)
    assert client.get(RUNS).status_code == 401


def test_the_browser_session_still_works(client, manager):
    client.force_login(manager)
    assert client.get(RUNS).status_code == 200


def test_the_schema_describes_one_bearer_scheme_on_every_operation(client):
    schema = client.get("/api/schema/?format=json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiToken"]["type"] == "http" and schemes["apiToken"]["scheme"] == "bearer"
    assert "`Token <key>` works too" in schemes["apiToken"]["description"]
    assert "cs_" in schemes["apiToken"]["description"]
    assert set(schemes) == {"apiToken", "cookieAuth"}
    securities = {str(operation["security"]) for item in schema["paths"].values() for operation in item.values()}
    assert securities == {str([{"apiToken": []}, {"cookieAuth": []}])}
