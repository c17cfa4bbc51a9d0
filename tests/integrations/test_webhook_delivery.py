"""How a delivery reaches a receiver: Standard Webhooks signatures a receiver verifies with
the `standardwebhooks` library, the address checked on the connection actually made (DNS
rebinding), no redirects, one attempt row per attempt, and which answers are retried.
Every delivery goes to a real HTTP server on localhost."""

import hashlib
import hmac
import json
import socket
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from standardwebhooks import webhooks as standardwebhooks_module
from standardwebhooks.webhooks import WebhookVerificationError

from integrations import transport
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations.services import webhooks
from segments import services
from tests.integrations.webhooks_support import Receiver, receiver_webhook

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks/"


@pytest.fixture
def manage(scoped_client, analyst):
    return scoped_client(analyst, "webhooks:manage")


def ping_delivery(endpoint):
    return WebhookDelivery.objects.create(endpoint=endpoint, event=webhooks.EVENT_PING,
                                          payload={"event": webhooks.EVENT_PING})


def attempts_of(delivery):
    return list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))


class _ClockMovedOn(datetime):
    """The receiver's clock, 6 minutes after the delivery was signed (the library allows 5)."""

    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + timedelta(minutes=6)


# --- 8. Standard Webhooks signatures --------------------------------------------------------


