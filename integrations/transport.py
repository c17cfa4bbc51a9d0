"""Sending a webhook: the signature, which addresses may be connected to, one HTTP attempt
and whether it is tried again.

A delivery is POSTed as JSON, signed as the Standard Webhooks specification says:
`webhook-id` (the delivery's, the same on every attempt), `webhook-timestamp` (this
attempt's, Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
so a receiver checks it with `standardwebhooks.Webhook(secret).verify(body, headers)`, which
also refuses a captured delivery replayed after its tolerance (5 minutes). The body-only
`X-Custseg-Signature: sha256=<hex HMAC>` is still sent for one release (deprecated).

The request goes through a requests-hardened session: with WEBHOOK_ALLOW_PRIVATE_ADDRESSES
off, the host is resolved once and the connection is made to that address, refused when it
is loopback, private, link-local or otherwise internal, so a name that changes its answer
between a check and the connect (DNS rebinding) reaches nothing inside. No redirect is followed.

A 2xx within settings.WEBHOOK_TIMEOUT_SECONDS is success. A 5xx, 408, 429, a timeout or a
connection error is retried after WEBHOOK_RETRY_BASE_SECONDS x 2^(attempt-1) (or the
receiver's Retry-After on 429/503, when longer), up to WEBHOOK_MAX_ATTEMPTS attempts; any
other answer (a 3xx, a 4xx) fails the delivery at once, since sending the same request again
would get the same answer. Every attempt is a WebhookAttempt row;
integrations.tasks.webhook_deliver schedules the retries. Only a worker calls
webhook_deliver: no request sends anything itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress
from standardwebhooks import Webhook

from integrations.models import WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)

# Stored error texts are cut here: enough for a reason, never a whole HTML error page.
ERROR_CHARS = 500
# A Retry-After longer than this is read as this: a receiver cannot park a delivery for days,
# and a retry waits in a worker as a countdown, which must stay well under the broker's
# visibility timeout (settings.CELERY_BROKER_TRANSPORT_OPTIONS, 72 minutes) or Redis hands
# the same retry to a second worker.
RETRY_AFTER_MAX_SECONDS = 30 * 60
# The answers worth sending the same request again for (besides 5xx): the receiver timed out
# reading it, or asked us to slow down.
RETRIED_CODES = {408, 429}
PRIVATE_REFUSED = ("{host} is not a public address: this server sends webhooks to public receivers only "
                   "(WEBHOOK_ALLOW_PRIVATE_ADDRESSES allows internal ones).")
SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret: a Standard Webhooks secret ("whsec_" + base64) is its
    decoded bytes; a secret made before those (64 hex characters) is its own bytes, as the
    old X-Custseg-Signature used it (a receiver passes `Webhook(secret.encode())`)."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX):])
    return secret.encode()


def message_id(delivery_id: int) -> str:
    # the same on every attempt and re-send: receivers drop a webhook-id they have handled
    return f"msg_{delivery_id}"


def signature_headers(*, secret: str, delivery_id: int, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (and, for one release, the deprecated
    X-Custseg-Signature: HMAC-SHA256 of the body alone, keyed with the secret's text)."""
    msg_id = message_id(delivery_id)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(signing_key(secret)).sign(msg_id, at, body.decode()),
        "X-Custseg-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


def not_public(host: str) -> bool:
    """A host that is, or names, a loopback, private, link-local, reserved or multicast
    address (checked when a URL is saved; the connection itself is checked at each attempt)."""
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        return host.lower() == "localhost" or host.lower().endswith(".localhost")


