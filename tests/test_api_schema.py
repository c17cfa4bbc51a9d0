"""The OpenAPI schema tells a client generator the truth: every error an operation can
answer, in one declared shape; operation ids a person would write; public, valid, and
generated without warnings."""

import os
import re
import uuid

import jsonschema
import pytest
from django.core.management import call_command
from drf_spectacular.drainage import reset_generator_stats
from openapi_spec_validator import validate
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ERROR_REF = "#/components/schemas/ErrorResponse"
VERBS = {"list", "get", "create", "update", "delete", "cancel", "publish", "launch", "ping",
         "rotate", "redeliver", "compare", "assign", "compute", "import", "export"}
MEMBER_OPERATIONS = {
    ("get", "/api/v1/personas/{id}/members/"): "list_persona_members",
    ("get", "/api/v1/personas/{id}/members/csv/"): "export_persona_members_csv",
    ("get", "/api/v1/segments/{id}/members/"): "list_segment_members",
    ("get", "/api/v1/segments/{id}/members/csv/"): "export_segment_members_csv",
    ("get", "/api/v1/campaigns/{id}/members/"): "list_campaign_audience",
    ("get", "/api/v1/campaigns/{id}/members/csv/"): "export_campaign_audience_csv",
}


@pytest.fixture
def schema(client):
    # without a token: a client generator reads it so
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def assert_error_body(schema, response, status: int, code: str):
    """The body validates against the schema's ErrorResponse, and says what the status says."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    jsonschema.validate(body, {"$ref": ERROR_REF, "components": schema["components"]})
    declared = schema["components"]["schemas"]["ErrorDetail"]["properties"]
    assert set(body["error"]) <= set(declared)  # nothing the component leaves out
    assert body["error"]["status"] == status and body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_schema_and_docs_are_public_and_not_throttled(client, settings):
    # given a rate a generator fetching the schema a few times would pass
    settings.API_THROTTLE_RATE = "2/minute"
    for _ in range(4):
        assert client.get("/api/schema/").status_code == 200
        assert client.get("/api/docs/").status_code == 200
    # a bad token is not even looked at
    assert client.get("/api/schema/", HTTP_AUTHORIZATION="Bearer wrong").status_code == 200


def test_schema_is_valid_openapi(schema):
    validate(schema)


def test_schema_generates_without_warnings():
    reset_generator_stats()
    # raises SchemaGenerationError on any warning
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)


def test_error_component_is_declared(schema):
    components = schema["components"]["schemas"]
    assert components["ErrorResponse"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    detail = components["ErrorDetail"]
    assert set(detail["required"]) == {"status", "code", "message"}
    assert detail["properties"]["fields"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    for code in ("not_found", "not_authenticated", "authentication_failed", "permission_denied", "throttled"):
        assert code in detail["properties"]["code"]["description"]
    assert "ApiError" not in components


def test_every_operation_declares_every_error_it_can_answer(schema):
    missing = []
    for method, path, operation in operations(schema):
        responses = operation["responses"]
        expected = {"401", "403", "429"}
        if "{" in path:
            expected.add("404")
        query = [p for p in operation.get("parameters", []) if p["in"] == "query" and p["name"] != "format"]
        if "requestBody" in operation or query or method in ("post", "patch", "put"):
            expected.add("400")
        if "requestBody" in operation:
            expected.add("415")
        missing += [f"{method} {path} {code}" for code in sorted(expected - set(responses))]
        for code, response in responses.items():
            if code >= "400":
                assert response["content"] == {"application/json": {"schema": {"$ref": ERROR_REF}}}, (method, path, code)
                assert response["description"], (method, path, code)
        assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
        assert responses["401"]["headers"]["WWW-Authenticate"]
    assert missing == []
    # and what views add themselves is there with the same body
    assert "409" in schema["paths"]["/api/v1/personas/"]["post"]["responses"]
    assert "segment_held" in schema["paths"]["/api/v1/personas/"]["post"]["responses"]["409"]["description"]


def test_operation_ids_are_snake_case_verbs_and_unique(schema):
    ids = [(method, path, operation["operationId"]) for method, path, operation in operations(schema)]
    assert len({i for _, _, i in ids}) == len(ids)
    badly_named = [(m, p, i) for m, p, i in ids
                   if not re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", i) or "v1" in i
                   or re.sub(r"^partial_update", "update", i).split("_")[0] not in VERBS]
    assert badly_named == []
    by_operation = {(m, p): i for m, p, i in ids}
    assert by_operation[("get", "/api/v1/personas/")] == "list_personas"
    assert by_operation[("get", "/api/v1/personas/{id}/")] == "get_persona"
    assert by_operation[("post", "/api/v1/runs/{id}/publish/")] == "publish_run"
    assert by_operation[("get", "/api/v1/runs/{id}/publish-preview/")] == "get_run_publish_preview"
    assert by_operation[("get", "/api/v1/webhooks/{id}/deliveries/")] == "list_webhook_deliveries"
    assert by_operation[("get", "/api/v1/customers/{external_id}/")] == "get_customer"
    for operation, name in MEMBER_OPERATIONS.items():
        if operation in by_operation or not operation[1].endswith("/csv/"):  # the csv ones come with item 2
            assert by_operation[operation] == name


def test_component_names_read_as_names(schema):
    # what generators turn into class names: nothing numbered or inline
    names = schema["components"]["schemas"]
    assert [n for n in names if re.search(r"Type\d|Inline|^Patched.*Enum$", n)] == []
    customer = names["CustomerDetail"]["properties"]
    assert "CustomerSegment" in str(customer["segment"]) and "CustomerFeatures" in str(customer["features"])
    assert "MembershipBaseline" in str(names["PersonaMemberPage"]["properties"]["changed_since"])


# Real errors of real endpoints, read with the schema's component


def test_bad_input_is_a_400_naming_the_field(schema, api_client, analyst):
    client = api_client(analyst)
    error = assert_error_body(schema, client.post("/api/v1/runs/", {"k": 1}, format="json"), 400, "invalid")
    assert "k" in error["fields"] or "features" in error["fields"]
    # a mangled cursor: 400 on `cursor`, not DRF's 404 that reads "no such list"
    error = assert_error_body(schema, client.get("/api/v1/runs/?cursor=not-a-cursor"), 400, "invalid")
    assert list(error["fields"]) == ["cursor"]


def test_no_or_a_bad_token_is_a_401(schema):
    client = APIClient()
    response = client.get("/api/v1/personas/")
    assert_error_body(schema, response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"
    client.credentials(HTTP_AUTHORIZATION="Bearer cs_unknown")
    assert_error_body(schema, client.get("/api/v1/personas/"), 401, "authentication_failed")


def test_a_role_that_may_not_is_a_403(schema, api_client, manager):
    response = api_client(manager).post("/api/v1/runs/", {"features": ["recency"]}, format="json")
    assert_error_body(schema, response, 403, "permission_denied")


def test_an_unknown_id_is_a_404_with_code_not_found(schema, api_client, manager):
    client = api_client(manager)
    assert_error_body(schema, client.get("/api/v1/personas/999999/"), 404, "not_found")
    assert_error_body(schema, client.get("/api/v1/personas/999999/members/"), 404, "not_found")
    assert_error_body(schema, client.get("/api/v1/customers/nobody-has-this-id/"), 404, "not_found")


def test_past_the_rate_is_a_429_with_retry_after(schema, settings, redis_url, api_client, manager):
    # counted in real Redis, as in production
    settings.CACHES = {alias: {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url,
                               "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for alias in ("default", "strict")}
    settings.API_THROTTLE_RATE = "2/minute"
    client = api_client(manager)
    assert [client.get("/api/v1/runs/").status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/v1/runs/")
    assert_error_body(schema, response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60


def test_a_method_an_operation_lacks_is_a_405_in_the_same_shape(schema, api_client, analyst):
    assert_error_body(schema, api_client(analyst).delete("/api/v1/runs/"), 405, "method_not_allowed")


def test_an_accept_header_an_operation_cannot_answer_is_a_declared_406(schema, api_client, manager):
    # given a client that asks for CSV where only JSON is served
    response = api_client(manager).get("/api/v1/personas/", HTTP_ACCEPT="text/csv")
    # then the 406 is in the error shape, and the schema declares it (it did not: a generated
    # client got parsed=None)
    assert_error_body(schema, response, 406, "not_acceptable")
    assert schema["paths"]["/api/v1/personas/"]["get"]["responses"]["406"]["content"] == {
        "application/json": {"schema": {"$ref": ERROR_REF}}}
    # an operation with one media type answers it whatever Accept says, and declares no 406
    members = schema["paths"]["/api/v1/personas/{id}/members/"]["get"]["responses"]
    csv = schema["paths"]["/api/v1/personas/{id}/members/csv/"]["get"]["responses"]
    assert "406" not in members and "406" not in csv
