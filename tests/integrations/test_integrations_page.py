"""The Integrations page's webhooks: an Analyst adds one and sees its secret once, rotates
the secret, deletes it, sends it a test ping and re-sends a failed delivery; Managers only
look. Deliveries go to a real HTTP server on localhost."""


import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations.services import webhooks
from tests.integrations.webhooks_support import Receiver, signed_with

pytestmark = pytest.mark.django_db

PAGE = "/integrations/"


def post(client, name, pk, capture, **kwargs):
    """A button on the page; the commit's callbacks run, so a queued job reaches the (eager) worker."""
    with capture(execute=True):
        return client.post(reverse(name, args=[pk]), **kwargs)


def flash(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def analyst_client(client, analyst):
    client.force_login(analyst)
    return client


def failed_delivery(endpoint, attempts=5):
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=webhooks.EVENT_PING, status="failed",
                                              attempts=attempts, response_code=500,
                                              error="HTTP 500 Internal Server Error",
                                              payload={"event": webhooks.EVENT_PING})
    WebhookAttempt.objects.bulk_create([
        WebhookAttempt(delivery=delivery, number=n, started_at=timezone.now(), duration_ms=12, response_code=500,
                       error="HTTP 500 Internal Server Error") for n in range(1, attempts + 1)])
    return delivery


