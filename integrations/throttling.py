from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per token (scoped tokens by token id, user tokens and sessions by user),
    at settings.API_THROTTLE_RATE; past it, 429 with Retry-After in the common error format."""

    scope = "token"

    def get_rate(self):
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"apitoken-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