def resolves_to_non_public(host: str) -> bool:
    """What the host resolves to now: an early, readable refusal. It is not the guard (the
    name may answer otherwise a moment later); the session's check at connect time is."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False  # unresolvable: the attempt itself fails with that error
    return any(not_public(info[4][0]) for info in infos)


def _session() -> requests.Session:
    return HTTPSession(Config(
        ip_filter_enable=not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES, ip_filter_allow_loopback_ips=False,
        never_redirect=True, default_timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        user_agent_override="custseg-webhooks/1"))


@dataclass(frozen=True)
class Attempt:
    status: str
    retry_in: float | None  # seconds until the next attempt; None: no more attempts
    error: str = ""


def retry_delay(attempts: int) -> float:
    return settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1)


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) in seconds from now, at most
    RETRY_AFTER_MAX_SECONDS; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    # ASCII digits only: "²" passes str.isdigit() and float() refuses it
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_SECONDS)


def _retryable(code: int | None) -> bool:
    # no answer (timeout, connection error) or an answer that may differ next time
    return code is None or code >= 500 or code in RETRIED_CODES


@dataclass
class _Outcome:
    code: int | None = None
    error: str = ""
    retryable: bool = True
    retry_after: float | None = None
    duration_ms: int | None = None


def _send(delivery: WebhookDelivery, body: bytes, started: datetime) -> _Outcome:
    endpoint = delivery.endpoint
    parts = urlsplit(endpoint.url)
    host = parts.hostname or ""
    if not endpoint.active:
        return _Outcome(error="The endpoint was switched off.", retryable=False)
    if parts.username is not None:
        # refused when a URL is saved; a row written before that, or by the admin, fails here
        # rather than send the credentials on
        return _Outcome(error="The URL has a user name or password in it: give one without; receivers check "
                              "the webhook-signature header instead.", retryable=False)
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES and (not_public(host) or resolves_to_non_public(host)):
        return _Outcome(error=PRIVATE_REFUSED.format(host=host), retryable=False)
    headers = {"Content-Type": "application/json", "X-Custseg-Event": delivery.event,
               "X-Custseg-Delivery": str(delivery.pk),
               **signature_headers(secret=endpoint.secret, delivery_id=delivery.pk, body=body, at=started)}
    clock = time.monotonic()
    outcome = _Outcome()
    try:
        with _session() as session:
            response = session.post(endpoint.url, data=body, headers=headers, allow_redirects=False)
            response.close()
    except InvalidIPAddress as exc:
        # the address the connection was about to use: the name changed its answer since the check
        outcome = _Outcome(error=PRIVATE_REFUSED.format(host=f"{host} ({exc})"), retryable=False)
    except requests.Timeout:
        outcome.error = f"Timeout: no answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s."
    except requests.RequestException as exc:
        # connection refused or reset, an unresolvable host, a URL requests cannot send to
        # (possible for rows written before such URLs were refused, or by the admin)
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.retryable = isinstance(exc, requests.ConnectionError)
    except ValueError as exc:
        # a URL the HTTP client cannot encode: the same next time
        outcome = _Outcome(error=f"{type(exc).__name__}: {exc}", retryable=False)
    else:
        outcome.code = response.status_code
        if 300 <= response.status_code < 400:
            outcome.error = (f"HTTP {response.status_code} {response.reason}: redirects are not followed "
                             f"(to {response.headers.get('Location', 'nowhere given')}); register the final URL.")
        elif not 200 <= response.status_code < 300:
            outcome.error = f"HTTP {response.status_code} {response.reason}"
        outcome.retryable = _retryable(response.status_code)
        if response.status_code in (429, 503):
            outcome.retry_after = retry_after_seconds(response.headers.get("Retry-After"), now=timezone.now())
    outcome.duration_ms = round((time.monotonic() - clock) * 1000)
    return outcome


def webhook_deliver(*, delivery_id: int) -> Attempt:
    """One attempt at a delivery: a WebhookAttempt row, and the delivery's summary fields
    updated. A delivery already done is left alone."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status in (WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.FAILED):
        return Attempt(status=getattr(delivery, "status", "missing"), retry_in=None)
    body = json.dumps({**delivery.payload, "delivery": delivery.pk}, sort_keys=True).encode()
    started = timezone.now()
    outcome = _send(delivery, body, started)
    now = timezone.now()
    number = delivery.attempts + 1
    ok = outcome.code is not None and 200 <= outcome.code < 300
    retry_in = None
    if ok:
        status = WebhookDelivery.Status.SUCCEEDED
    elif outcome.retryable and number < settings.WEBHOOK_MAX_ATTEMPTS:
        status, retry_in = WebhookDelivery.Status.RETRYING, max(retry_delay(number), outcome.retry_after or 0)
    else:
        status = WebhookDelivery.Status.FAILED
    retry_at = now + timedelta(seconds=retry_in) if retry_in is not None else None
    error = outcome.error[:ERROR_CHARS]
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery=delivery, number=number, started_at=started,
                                      duration_ms=outcome.duration_ms, response_code=outcome.code, error=error,
                                      retry_at=retry_at)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status, attempts=number, response_code=outcome.code, error=error, next_retry_at=retry_at,
            delivered_at=now if ok else None)
    logger.info("segments.webhook_attempt delivery_id=%s attempt=%s status=%s code=%s", delivery.pk, number,
                status, outcome.code)
    return Attempt(status=status, retry_in=retry_in, error=error)
