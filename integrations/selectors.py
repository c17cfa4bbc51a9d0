"""Reads of integrations: tokens, webhook endpoints and their deliveries."""

from integrations.models import ApiToken, WebhookDelivery, WebhookEndpoint


def token_list():
    return ApiToken.objects.select_related("user", "created_by").order_by("revoked_at", "-created_at", "-id")


def endpoint_list():
    return WebhookEndpoint.objects.select_related("persona", "created_by").order_by("name", "id")


def endpoint_deliveries(*, endpoint: WebhookEndpoint):
    """One endpoint's deliveries, newest first (the endpoint, -created_at index)."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")


def delivery_list():
    return WebhookDelivery.objects.select_related("endpoint", "persona").order_by("-created_at", "-id")
