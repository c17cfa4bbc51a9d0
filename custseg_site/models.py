from django.conf import settings
from django.db import models
from django.db.models import Q


class ApiToken(models.Model):
    """An integration's API token, limited to scopes (custseg_site.tokens.SCOPES).

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
        ordering = ["-created_at", "-id"]
        permissions = [("manage_api_tokens", "Can create and revoke integration API tokens")]
        constraints = [models.CheckConstraint(condition=~Q(name=""), name="api_token_named")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
