"""Webhooks: integrations register a URL and are told when a persona's membership changes
after a publish. Writes and the delivery itself; segments.tasks holds the Celery entry points.

A publish enqueues (on commit) one job that compares, for every persona re-linked by it,
the new segment with the one it left (counts from SQL anti-joins), and writes one delivery
per matching endpoint; each delivery is its own job: POST JSON with
`X-Custseg-Signature: sha256=<HMAC-SHA256 of the body with the endpoint's secret>`, a
2xx answer within settings.WEBHOOK_TIMEOUT_SECONDS is success, anything else is retried
after WEBHOOK_RETRY_BASE_SECONDS x 2^(attempt-1), up to WEBHOOK_MAX_ATTEMPTS attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from segments import members
from segments.models import Persona, PersonaLink, RunPublication, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

EVENT_MEMBERSHIP_CHANGED = "persona.membership_changed"
# Stored error texts are cut here: enough for a reason, never a whole HTML error page.
ERROR_CHARS = 500


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@transaction.atomic
def webhook_endpoint_create(*, name: str, url: str, persona: Persona | None = None, by=None) -> WebhookEndpoint:
    errors = {}
    if not (name or "").strip():
        errors["name"] = ["Give the webhook a name (who receives it)."]
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors["url"] = ["Give an http:// or https:// URL."]
    if errors:
        raise ValidationError(errors)
    # 32 random bytes, hex: the receiver pastes it into its HMAC check
    endpoint = WebhookEndpoint.objects.create(name=name.strip()[:100], url=url, persona=persona,
                                              secret=secrets.token_hex(32), created_by=by)
    logger.info("segments.webhook_created endpoint_id=%s persona_id=%s", endpoint.pk, getattr(persona, "pk", None))
    return endpoint


def webhook_endpoint_set_active(*, endpoint: WebhookEndpoint, active: bool) -> WebhookEndpoint:
    endpoint.active = active
    endpoint.save(update_fields=["active"])
    return endpoint


def publish_enqueue(*, run_id: int, previous_run_id: int | None) -> None:
    """From run_publish, on commit: the job that works out what changed."""
    if previous_run_id is None or not WebhookEndpoint.objects.filter(active=True).exists():
        return
    from kombu.exceptions import OperationalError as BrokerError

    from segments.tasks import webhooks_publish

    try:
        webhooks_publish.delay(run_id, previous_run_id)
    except BrokerError:
        logger.exception("segments.webhooks_enqueue_failed run_id=%s", run_id)


def _delta_url(persona_id: int, query: dict) -> str:
    return f"{settings.SITE_URL}/api/v1/personas/{persona_id}/members/?{urlencode(query)}"


def publish_notifications(*, run_id: int, previous_run_id: int) -> list[WebhookDelivery]:
    """Deliveries for every persona that a publish of `run_id` (after `previous_run_id`)
    re-linked to a segment with other customers. A second call for the same publish finds
    its deliveries written and writes none."""
    publication = RunPublication.objects.filter(run_id=run_id).order_by("-published_at").first()
    endpoints = list(WebhookEndpoint.objects.filter(active=True))
    if publication is None or not endpoints:
        return []
    new_links = (PersonaLink.objects.filter(run_id=run_id, linked_at__gte=publication.published_at)
                 .exclude(how=PersonaLink.How.MANUAL).select_related("persona", "segment"))
    created = []
    for link in new_links:
        old = (PersonaLink.objects.filter(persona_id=link.persona_id, run_id=previous_run_id, linked_at__lt=link.linked_at)
               .order_by("-linked_at", "-id").first())
        if old is None:
            continue
        counts = members.member_delta_counts(current=members.segment_pin(link.segment_id),
                                             baseline=members.segment_pin(old.segment_id))
        if not counts["joined"] and not counts["left"]:
            continue
        payload = {
            "event": EVENT_MEMBERSHIP_CHANGED,
            "persona": {"id": link.persona_id, "name": link.persona.name},
            "run": run_id, "previous_run": previous_run_id,
            "segment": link.segment_id, "previous_segment": old.segment_id,
            "size": link.segment.size, "joined": counts["joined"], "left": counts["left"],
            "published_at": publication.published_at.isoformat(),
            "links": {
                # as_of the new link: the delta stays the same when later runs are published
                "delta": _delta_url(link.persona_id, {"changed_since": previous_run_id,
                                                      "as_of": link.linked_at.isoformat()}),
                "members": _delta_url(link.persona_id, {"as_of": link.linked_at.isoformat()}),
            },
        }
        for endpoint in endpoints:
            if endpoint.persona_id not in (None, link.persona_id):
                continue
            if WebhookDelivery.objects.filter(endpoint=endpoint, run_id=run_id, persona_id=link.persona_id,
                                              event=EVENT_MEMBERSHIP_CHANGED,
                                              created_at__gte=publication.published_at).exists():
                continue
            created.append(WebhookDelivery.objects.create(
                endpoint=endpoint, event=EVENT_MEMBERSHIP_CHANGED, persona_id=link.persona_id, run_id=run_id,
                payload=payload))
    logger.info("segments.webhooks_prepared run_id=%s deliveries=%s", run_id, len(created))
    return created


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
    if not endpoint.active:
        error = "The endpoint was switched off."
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


def delivery_list():
    return WebhookDelivery.objects.select_related("endpoint", "persona").order_by("-created_at", "-id")


def endpoint_list():
    return WebhookEndpoint.objects.select_related("persona", "created_by").order_by("name", "id")