def test_a_new_webhooks_secret_is_shown_once_and_signs_its_pings(eager_celery, analyst_client,
                                                                 django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        # when an Analyst adds a webhook
        response = analyst_client.post(reverse("webhook-create"), {"name": "CRM", "url": receiver.url})
        assert response.status_code == 200
        endpoint = WebhookEndpoint.objects.get()
        page = response.content.decode()
        # then its secret is on that answer, with the note to copy it now
        assert endpoint.secret in page and "Webhook “CRM” added" in page
        assert "Copy the secret now: it will not be shown again." in page
        assert response["Cache-Control"] == "no-store"  # and no browser or proxy keeps that answer
        # and on no later page
        later = analyst_client.get(PAGE).content.decode()
        assert "CRM" in later and endpoint.secret not in later
        # and the receiver can check a test ping with it
        post(analyst_client, "webhook-ping", endpoint.pk, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1 and signed_with(endpoint.secret, receiver.requests[0])


def test_a_new_tokens_key_still_comes_with_how_to_send_it(analyst_client):
    response = analyst_client.post(reverse("token-create"), {"name": "CRM sync", "scopes": ["membership:read"]})
    page = response.content.decode()
    key = response.context["new_key"]["key"]
    assert "Copy the key now: it is not stored and will not be shown again." in page
    assert response["Cache-Control"] == "no-store"
    assert f"Send it as <code>Authorization: Bearer {key[:10]}…</code>. Scopes: membership:read." in page


def test_rotating_shows_the_new_secret_once_and_the_old_one_no_longer_verifies(
        eager_celery, analyst, analyst_client, django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        old = endpoint.secret
        # when the Analyst rotates the secret
        response = post(analyst_client, "webhook-rotate-secret", endpoint.pk, django_capture_on_commit_callbacks)
        assert response.status_code == 200
        endpoint.refresh_from_db()
        new = endpoint.secret
        page = response.content.decode()
        # then the page shows the new secret once, and never the old
        assert new != old and new in page and old not in page
        assert "New secret for webhook “CRM”" in page and "will not be shown again" in page
        assert new not in analyst_client.get(PAGE).content.decode()
        # and a delivery after it is signed with the new secret, not the old
        post(analyst_client, "webhook-ping", endpoint.pk, django_capture_on_commit_callbacks)
    request = receiver.requests[0]
    assert signed_with(new, request) and not signed_with(old, request)


def test_deleting_a_webhook_removes_it_and_its_deliveries(analyst, analyst_client, django_capture_on_commit_callbacks):
    endpoint = webhooks.webhook_endpoint_create(name="Old CRM", url="https://crm.example.com/h", by=analyst)
    kept = webhooks.webhook_endpoint_create(name="New CRM", url="https://crm.example.com/n", by=analyst)
    failed_delivery(endpoint), failed_delivery(endpoint), failed_delivery(kept)
    # when the Analyst deletes one webhook
    response = post(analyst_client, "webhook-delete", endpoint.pk, django_capture_on_commit_callbacks, follow=True)
    # then it is gone with its deliveries, the other stays, and the page says so
    assert flash(response) == ["Webhook “Old CRM” deleted, with its 2 deliveries: it is sent nothing more."]
    assert list(WebhookEndpoint.objects.values_list("name", flat=True)) == ["New CRM"]
    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [kept.pk]
    assert "Old CRM" not in response.content.decode().replace("Webhook “Old CRM” deleted", "")


def test_a_test_ping_is_queued_sent_and_listed(eager_celery, analyst, analyst_client,
                                               django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        # when the Analyst sends a test ping
        response = post(analyst_client, "webhook-ping", endpoint.pk, django_capture_on_commit_callbacks, follow=True)
    # then a delivery is written and sent, and the page lists it
    assert flash(response) == ["Test ping queued for “CRM”: follow it under Recent deliveries."]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint, delivery.event, delivery.status) == (endpoint, "webhook.ping", "succeeded")
    assert receiver.requests[0]["headers"]["X-Custseg-Event"] == "webhook.ping"
    assert list(response.context["deliveries"]) == [delivery]
    assert "<code>webhook.ping</code>" in response.content.decode()


def test_a_switched_off_webhook_gets_no_ping_and_the_page_says_why(analyst, analyst_client,
                                                                   django_capture_on_commit_callbacks):
    endpoint = webhooks.webhook_endpoint_create(name="CRM", url="https://crm.example.com/h", active=False, by=analyst)
    response = post(analyst_client, "webhook-ping", endpoint.pk, django_capture_on_commit_callbacks, follow=True)
    assert flash(response) == ["The webhook is switched off: switch it on to send it a ping."]
    assert not WebhookDelivery.objects.exists()


def test_a_failed_delivery_can_be_re_sent_from_the_page(eager_celery, analyst, analyst_client,
                                                        django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        delivery = failed_delivery(endpoint)
        # given the page offers a re-send on the failed delivery
        redeliver = reverse("webhook-delivery-redeliver", args=[delivery.pk])
        assert f'action="{redeliver}"' in analyst_client.get(PAGE).content.decode()
        # when the Analyst re-sends it
        response = post(analyst_client, "webhook-delivery-redeliver", delivery.pk, django_capture_on_commit_callbacks,
                        follow=True)
    # then it is one more attempt, and it got through
    assert flash(response) == [f"Delivery {delivery.pk} to “CRM” queued again: follow it under Recent deliveries."]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 6, 200)
    assert len(receiver.requests) == 1 and signed_with(endpoint.secret, receiver.requests[0])
    # and a delivery that has not failed has no re-send button, and cannot be re-sent
    assert f'action="{redeliver}"' not in response.content.decode()
    response = post(analyst_client, "webhook-delivery-redeliver", delivery.pk, django_capture_on_commit_callbacks,
                    follow=True)
    assert flash(response) == ["Only a failed delivery can be re-sent; this one is succeeded."]


BUTTONS = ["webhook-rotate-secret", "webhook-delete", "webhook-ping", "webhook-toggle", "webhook-delivery-redeliver"]


def _target(name, endpoint, delivery):
    return delivery.pk if name == "webhook-delivery-redeliver" else endpoint.pk


@pytest.mark.parametrize("name", BUTTONS)
def test_a_manager_is_refused_every_webhook_button_and_nothing_changes(client, analyst, manager, name,
                                                                       django_capture_on_commit_callbacks):
    endpoint = webhooks.webhook_endpoint_create(name="CRM", url="https://crm.example.com/h", by=analyst)
    delivery = failed_delivery(endpoint)
    client.force_login(manager)
    response = post(client, name, _target(name, endpoint, delivery), django_capture_on_commit_callbacks)
    assert response.status_code == 403
    changed = WebhookEndpoint.objects.get()
    assert (changed.secret, changed.active) == (endpoint.secret, True)
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["failed"]


@pytest.mark.parametrize("name", BUTTONS)
def test_the_buttons_urls_take_posts_only(analyst, analyst_client, name):
    endpoint = webhooks.webhook_endpoint_create(name="CRM", url="https://crm.example.com/h", by=analyst)
    delivery = failed_delivery(endpoint)
    assert analyst_client.get(reverse(name, args=[_target(name, endpoint, delivery)])).status_code == 405
    assert WebhookEndpoint.objects.get().secret == endpoint.secret


def test_a_post_without_the_csrf_token_is_refused(analyst):
    endpoint = webhooks.webhook_endpoint_create(name="CRM", url="https://crm.example.com/h", by=analyst)
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)
    for name in ("webhook-rotate-secret", "webhook-delete"):
        assert client.post(reverse(name, args=[endpoint.pk])).status_code == 403
    assert WebhookEndpoint.objects.get().secret == endpoint.secret


def test_the_page_shows_no_secret_and_its_queries_do_not_grow_with_webhooks(analyst, analyst_client,
                                                                            django_assert_max_num_queries):
    endpoints = [webhooks.webhook_endpoint_create(name=f"CRM {i}", url=f"https://crm.example.com/{i}", by=analyst)
                 for i in range(5)]
    for endpoint in endpoints:
        failed_delivery(endpoint), failed_delivery(endpoint)
    # (one of them reads every listed delivery's attempts)
    with django_assert_max_num_queries(11):
        page = analyst_client.get(PAGE).content.decode()
    assert all(endpoint.name in page and endpoint.secret not in page for endpoint in endpoints)
    assert page.count("HTTP 500 in 12 ms") == 50
    assert page.count("Rotate secret</button>") == 5 and page.count("Re-send</button>") == 10


def test_the_new_token_and_webhook_forms_look_like_the_other_forms(analyst_client):
    page = analyst_client.get(PAGE).content.decode()
    # labels without colons, help under the field, the URL input a full-width styled field
    assert '<label for="token-name">Name</label>' in page and '<label for="webhook-name">Name</label>' in page
    assert '<label for="webhook-url">URL</label>' in page and "Name:" not in page and "Url:" not in page
    assert 'name="once"' in page and '<label for="token-once">' not in page  # hidden, unlabelled
    assert '<p class="help">Give an integration only what it needs: membership:read reads members and nothing else.</p>' in page
    assert '<p class="help">Receives a signed POST after each publish that changes a persona&#x27;s members.</p>' in page
    assert 'type="url" name="url"' in page
    assert '<span class="helptext"' not in page


def test_a_rejected_webhook_shows_its_error_under_the_field(analyst_client):
    response = analyst_client.post(reverse("webhook-create"), {"name": "CRM", "url": "not a url"})
    assert response.status_code == 400
    assert '<p class="error" role="alert">Enter a valid URL.</p>' in response.content.decode()


def test_with_no_webhooks_the_page_says_how_to_add_one(analyst_client):
    page = analyst_client.get(PAGE).content.decode()
    assert "No webhooks yet: add one below" in page


def test_one_submit_reports_every_problem_of_the_webhook_form(analyst_client):
    # given a webhook without a name, whose URL carries a password
    response = analyst_client.post(reverse("webhook-create"),
                                   {"name": "", "url": "https://user:secret@crm.example.com/hooks"})
    # then both are reported at once, and no webhook is added
    assert response.status_code == 400
    assert set(response.context["webhook_form"].errors) == {"name", "url"}
    assert "Put no user name or password in the URL" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
