"""Schemathesis against the OpenAPI schema: generated requests to every operation, with a
membership-only token and with an Analyst's full token, never get a 5xx.

Webhooks: generated requests register URLs of any host and ping them or re-send their
deliveries, yet nothing is POSTed anywhere. No request sends a webhook itself: it writes a
delivery and enqueues the attempt with transaction.on_commit, and this test's transaction
never commits (it is rolled back at the end), so no job is enqueued, and no worker runs
here to take one. The end of the test checks that no delivery was attempted.
"""


import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from integrations.models import WebhookDelivery
from integrations.services import webhooks
from integrations.services.tokens import token_create
from segments.personas.services import persona_create
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = [pytest.mark.django_db, pytest.mark.schemathesis]

# Examples per operation and token: enough to reach every parameter's edge cases the
# generator favours, few enough for the whole test to stay well under two minutes.
EXAMPLES_PER_OPERATION = 20


def _hammer(schema, authorization: str) -> tuple[list[str], int]:
    server_errors, calls = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis_settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        @given(data=st.data())
        def check(data):
            nonlocal calls
            case = data.draw(operation.as_strategy())  # noqa: B023  (check runs in this iteration)
            response = case.call(headers={"Authorization": authorization})
            calls += 1
            if response.status_code >= 500:
                server_errors.append(f"{operation.label}: {response.status_code} {case.as_curl_command()}")  # noqa: B023

        check()
    return server_errors, calls


def test_no_generated_request_gets_a_server_error(client, settings, analyst, marketer, manager):
    # given published segments with a persona, so that some generated ids hit real rows
    settings.API_THROTTLE_RATE = None  # thousands of requests from one token are the point here
    customers = CustomerFactory.create_batch(12)
    run = segmented_run(groups={0: customers[:6], 1: customers[6:]}, publish=True, by=analyst)
    persona = persona_create(segment=run.segments.get(index=0), name="Persona", by=marketer)
    # a webhook with a failed delivery for generated ids to find (.invalid never resolves)
    endpoint = webhooks.webhook_endpoint_create(name="CRM", url="https://crm.example.invalid/hooks", persona=persona,
                                                by=analyst)
    seeded = WebhookDelivery.objects.create(endpoint=endpoint, event=webhooks.EVENT_PING, payload={},
                                            status="failed", attempts=5, error="HTTP 503 Service Unavailable")
    schema = schemathesis.openapi.from_dict(client.get("/api/schema/?format=json").json())
    schema.app = get_wsgi_application()
    _, membership_key = token_create(user=manager, name="schemathesis", scopes=["membership:read"])
    analyst_key = Token.objects.create(user=analyst).key
    errors, calls = [], 0
    # as Django's test client does: the test's transaction must survive each request's end
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        for key in (membership_key, analyst_key):
            found, made = _hammer(schema, f"Token {key}")
            errors += found
            calls += made
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    assert calls > 200
    assert errors == [], "\n".join(errors[:20])
    # and no webhook was sent: no delivery has an attempt more than it started with
    assert not WebhookDelivery.objects.exclude(pk=seeded.pk).filter(attempts__gt=0).exists()
    assert not WebhookDelivery.objects.filter(pk=seeded.pk, attempts__gt=5).exists()
