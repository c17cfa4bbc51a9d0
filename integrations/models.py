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
    """An integration's URL, told (POST, JSON, signed as Standard Webhooks says) when a
    persona's membership changes after a publish: for one persona, or for every persona when
    `persona` is null."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    # the signing key; the receiver keeps a copy to check webhook-signature. "whsec_" + base64
    # since Standard Webhooks signatures; older rows hold 64 hex characters, used as raw bytes
    # (integrations.transport.signing_key)
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

    @property
    def legacy_secret(self) -> bool:
        """A secret made before Standard Webhooks secrets ("whsec_" + base64): hex, used as raw bytes."""
        return not self.secret.startswith("whsec_")


class WebhookDelivery(models.Model):
    """One notification to one endpoint. Its fields sum up the last attempt; every attempt
    is a WebhookAttempt row."""

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


class WebhookAttempt(models.Model):
    """One HTTP attempt at a delivery, never overwritten: when it started, how long it took,
    the receiver's status code or the error, and when (if at all) the delivery is tried again."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    # 1 for the first attempt; a re-send continues the count
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    # null: no request was made (the endpoint was off, or its address was refused before connecting)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    # null: this attempt is not followed by another (it succeeded, or the delivery failed)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "number", "id"]
        indexes = [models.Index(fields=["delivery", "number"], name="webhook_attempt_delivery_idx")]

    def __str__(self):
        return f"attempt {self.number} of delivery {self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300

    @property
    def will_retry(self) -> bool:
        return self.retry_at is not None
