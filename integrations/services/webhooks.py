"""Webhooks: integrations register a URL and are told when a persona's membership changes
after a publish. The writes; integrations.transport makes the attempts, integrations.tasks
holds the Celery entry points.

A publish enqueues (on commit) one job that compares, for every persona re-linked by it,
the new segment with the one it left (counts from SQL anti-joins), and writes one delivery
per matching endpoint; each delivery is its own job, sent and retried by
integrations.transport.

Endpoints are created, changed, re-keyed and deleted here for both the Integrations page
and the API (integrations/api/). No request ever sends anything itself: a ping or a
re-sent delivery is a row plus a job enqueued on commit, sent by a worker. Jobs are
enqueued by task name: no service imports a tasks module.
"""

from __future__ import annotations

import base64
import functools
import logging
import secrets
from urllib.parse import urlencode, urlsplit

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.transport import PRIVATE_REFUSED, SECRET_PREFIX, not_public
from segments import members
from segments.models import Persona, PersonaLink, RunPublication

logger = logging.getLogger(__name__)

# The Celery tasks (integrations.tasks), sent by name. The names are those they had in the
# segments app: a name is part of every queued message (a retry waits up to minutes in the
# broker), and a worker drops a message whose name it does not know.
PUBLISH_TASK = "segments.webhooks_publish"
DELIVER_TASK = "segments.webhook_deliver"
EVENT_MEMBERSHIP_CHANGED = "persona.membership_changed"
# audience.membership_changed will join it when rule-based audiences exist (README, Webhooks)
EVENT_PING = "webhook.ping"
# What the API and the page may change on an endpoint (the secret only by rotating it).
EDITABLE_FIELDS = ("name", "url", "persona", "active")
# The model's column sizes, checked here so a long value is a message, not a database error.
NAME_CHARS = WebhookEndpoint._meta.get_field("name").max_length
URL_CHARS = WebhookEndpoint._meta.get_field("url").max_length


def _new_secret() -> str:
    # a Standard Webhooks secret: "whsec_" + base64 of 32 random bytes (the HMAC-SHA256 key);
    # the receiver passes it as it is to standardwebhooks.Webhook(...)
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _url_problem(url: str) -> str | None:
    """Why `url` cannot receive webhooks, in words; None when it can."""
    if len(url) > URL_CHARS:
        return f"The URL is {len(url)} characters long; at most {URL_CHARS}."
    if not url.isascii():
        return "Percent-encode non-ASCII characters in the URL (and give an internationalised host in punycode)."
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return "Give an http:// or https:// URL with a host, e.g. https://crm.example.com/hooks/custseg."
    parts = urlsplit(url)
    if parts.username is not None:
        # urllib cannot send to it, and the signature is what proves the sender anyway
        return "Put no user name or password in the URL; receivers check the webhook-signature header instead."
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES and not_public(parts.hostname or ""):
        return PRIVATE_REFUSED.format(host=parts.hostname)
    return None


def _clean(changes: dict) -> dict:
    """Checked and normalised endpoint fields (any of EDITABLE_FIELDS), or ValidationError
    with a message per field. Nothing is written before every field is checked."""
    cleaned, errors = {}, {}
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            errors["name"] = ["Give the webhook a name (who receives it)."]
        elif len(name) > NAME_CHARS:
            errors["name"] = [f"The name is {len(name)} characters long; at most {NAME_CHARS}."]
        cleaned["name"] = name
    if "url" in changes:
        url = (changes["url"] or "").strip()
        problem = _url_problem(url)
        if problem:
            errors["url"] = [problem]
        cleaned["url"] = url
    if "persona" in changes:
        cleaned["persona"] = changes["persona"]
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            errors["active"] = ["active is true or false."]
        cleaned["active"] = changes["active"]
    if errors:
        raise ValidationError(errors)
    return cleaned


def webhook_endpoint_check(*, fields: dict) -> None:
    """The checks webhook_endpoint_create and _update make of `fields` (any of
    EDITABLE_FIELDS), without saving: forms run it with their own."""
    _clean(fields)


