"""Webhooks over the API: campaign tools register, change, re-key and delete their
endpoints, read deliveries, re-send failed ones and ping, with a webhooks:manage token or
an Analyst's session. Deliveries go to a real HTTP server on localhost."""

import base64
import json

import pytest
from rest_framework.test import APIClient

from integrations import transport
from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.services import webhooks
from integrations.services.tokens import token_create, token_revoke
from segments import services
from tests.integrations.webhooks_support import Receiver, signed_with

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks/"


@pytest.fixture
def manage(scoped_client, analyst):
    """An integration token of an Analyst with the webhooks scope."""
    return scoped_client(analyst, "webhooks:manage")


def ping(client, endpoint_id, capture):
    with capture(execute=True):  # the commit that sends the job to the (eager) worker
        return client.post(f"{WEBHOOKS}{endpoint_id}/ping/")


def test_create_shows_the_secret_once_and_it_signs_what_the_receiver_gets(
        eager_celery, manage, django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        # when an integration registers itself
        response = manage.post(WEBHOOKS, {"name": "CRM", "url": receiver.url}, format="json")
        assert response.status_code == 201, response.content
        created = response.json()
        secret = created["secret"]
        # a Standard Webhooks secret: "whsec_" + base64 of 32 random bytes
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
        assert created["legacy_secret"] is False and created["active"] is True and created["persona"] is None
        assert created["created_by"] == "ana" and created["url"] == receiver.url
        # then no later answer carries the secret
        detail = manage.get(f"{WEBHOOKS}{created['id']}/")
        assert detail.status_code == 200 and "secret" not in detail.json()
        for later in (detail, manage.get(WEBHOOKS), manage.get(f"{WEBHOOKS}{created['id']}/deliveries/")):
            assert secret not in later.content.decode()
        # and a ping is signed with it
        answer = ping(manage, created["id"], django_capture_on_commit_callbacks)
    assert answer.status_code == 202
    assert (answer.json()["event"], answer.json()["status"]) == ("webhook.ping", "pending")
    assert len(receiver.requests) == 1 and signed_with(secret, receiver.requests[0])
    assert receiver.requests[0]["headers"]["X-Custseg-Event"] == "webhook.ping"
    assert json.loads(receiver.requests[0]["body"])["webhook"] == {"id": created["id"], "name": "CRM"}
    delivery = manage.get(f"{WEBHOOKS}{created['id']}/deliveries/").json()["results"][0]
    assert (delivery["status"], delivery["attempts"], delivery["response_code"]) == ("succeeded", 1, 200)


def test_a_ping_is_sent_by_the_worker_after_commit_never_by_the_request(
        eager_celery, manage, django_capture_on_commit_callbacks):
    # (what keeps generated requests in the schemathesis test from POSTing anywhere: its
    # transaction never commits, so no job is ever enqueued)
    with Receiver([200]) as receiver:
        created = manage.post(WEBHOOKS, {"name": "CRM", "url": receiver.url}, format="json").json()
        with django_capture_on_commit_callbacks(execute=False) as on_commit:
            assert manage.post(f"{WEBHOOKS}{created['id']}/ping/").status_code == 202
        assert receiver.requests == []
        assert WebhookDelivery.objects.get().attempts == 0
        for callback in on_commit:
            callback()
    assert len(receiver.requests) == 1 and WebhookDelivery.objects.get().status == "succeeded"


def test_rotating_the_secret_changes_the_signature_a_receiver_sees(
        eager_celery, manage, django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        created = manage.post(WEBHOOKS, {"name": "CRM", "url": receiver.url}, format="json").json()
        old = created["secret"]
        # when the secret is rotated
        rotated = manage.post(f"{WEBHOOKS}{created['id']}/rotate-secret/")
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new != old and new.startswith("whsec_")
        assert "secret" not in manage.get(f"{WEBHOOKS}{created['id']}/").json()
        ping(manage, created["id"], django_capture_on_commit_callbacks)
    # then the receiver's check passes with the new secret and fails with the old one
    request = receiver.requests[0]
    assert signed_with(new, request)
    assert not signed_with(old, request)


@pytest.mark.parametrize("url, message", [
    ("ftp://crm.example.com/hooks", "http:// or https://"),
    ("crm.example.com/hooks", "http:// or https://"),
    ("http://", "http:// or https://"),
    ("https:///hooks", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("", "http:// or https://"),
    ("https://crm.example.com/hooks with spaces", "http:// or https://"),
    ("https://user:password@crm.example.com/hooks", "no user name or password"),
    ("https://crm.example.com/" + "a" * 500, "at most 500"),
    ("https://crm.example.com/häkchen", "non-ASCII"),
])
def test_a_bad_url_is_a_400_with_the_reason_and_nothing_is_created(manage, url, message):
    response = manage.post(WEBHOOKS, {"name": "CRM", "url": url}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["status"] == 400
    assert message in error["fields"]["url"][0], error
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("body, field, message", [
    ({"name": " ", "url": "https://crm.example.com/h"}, "name", "Give the webhook a name"),
    ({"name": "x" * 101, "url": "https://crm.example.com/h"}, "name", "at most 100"),
    ({"url": "https://crm.example.com/h"}, "name", "required"),
    ({"name": "CRM", "url": "https://crm.example.com/h", "persona": 999999}, "persona", "Invalid pk"),
    ({"name": "CRM", "url": "https://crm.example.com/h", "active": "maybe"}, "active", "boolean"),
    ({"name": "CRM", "url": "https://crm.example.com/h", "secret": "mine"}, "secret", "The server makes the secret"),
    ({"name": "CRM", "url": "https://crm.example.com/h", "events": ["all"]}, "events", "Unknown field"),
])
def test_other_bad_input_is_a_400_on_its_field(manage, body, field, message):
    response = manage.post(WEBHOOKS, body, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()["error"]["fields"][field])
    assert not WebhookEndpoint.objects.exists()


def test_patch_changes_what_it_is_given_and_a_bad_value_changes_nothing(manage, two_runs):
    created = manage.post(WEBHOOKS, {"name": "CRM", "url": "https://crm.example.com/h"}, format="json").json()
    detail = f"{WEBHOOKS}{created['id']}/"
    # a bad URL next to a good name: neither is saved
    response = manage.patch(detail, {"name": "New name", "url": "ftp://crm.example.com/h"}, format="json")
    assert response.status_code == 400 and "url" in response.json()["error"]["fields"]
    assert manage.get(detail).json()["name"] == "CRM"
    # good values: saved, the secret untouched
    secret = WebhookEndpoint.objects.get().secret
    persona = two_runs["persona"]
    response = manage.patch(detail, {"name": "CRM (big spenders)", "url": "https://crm.example.com/v2",
                                     "persona": persona.pk, "active": False}, format="json")
    assert response.status_code == 200
    body = manage.get(detail).json()
    assert (body["name"], body["url"], body["persona"], body["persona_name"], body["active"]) == (
        "CRM (big spenders)", "https://crm.example.com/v2", persona.pk, "Big spenders", False)
    assert "secret" not in response.json() and WebhookEndpoint.objects.get().secret == secret
    # back to every persona
    assert manage.patch(detail, {"persona": None}, format="json").json()["persona"] is None
    # PUT is not offered: a partial change is the only change
    assert manage.put(detail, body, format="json").status_code == 405


def test_delete_removes_the_endpoint_and_its_deliveries(manage, analyst):
    endpoint = webhooks.webhook_endpoint_create(name="Old CRM", url="https://crm.example.com/h", by=analyst)
    WebhookDelivery.objects.create(endpoint=endpoint, event="webhook.ping", payload={})
    response = manage.delete(f"{WEBHOOKS}{endpoint.pk}/")
    assert response.status_code == 204
    assert manage.get(f"{WEBHOOKS}{endpoint.pk}/").status_code == 404
    assert not WebhookDelivery.objects.exists()


def test_scopes_and_roles(scoped_client, analyst, marketer, manager, client):
    body = {"name": "CRM", "url": "https://crm.example.com/h"}
    # a membership token reads members, not webhooks
    membership = scoped_client(analyst, "membership:read")
    for response in (membership.get(WEBHOOKS), membership.post(WEBHOOKS, body, format="json")):
        assert response.status_code == 403
        assert "webhooks:manage" in response.json()["error"]["message"]
    assert not WebhookEndpoint.objects.exists()
    # the scope is not enough without the role: a Marketer's token cannot
    response = scoped_client(marketer, "webhooks:manage").get(WEBHOOKS)
    assert response.status_code == 403 and "manage_api_tokens" in response.json()["error"]["message"]
    # an Analyst's webhooks:manage token can
    token, key = token_create(user=analyst, name="campaign tool", scopes=["webhooks:manage"])
    tool = APIClient()
    tool.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert tool.post(WEBHOOKS, body, format="json").status_code == 201
    assert tool.get(WEBHOOKS).status_code == 200
    # until it is revoked
    token_revoke(token=token)
    response = tool.get(WEBHOOKS)
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"
    # sessions: the role that manages integrations on the page
    client.force_login(manager)
    assert client.get(WEBHOOKS).status_code == 403
    client.force_login(analyst)
    assert client.get(WEBHOOKS).json()["results"][0]["name"] == "CRM"


def test_a_failed_delivery_is_listed_and_a_redelivery_gets_it_through(
        eager_celery, manage, two_runs, analyst, settings, django_capture_on_commit_callbacks):
    # given a receiver that answers 503 to every retry of the first delivery, then 200
    with Receiver([503] * settings.WEBHOOK_MAX_ATTEMPTS + [200]) as receiver:
        created = manage.post(WEBHOOKS, {"name": "CRM", "url": receiver.url}, format="json").json()
        deliveries_url = f"{WEBHOOKS}{created['id']}/deliveries/"
        with django_capture_on_commit_callbacks(execute=True):
            services.run_publish(run=two_runs["b"], by=analyst)
        # then the deliveries list shows it failed, and why
        page = manage.get(deliveries_url)
        assert page.status_code == 200
        [failed] = page.json()["results"]
        assert failed["event"] == "persona.membership_changed" and failed["status"] == "failed"
        assert (failed["attempts"], failed["response_code"], failed["next_retry_at"]) == (
            settings.WEBHOOK_MAX_ATTEMPTS, 503, None)
        assert "HTTP 503" in failed["error"]
        assert (failed["payload"]["joined"], failed["payload"]["left"]) == (2, 2)
        assert failed["persona"] == two_runs["persona"].pk and failed["run"] == two_runs["b"].pk
        assert [d["id"] for d in manage.get(deliveries_url, {"status": "failed"}).json()["results"]] == [failed["id"]]
        assert manage.get(deliveries_url, {"status": "succeeded"}).json()["results"] == []
        # when it is re-sent
        with django_capture_on_commit_callbacks(execute=True):
            response = manage.post(f"{deliveries_url}{failed['id']}/redeliver/")
        assert response.status_code == 202
    # then it got through, with the same body as every earlier attempt
    [delivered] = manage.get(deliveries_url).json()["results"]
    assert (delivered["status"], delivered["attempts"], delivered["response_code"], delivered["error"]) == (
        "succeeded", settings.WEBHOOK_MAX_ATTEMPTS + 1, 200, "")
    assert len(receiver.requests) == settings.WEBHOOK_MAX_ATTEMPTS + 1
    assert len({request["body"] for request in receiver.requests}) == 1
    # and a delivered one is not re-sent
    response = manage.post(f"{deliveries_url}{failed['id']}/redeliver/")
    assert response.status_code == 400 and "Only a failed delivery" in response.json()["error"]["message"]


def test_a_redelivery_belongs_to_its_endpoint_and_an_endpoint_that_is_off_sends_nothing(manage, analyst):
    mine = webhooks.webhook_endpoint_create(name="Mine", url="https://crm.example.com/a", by=analyst)
    other = webhooks.webhook_endpoint_create(name="Other", url="https://crm.example.com/b", by=analyst)
    failed = WebhookDelivery.objects.create(endpoint=other, event="webhook.ping", payload={}, status="failed", attempts=5)
    assert manage.post(f"{WEBHOOKS}{mine.pk}/deliveries/{failed.pk}/redeliver/").status_code == 404
    manage.patch(f"{WEBHOOKS}{other.pk}/", {"active": False}, format="json")
    for path in (f"{WEBHOOKS}{other.pk}/deliveries/{failed.pk}/redeliver/", f"{WEBHOOKS}{other.pk}/ping/"):
        response = manage.post(path)
        assert response.status_code == 400 and "switched off" in response.json()["error"]["message"]
    failed.refresh_from_db()
    assert failed.status == "failed" and WebhookDelivery.objects.count() == 1
    assert manage.get(f"{WEBHOOKS}{mine.pk}/deliveries/", {"status": "lost"}).status_code == 400


def test_an_endpoint_with_credentials_in_its_url_gets_a_failed_attempt_not_a_crash(analyst):
    # given a URL the API refuses, saved another way (the admin's URL field allows credentials)
    endpoint = WebhookEndpoint.objects.create(name="Old", url="http://user:pw@127.0.0.1/hooks", secret="s" * 64)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="webhook.ping", payload={})
    attempt = transport.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    # the credentials are sent nowhere, and trying again would not change that
    assert attempt.retry_in is None and delivery.status == "failed" and delivery.attempts == 1
    assert "user name or password" in delivery.error


def test_the_page_and_the_api_share_the_checks_and_the_switch(client, manage, analyst):
    client.force_login(analyst)
    page = client.post("/integrations/webhooks/", {"name": "CRM", "url": "https://user:pw@crm.example.com/h"})
    api = manage.post(WEBHOOKS, {"name": "CRM", "url": "https://user:pw@crm.example.com/h"}, format="json")
    assert page.status_code == 400 and api.status_code == 400
    assert api.json()["error"]["fields"]["url"][0] in page.content.decode()
    assert not WebhookEndpoint.objects.exists()
    created = manage.post(WEBHOOKS, {"name": "CRM", "url": "https://crm.example.com/h"}, format="json").json()
    client.post(f"/integrations/webhooks/{created['id']}/toggle/")
    assert manage.get(f"{WEBHOOKS}{created['id']}/").json()["active"] is False


def test_lists_use_a_fixed_number_of_queries(manage, analyst, marketer, two_runs, django_assert_max_num_queries):
    # given a dozen endpoints (persona and creator on each) and 60 deliveries on one of them
    # (5 queries: the token, its last use or the endpoint, the role's permissions (2), the page)
    endpoints = [webhooks.webhook_endpoint_create(name=f"CRM {n}", url=f"https://crm{n}.example.com/h",
                                                  persona=two_runs["persona"] if n % 2 else None,
                                                  by=analyst if n % 3 else marketer) for n in range(12)]
    WebhookDelivery.objects.bulk_create([
        WebhookDelivery(endpoint=endpoints[0], event="persona.membership_changed", persona=two_runs["persona"],
                        run=two_runs["b"], payload={"joined": n}, status="failed", attempts=5, error="HTTP 503")
        for n in range(60)])
    with django_assert_max_num_queries(5):
        page = manage.get(WEBHOOKS)
    assert len(page.json()["results"]) == 12
    with django_assert_max_num_queries(5):
        page = manage.get(f"{WEBHOOKS}{endpoints[0].pk}/deliveries/", {"page_size": 50})
    first = page.json()
    assert len(first["results"]) == 50 and first["next"]
    # the cursor reaches the rest, newest first, each once
    rest = manage.get(first["next"]).json()
    seen = [d["id"] for d in first["results"] + rest["results"]]
    assert len(seen) == 60 == len(set(seen)) and rest["next"] is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/admin/", "http://localhost/hooks", "https://10.1.2.3/x",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]/hooks"])
def test_where_internal_addresses_are_not_allowed_they_cannot_be_registered(settings, manage, url):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False  # as in settings_production
    response = manage.post(WEBHOOKS, {"name": "Probe", "url": url}, format="json")
    assert response.status_code == 400
    assert "not a public address" in response.json()["error"]["fields"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_a_delivery_to_an_internal_address_is_refused_at_send_time_and_nothing_is_sent(settings, analyst):
    with Receiver([200]) as receiver:
        # given an endpoint registered while internal receivers were allowed
        endpoint = webhooks.webhook_endpoint_create(name="Local", url=receiver.url, by=analyst)
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=webhooks.EVENT_PING, payload={})
        # when they no longer are, the attempt fails with the reason and the receiver gets nothing
        settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
        attempt = transport.webhook_deliver(delivery_id=delivery.pk)
    assert receiver.requests == []
    assert "not a public address" in attempt.error
    assert "not a public address" in WebhookDelivery.objects.get(pk=delivery.pk).error
