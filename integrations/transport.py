"""Sending a webhook: the signature, which hosts may be sent to, and one HTTP attempt.

A delivery is POSTed as JSON with `X-Custseg-Signature: sha256=<HMAC-SHA256 of the body with
the endpoint's secret>`; a 2xx answer within settings.WEBHOOK_TIMEOUT_SECONDS is success,
anything else is retried after WEBHOOK_RETRY_BASE_SECONDS x 2^(attempt-1), up to
WEBHOOK_MAX_ATTEMPTS attempts (integrations.tasks.webhook_deliver schedules the retries).
Only a worker calls webhook_deliver: no request sends anything itself.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from integrations.models import WebhookDelivery

logger = logging.getLogger(__name__)

# Stored error texts are cut here: enough for a reason, never a whole HTML error page.
ERROR_CHARS = 500
PRIVATE_REFUSED = ("{host} is not a public address: this server sends webhooks to public receivers only "
                   "(WEBHOOK_ALLOW_PRIVATE_ADDRESSES allows internal ones).")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def not_public(host: str) -> bool:
    """A host that is, or names, a loopback, private, link-local, reserved or multicast address."""
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        return host.lower() == "localhost" or host.lower().endswith(".localhost")


def resolves_to_non_public(host: str) -> bool:
    """What the host resolves to now, checked at each attempt (a public name may be pointed
    at an internal address after it was registered)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False  # unresolvable: the attempt itself fails with that error
    return any(not_public(info[4][0]) for info in infos)


@dataclass(frozen=True)
class Attempt:
    status: str
    retry_in: float | None  # seconds until the next attempt; None: no more attempts
    error: str = ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is a failed delivery: urllib would re-send a POST as a GET elsewhere.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def retry_delay(attempts: int) -> float:
    return settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1)


def webhook_deliver(*, delivery_id: int) -> Attempt:
    """One attempt at a delivery; the row records it. A delivery already done is left alone."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status in (WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.FAILED):
        return Attempt(status=getattr(delivery, "status", "missing"), retry_in=None)
    endpoint = delivery.endpoint
    body = json.dumps({**delivery.payload, "delivery": delivery.pk}, sort_keys=True).encode()
    code, error = None, ""
    host = urlsplit(endpoint.url).hostname or ""
    if not endpoint.active:
        error = "The endpoint was switched off."
    elif not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES and (not_public(host) or resolves_to_non_public(host)):
        error = PRIVATE_REFUSED.format(host=host)
    else:
        request = urllib.request.Request(endpoint.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "custseg-webhooks/1",
            "X-Custseg-Event": delivery.event, "X-Custseg-Delivery": str(delivery.pk),
            "X-Custseg-Signature": sign(endpoint.secret, body),
        })
        try:
            with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code, error = exc.code, f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        except (http.client.HTTPException, ValueError) as exc:
            # a URL urllib cannot send to (credentials in it, non-ASCII path: possible for rows
            # written before these were refused, or by the admin): a failed attempt, not a crash
            error = f"{type(exc).__name__}: {exc}"
    now = timezone.now()
    attempts = delivery.attempts + 1
    ok = code is not None and 200 <= code < 300
    retry_in = None
    if ok:
        status = WebhookDelivery.Status.SUCCEEDED
    elif attempts < settings.WEBHOOK_MAX_ATTEMPTS and endpoint.active:
        status, retry_in = WebhookDelivery.Status.RETRYING, retry_delay(attempts)
    else:
        status = WebhookDelivery.Status.FAILED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status, attempts=attempts, response_code=code, error=error[:ERROR_CHARS],
        next_retry_at=now + timedelta(seconds=retry_in) if retry_in is not None else None,
        delivered_at=now if ok else None)
    logger.info("segments.webhook_attempt delivery_id=%s attempt=%s status=%s code=%s", delivery.pk, attempts,
                status, code)
    return Attempt(status=status, retry_in=retry_in, error=error)