@transaction.atomic
def webhook_endpoint_create(*, name: str, url: str, persona: Persona | None = None, active: bool = True,
                            by=None) -> WebhookEndpoint:
    """A new endpoint with a new secret (on the returned row: show it to whoever made it)."""
    cleaned = _clean({"name": name, "url": url, "persona": persona, "active": active})
    endpoint = WebhookEndpoint.objects.create(**cleaned, secret=_new_secret(), created_by=by)
    logger.info("segments.webhook_created endpoint_id=%s persona_id=%s by=%s", endpoint.pk,
                getattr(persona, "pk", None), getattr(by, "pk", None))
    return endpoint


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, by=None, **changes) -> WebhookEndpoint:
    """Change any of EDITABLE_FIELDS; a bad value changes nothing. Switching an endpoint off
    makes its pending deliveries fail at their next attempt instead of being sent."""
    stray = sorted(set(changes) - set(EDITABLE_FIELDS))
    if stray:
        raise ValidationError({"__all__": [f"These fields cannot be changed here: {', '.join(stray)}."]})
    cleaned = _clean(changes)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    changed = [field for field, value in cleaned.items() if getattr(endpoint, field) != value]
    if changed:
        for field in changed:
            setattr(endpoint, field, cleaned[field])
        endpoint.save(update_fields=changed)
        logger.info("segments.webhook_updated endpoint_id=%s fields=%s by=%s", endpoint.pk, ",".join(changed),
                    getattr(by, "pk", None))
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, by=None) -> WebhookEndpoint:
    """A new secret (on the returned row, to be shown once); the old one stops working at
    once: every later attempt, retries of earlier deliveries included, is signed with the new."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.secret = _new_secret()
    endpoint.save(update_fields=["secret"])
    logger.info("segments.webhook_secret_rotated endpoint_id=%s by=%s", endpoint.pk, getattr(by, "pk", None))
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, by=None) -> int:
    """Remove an endpoint and its deliveries (how many went with it is returned); a queued
    attempt finds its delivery gone and stops."""
    endpoint_id = endpoint.pk
    _, removed = WebhookEndpoint.objects.filter(pk=endpoint_id).delete()
    deliveries = removed.get(WebhookDelivery._meta.label, 0)
    logger.info("segments.webhook_deleted endpoint_id=%s deliveries=%s by=%s", endpoint_id, deliveries,
                getattr(by, "pk", None))
    return deliveries


@transaction.atomic
def webhook_endpoint_ping(*, endpoint: WebhookEndpoint, by=None) -> WebhookDelivery:
    """A test delivery (event webhook.ping), sent by a worker after commit like any other
    delivery: signed the same way, retried the same way, listed with the others."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.active:
        raise ValidationError({"active": ["The webhook is switched off: switch it on to send it a ping."]})
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=EVENT_PING, payload={
        "event": EVENT_PING, "webhook": {"id": endpoint.pk, "name": endpoint.name},
        "sent_at": timezone.now().isoformat(),
    })
    transaction.on_commit(functools.partial(delivery_enqueue, delivery_id=delivery.pk))
    logger.info("segments.webhook_ping endpoint_id=%s delivery_id=%s by=%s", endpoint.pk, delivery.pk,
                getattr(by, "pk", None))
    return delivery


@transaction.atomic
def webhook_delivery_redeliver(*, delivery: WebhookDelivery, by=None) -> WebhookDelivery:
    """Send a failed delivery again now: one more attempt (it has used up its retries, so a
    failure leaves it failed). The body is the same; the signature uses the current secret."""
    delivery = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    if delivery.status != WebhookDelivery.Status.FAILED:
        raise ValidationError({"status": [f"Only a failed delivery can be re-sent; this one is {delivery.status}."]})
    if not delivery.endpoint.active:
        raise ValidationError({"active": ["The webhook is switched off: switch it on to re-send its deliveries."]})
    delivery.status, delivery.next_retry_at = WebhookDelivery.Status.PENDING, None
    delivery.save(update_fields=["status", "next_retry_at"])
    transaction.on_commit(functools.partial(delivery_enqueue, delivery_id=delivery.pk))
    logger.info("segments.webhook_redeliver delivery_id=%s attempts=%s by=%s", delivery.pk, delivery.attempts,
                getattr(by, "pk", None))
    return delivery


def delivery_enqueue(*, delivery_id: int) -> None:
    """On commit: the job that makes the attempt. Without a broker the delivery is marked
    failed with the reason, so it can be re-sent rather than wait forever as pending."""
    try:
        current_app.send_task(DELIVER_TASK, args=[delivery_id])
    except BrokerError:
        logger.exception("segments.webhook_enqueue_failed delivery_id=%s", delivery_id)
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
            status=WebhookDelivery.Status.FAILED, error="The job queue could not be reached; re-send it later.")


def publish_enqueue(*, run_id: int, previous_run_id: int | None) -> None:
    """From segments' run_publish, on commit: the job that works out what changed."""
    if previous_run_id is None or not WebhookEndpoint.objects.filter(active=True).exists():
        return
    try:
        current_app.send_task(PUBLISH_TASK, args=[run_id, previous_run_id])
    except BrokerError:
        logger.exception("segments.webhooks_enqueue_failed run_id=%s", run_id)


def _members_url(persona_id: int, query: dict, *, csv: bool = False) -> str:
    return f"{settings.SITE_URL}/api/v1/personas/{persona_id}/members/{'csv/' if csv else ''}?{urlencode(query)}"


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
                "delta": _members_url(link.persona_id, {"changed_since": previous_run_id,
                                                        "as_of": link.linked_at.isoformat()}),
                "members": _members_url(link.persona_id, {"as_of": link.linked_at.isoformat()}),
                "members_csv": _members_url(link.persona_id, {"as_of": link.linked_at.isoformat()}, csv=True),
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
