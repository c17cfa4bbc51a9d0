"""Reads of integrations: tokens, webhook endpoints and their deliveries."""

from integrations.models import ApiToken


def token_list():
    return ApiToken.objects.select_related("user", "created_by").order_by("revoked_at", "-created_at", "-id")