def test_a_delivery_verifies_with_the_standardwebhooks_library_and_a_replay_is_refused(
        eager_celery, two_runs, analyst, monkeypatch, django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        with django_capture_on_commit_callbacks(execute=True):
            services.run_publish(run=two_runs["b"], by=analyst)
    request = receiver.requests[0]
    delivery = WebhookDelivery.objects.get()
    # the receiver passes the secret it was shown as it is, and gets the payload back
    payload = receiver_webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["event"] == "persona.membership_changed" and payload["delivery"] == delivery.pk
    assert request["headers"]["webhook-id"] == f"msg_{delivery.pk}"
    assert abs(int(request["headers"]["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    # a tampered body is refused
    tampered = request["body"].replace(b'"joined": 2', b'"joined": 9')
    assert tampered != request["body"]
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        receiver_webhook(endpoint.secret).verify(tampered, request["headers"])
    # an old timestamp with the captured signature is refused
    with pytest.raises(WebhookVerificationError):
        receiver_webhook(endpoint.secret).verify(request["body"], {
            **request["headers"], "webhook-timestamp": str(int(timezone.now().timestamp()) - 6 * 60)})
    # and the captured delivery itself, replayed once the tolerance has passed, is refused
    monkeypatch.setattr(standardwebhooks_module, "datetime", _ClockMovedOn)
    with pytest.raises(WebhookVerificationError, match="too old"):
        receiver_webhook(endpoint.secret).verify(request["body"], request["headers"])


def test_every_attempt_carries_the_same_webhook_id_and_its_own_valid_signature(eager_celery, analyst):
    with Receiver([503, 200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        delivery = ping_delivery(endpoint)
        transport.webhook_deliver(delivery_id=delivery.pk)
        transport.webhook_deliver(delivery_id=delivery.pk)
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [f"msg_{delivery.pk}"] * 2
    for request in receiver.requests:
        receiver_webhook(endpoint.secret).verify(request["body"], request["headers"])


def test_an_endpoint_with_an_old_hex_secret_still_verifies_and_keeps_the_deprecated_header(analyst, client):
    # given an endpoint whose secret was made before Standard Webhooks secrets
    old_secret = "ab" * 32
    endpoint = WebhookEndpoint.objects.create(name="Old CRM", url="http://127.0.0.1:1/", secret=old_secret)
    with Receiver([200]) as receiver:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
        transport.webhook_deliver(delivery_id=ping_delivery(endpoint).pk)
    request = receiver.requests[0]
    # then the receiver verifies with the secret's bytes, as the README says
    from standardwebhooks import Webhook

    Webhook(old_secret.encode()).verify(request["body"], request["headers"])
    # and the old body-only header is still there for one release
    expected = "sha256=" + hmac.new(old_secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Custseg-Signature"] == expected
    # and the page tells which endpoints have such a secret
    client.force_login(analyst)
    assert 'data-testid="legacy-secret"' in client.get("/integrations/").content.decode()


# --- 9. Address checks on the connection made; no redirects ----------------------------------


def test_a_host_that_changes_its_answer_after_the_check_reaches_nothing_inside(settings, analyst, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False  # as in settings_production
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
    answers = []

    with Receiver([200]) as receiver:
        port = receiver.server.server_address[1]
        endpoint = webhooks.webhook_endpoint_create(name="Rebinder", url=f"http://hooks.rebind.test:{port}/h",
                                                    by=analyst)

        def rebinding_resolver(host, *args, **kwargs):
            # the fault: a public address the first time the name is asked, loopback after
            if host != "hooks.rebind.test":
                return real_getaddrinfo(host, *args, **kwargs)
            address = "93.184.215.14" if not answers else "127.0.0.1"
            answers.append(address)
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

        def loopback_only(sock, address):
            # a safety net of the test: nothing here ever connects off this machine
            if not str(address[0]).startswith("127."):
                raise OSError(f"test refuses to connect to {address[0]}")
            return real_connect(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", rebinding_resolver)
        monkeypatch.setattr(socket.socket, "connect", loopback_only)
        delivery = ping_delivery(endpoint)
        attempt = transport.webhook_deliver(delivery_id=delivery.pk)
    # the name was asked again when connecting, answered loopback, and the connection was refused
    assert answers[:2] == ["93.184.215.14", "127.0.0.1"]
    assert receiver.requests == []
    assert "not a public address" in attempt.error and "127.0.0.1" in attempt.error
    delivery.refresh_from_db()
    assert delivery.status == "failed" and attempts_of(delivery)[0].response_code is None


def test_a_redirect_is_not_followed_and_the_attempt_says_so(analyst):
    with Receiver([200]) as elsewhere, Receiver([(302, {"Location": elsewhere.url})]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="Moved", url=receiver.url, by=analyst)
        delivery = ping_delivery(endpoint)
        attempt = transport.webhook_deliver(delivery_id=delivery.pk)
    assert len(receiver.requests) == 1 and elsewhere.requests == []
    assert attempt.retry_in is None and "redirects are not followed" in attempt.error and elsewhere.url in attempt.error
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code) == ("failed", 302)


# --- 10. Attempts as rows; which answers are retried -----------------------------------------


@pytest.mark.parametrize("code", [400, 410])
def test_a_client_error_fails_at_once_without_retrying(analyst, client, code):
    with Receiver([code, 200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        delivery = ping_delivery(endpoint)
        attempt = transport.webhook_deliver(delivery_id=delivery.pk)
        # a worker that still ran the job finds the delivery done and sends nothing
        transport.webhook_deliver(delivery_id=delivery.pk)
    assert len(receiver.requests) == 1 and attempt.retry_in is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 1, code)
    [row] = attempts_of(delivery)
    assert (row.number, row.response_code, row.will_retry) == (1, code, False)
    assert row.error.startswith(f"HTTP {code} ") and row.duration_ms is not None
    # and the page says so
    client.force_login(analyst)
    page = client.get("/integrations/").content.decode()
    assert f"HTTP {code} in {row.duration_ms} ms ({row.error}); not retried" in page


@pytest.mark.parametrize("code", [500, 408, 429])
def test_server_errors_timeouts_and_too_many_requests_are_retried(analyst, settings, code):
    with Receiver([code]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        delivery = ping_delivery(endpoint)
        attempt = transport.webhook_deliver(delivery_id=delivery.pk)
    assert attempt.retry_in == settings.WEBHOOK_RETRY_BASE_SECONDS
    delivery.refresh_from_db()
    assert delivery.status == "retrying" and attempts_of(delivery)[0].will_retry


def test_retry_after_on_429_is_honoured_and_every_attempt_is_a_row(analyst, settings, manage, client):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    with Receiver([(429, {"Retry-After": "120"}), (503, {"Retry-After": "999999"}), 500, 200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        delivery = ping_delivery(endpoint)
        delays = [transport.webhook_deliver(delivery_id=delivery.pk).retry_in for _ in range(4)]
    # 120 s asked (more than the 30 s backoff); 11 days asked, 30 minutes given; then the backoff (30 x 2^2)
    assert delays == [120, transport.RETRY_AFTER_MAX_SECONDS, 120, None]
    rows = attempts_of(delivery)
    assert [(r.number, r.response_code, r.will_retry) for r in rows] == [
        (1, 429, True), (2, 503, True), (3, 500, True), (4, 200, False)]
    assert 119 <= (rows[0].retry_at - rows[0].started_at).total_seconds() <= 125
    # the API lists them, first to last, as a client developer reads them
    listed = manage.get(f"{WEBHOOKS}{endpoint.pk}/deliveries/{delivery.pk}/attempts/")
    assert listed.status_code == 200
    body = listed.json()
    assert [(a["number"], a["response_code"], a["will_retry"]) for a in body] == [
        (1, 429, True), (2, 503, True), (3, 500, True), (4, 200, False)]
    assert body[0]["error"] == "HTTP 429 Too Many Requests" and body[3]["error"] == ""
    assert body[0]["retry_at"] is not None and body[3]["retry_at"] is None
    assert all(isinstance(a["duration_ms"], int) for a in body)
    delivery_row = manage.get(f"{WEBHOOKS}{endpoint.pk}/deliveries/").json()["results"][0]
    assert (delivery_row["status"], delivery_row["attempts"], delivery_row["webhook_id"]) == (
        "succeeded", 4, f"msg_{delivery.pk}")
    # and the page lists them under the delivery's attempt count
    client.force_login(analyst)
    page = client.get("/integrations/").content.decode()
    listed = page.split(f'data-testid="attempts-{delivery.pk}"')[1].split("</details>")[0]
    assert listed.count("<li") == 4 and "HTTP 429" in listed and "(HTTP 429 Too Many Requests); retried" in listed
    assert "HTTP 200 in" in listed and listed.count("; retried") == 3


def test_retry_after_as_an_http_date_is_read():
    now = timezone.now().replace(microsecond=0)
    in_five_minutes = (now + timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert transport.retry_after_seconds(in_five_minutes, now=now) == 300
    assert transport.retry_after_seconds("soon", now=now) is None


def test_a_junk_retry_after_is_the_backoff_and_the_attempt_is_kept(analyst, settings):
    # "²" passes str.isdigit() but is no number: the attempt was lost (a ValueError out of the
    # worker) and the delivery stayed pending, never retried
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    with Receiver([(429, {"Retry-After": "\u00b2"}), (503, {"Retry-After": "-5"}), 200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        delivery = ping_delivery(endpoint)
        delays = [transport.webhook_deliver(delivery_id=delivery.pk).retry_in for _ in range(3)]
    assert delays == [30, 60, None]
    assert [(r.number, r.response_code, r.will_retry) for r in attempts_of(delivery)] == [
        (1, 429, True), (2, 503, True), (3, 200, False)]


def test_a_slow_receiver_times_out_and_is_retried(analyst, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    with Receiver([200], delay=1.5) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="Slow CRM", url=receiver.url, by=analyst)
        delivery = ping_delivery(endpoint)
        attempt = transport.webhook_deliver(delivery_id=delivery.pk)
    assert attempt.retry_in is not None and attempt.error.startswith("Timeout: no answer within 0.5 s")
    [row] = attempts_of(delivery)
    assert row.response_code is None and row.will_retry and 450 <= row.duration_ms < 1500


def test_the_attempts_of_another_webhooks_delivery_are_not_found(manage, analyst):
    mine = webhooks.webhook_endpoint_create(name="Mine", url="https://crm.example.com/a", by=analyst)
    other = webhooks.webhook_endpoint_create(name="Other", url="https://crm.example.com/b", by=analyst)
    delivery = ping_delivery(other)
    assert manage.get(f"{WEBHOOKS}{mine.pk}/deliveries/{delivery.pk}/attempts/").status_code == 404
    assert manage.get(f"{WEBHOOKS}{other.pk}/deliveries/{delivery.pk}/attempts/").json() == []


def test_a_delivery_id_that_is_no_id_is_the_api_s_json_404(manage, analyst):
    # the schema declares 404 as the JSON error; a delivery id like -1 got Django's HTML page
    endpoint = webhooks.webhook_endpoint_create(name="Mine", url="https://crm.example.com/a", by=analyst)
    for response in (manage.get(f"{WEBHOOKS}{endpoint.pk}/deliveries/-1/attempts/"),
                     manage.get(f"{WEBHOOKS}{endpoint.pk}/deliveries/abc/attempts/"),
                     manage.post(f"{WEBHOOKS}{endpoint.pk}/deliveries/-1/redeliver/")):
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


def test_the_schema_declares_the_attempts_operation():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/webhooks/{id}/deliveries/{delivery_id}/attempts/"]["get"]
    assert operation["operationId"] == "list_webhook_delivery_attempts"
    assert set(operation["responses"]) >= {"200", "404"}
    fields = schema["components"]["schemas"]["WebhookAttempt"]["properties"]
    assert {"number", "started_at", "duration_ms", "response_code", "error", "will_retry", "retry_at"} <= set(fields)


# --- 11. Membership events ------------------------------------------------------------------


def test_a_membership_event_links_its_delta_members_and_csv(eager_celery, two_runs, analyst, settings,
                                                            django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://custseg.example"
    with Receiver([200]) as receiver:
        webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        with django_capture_on_commit_callbacks(execute=True):
            services.run_publish(run=two_runs["b"], by=analyst)
    links = json.loads(receiver.requests[0]["body"])["links"]
    persona = two_runs["persona"].pk
    assert links["members"].startswith(f"https://custseg.example/api/v1/personas/{persona}/members/?as_of=")
    assert links["members_csv"].startswith(f"https://custseg.example/api/v1/personas/{persona}/members/csv/?as_of=")
    assert links["delta"].startswith(f"https://custseg.example/api/v1/personas/{persona}/members/?changed_since=")
