"""Integrations: scoped API tokens, webhook endpoints and their deliveries.

The tables keep the names they had before this app existed (ApiToken was custseg_site's,
the webhook models segments'): moving the models moved no rows."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ApiToken(models.Model):
    """An integration's API token, limited to scopes (integrations.scopes.SCOPES).

    It acts as `user` (whose role still applies) but only for the endpoints its scopes
    cover. The key is shown once, when created; only its SHA-256 is stored. The plain DRF
    `authtoken.Token` (one per user, `create_api_token USERNAME`) stays a full-access token
    of its user's role."""

    name = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    # sha256 hex of the key; lookups go through its unique index
    key_hash = models.CharField(max_length=64, unique=True)
    # the key's first characters, to tell tokens apart on the page ("cs_Ab3d...")
    prefix = models.CharField(max_length=12)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "custseg_site_apitoken"
        verbose_name = "API token"
        ordering = ["-created_at", "-id"]
        permissions = [("manage_api_tokens", "Can create and revoke integration API tokens")]
        constraints = [models.CheckConstraint(condition=~Q(name=""), name="api_token_named")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class WebhookEndpoint(models.Model):
    """An integration's URL, told (POST, JSON, HMAC-signed) when a persona's membership
    changes after a publish: for one persona, or for every persona when `persona` is null."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    # key of the HMAC-SHA256 in X-Custseg-Signature; the receiver keeps a copy to check it
    secret = models.CharField(max_length=64)
    persona = models.ForeignKey("segments.Persona", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="webhooks")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "segments_webhookendpoint"
        ordering = ["name", "id"]

    def __str__(self):
        return f"{self.name} ({self.url})"


class WebhookDelivery(models.Model):
    """One notification to one endpoint, with its attempts (retried with backoff)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    persona = models.ForeignKey("segments.Persona", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    run = models.ForeignKey("segments.SegmentationRun", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "segments_webhookdelivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["pending", "retrying", "succeeded", "failed"]),
                                   name="webhook_delivery_status_valid"),
        ]
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint_idx")]

    def __str__(self):
        return f"{self.event} -> {self.endpoint_id} ({self.status})"
