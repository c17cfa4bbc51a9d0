"""Webhooks: a publish that changes a persona's members POSTs a signed notice to a real
HTTP server; failures are retried with backoff and shown on the Integrations page."""

import hashlib
import hmac
import json

import pytest

from integrations import transport
from integrations.models import WebhookDelivery
from integrations.services import webhooks
from segments import services
from segments.personas.services import persona_create
from tests.integrations.webhooks_support import Receiver
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db


def publish(run, by, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.run_publish(run=run, by=by)


def test_publish_notifies_each_webhook_with_a_signed_summary(eager_celery, two_runs, analyst,
                                                            django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        publish(two_runs["b"], analyst, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    # the signature is the HMAC-SHA256 of the exact body with the endpoint's secret
    expected = "sha256=" + hmac.new(endpoint.secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["X-Custseg-Signature"], expected)
    assert request["headers"]["X-Custseg-Event"] == "persona.membership_changed"
    payload = json.loads(request["body"])
    assert payload["persona"]["id"] == two_runs["persona"].pk
    assert (payload["run"], payload["previous_run"]) == (two_runs["b"].pk, two_runs["a"].pk)
    assert (payload["joined"], payload["left"]) == (2, 2)
    assert f"changed_since={two_runs['a'].pk}" in payload["links"]["delta"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)


def test_the_delta_link_gives_who_joined_and_left(eager_celery, two_runs, analyst, manager, scoped_client,
                                                 django_capture_on_commit_callbacks, settings):
    settings.SITE_URL = "http://testserver"
    with Receiver([200]) as receiver:
        webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        publish(two_runs["b"], analyst, django_capture_on_commit_callbacks)
    delta = json.loads(receiver.requests[0]["body"])["links"]["delta"]
    body = scoped_client(manager, "membership:read").get(delta).json()
    assert sorted(item["change"] for item in body["results"]) == ["joined", "joined", "left", "left"]


def test_failed_deliveries_are_retried_with_backoff_then_succeed(eager_celery, two_runs, analyst,
                                                                 django_capture_on_commit_callbacks):
    with Receiver([500, 503, 200]) as receiver:
        webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        publish(two_runs["b"], analyst, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 3
    # every attempt carries the same signed body
    assert len({r["body"] for r in receiver.requests}) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.error) == ("succeeded", 3, 200, "")


def test_a_receiver_that_keeps_failing_is_given_up_on_and_shown(eager_celery, settings, two_runs, analyst, client,
                                                                django_capture_on_commit_callbacks):
    with Receiver([500]) as receiver:
        webhooks.webhook_endpoint_create(name="Broken CRM", url=receiver.url, by=analyst)
        publish(two_runs["b"], analyst, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == settings.WEBHOOK_MAX_ATTEMPTS
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == settings.WEBHOOK_MAX_ATTEMPTS
    assert delivery.response_code == 500 and "HTTP 500" in delivery.error and delivery.next_retry_at is None
    client.force_login(analyst)
    page = client.get("/integrations/").content.decode()
    assert "Broken CRM" in page and "Failed" in page and "HTTP 500" in page


def test_backoff_doubles_and_a_retrying_delivery_shows_its_next_attempt(two_runs, analyst, settings, client):
    # given a receiver that is down (nothing listens on the port)
    with Receiver([200]) as gone:
        url = gone.url
    endpoint = webhooks.webhook_endpoint_create(name="Down CRM", url=url, by=analyst)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="persona.membership_changed",
                                              payload={"joined": 1, "left": 0, "run": two_runs["b"].pk})
    delays = [transport.webhook_deliver(delivery_id=delivery.pk).retry_in for _ in range(3)]
    assert delays == [settings.WEBHOOK_RETRY_BASE_SECONDS * f for f in (1, 2, 4)]
    delivery.refresh_from_db()
    assert delivery.status == "retrying" and delivery.response_code is None and delivery.next_retry_at is not None
    assert "Connection" in delivery.error or "refused" in delivery.error
    client.force_login(analyst)
    assert "Retrying" in client.get("/integrations/").content.decode()


def test_a_persona_webhook_hears_only_of_its_persona_and_deliveries_are_written_once(
        eager_celery, two_runs, analyst, marketer, django_capture_on_commit_callbacks):
    other = persona_create(segment=two_runs["a"].segments.get(index=1), name="Thrifty", by=marketer)
    with Receiver([200]) as receiver:
        webhooks.webhook_endpoint_create(name="Only thrifty", url=receiver.url, persona=other, by=analyst)
        publish(two_runs["b"], analyst, django_capture_on_commit_callbacks)
    payloads = [json.loads(r["body"]) for r in receiver.requests]
    assert [p["persona"]["id"] for p in payloads] == [other.pk]
    # publishing run A again and again B: the same deliveries are not written twice per publication
    with Receiver([200]) as receiver:
        webhooks.webhook_endpoint_create(name="All", url=receiver.url, by=analyst)
        webhooks.publish_notifications(run_id=two_runs["b"].pk, previous_run_id=two_runs["a"].pk)
        assert webhooks.publish_notifications(run_id=two_runs["b"].pk, previous_run_id=two_runs["a"].pk) == []


def test_integrations_page_creates_and_revokes_tokens_for_analysts_only(client, analyst, manager):
    client.force_login(manager)
    assert client.get("/integrations/").status_code == 403
    client.force_login(analyst)
    response = client.post("/integrations/tokens/", {"name": "CRM sync", "scopes": ["membership:read"]})
    assert response.status_code == 200
    key = response.context["new_key"]["key"]
    assert key.startswith("cs_") and key in response.content.decode()
    from integrations.models import ApiToken

    token = ApiToken.objects.get()
    assert token.scopes == ["membership:read"] and token.user == analyst
    # the key is shown once: the page never shows it again
    assert key not in client.get("/integrations/").content.decode()
    client.post(f"/integrations/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    response = client.post("/integrations/tokens/", {"name": "", "scopes": []})
    assert response.status_code == 400


def test_a_publish_that_moves_nobody_sends_nothing(eager_celery, two_runs, analyst, django_capture_on_commit_callbacks):
    publish(two_runs["b"], analyst, django_capture_on_commit_callbacks)
    customers = list(two_runs["b"].segments.get(index=0).memberships.values_list("customer", flat=True))
    from customers.models import Customer

    in_zero = list(Customer.objects.filter(pk__in=customers))
    rest = list(Customer.objects.exclude(pk__in=customers))
    same = segmented_run(groups={0: in_zero, 1: rest}, zscores={0: {"monetary": 1.0}, 1: {"monetary": -1.0}})
    with Receiver([200]) as receiver:
        webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        publish(same, analyst, django_capture_on_commit_callbacks)
    assert two_runs["persona"].links.get(unlinked_at__isnull=True).run_id == same.pk  # re-linked ...
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()  # ... but nobody moved
