"""Reads of integrations: tokens, webhook endpoints and their deliveries."""

from django.db.models import Prefetch

from integrations.models import ApiToken, WebhookAttempt, WebhookDelivery, WebhookEndpoint


def token_list():
    return ApiToken.objects.select_related("user", "created_by").order_by("revoked_at", "-created_at", "-id")


def endpoint_list():
    return WebhookEndpoint.objects.select_related("persona", "created_by").order_by("name", "id")


def endpoint_deliveries(*, endpoint: WebhookEndpoint):
    """One endpoint's deliveries, newest first (the endpoint, -created_at index)."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")


def delivery_list():
    """Deliveries, newest first, each with its attempts (`attempt_rows`, in order) in one more query."""
    return (WebhookDelivery.objects.select_related("endpoint", "persona").order_by("-created_at", "-id")
            .prefetch_related(Prefetch("attempt_rows", queryset=WebhookAttempt.objects.order_by("number", "id"))))


def delivery_attempts(*, delivery: WebhookDelivery):
    """A delivery's attempts, first to last."""
    return WebhookAttempt.objects.filter(delivery=delivery).order_by("number", "id")
