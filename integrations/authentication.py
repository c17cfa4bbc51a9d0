"""`Authorization: Token cs_...` for the API: a scoped integration token, checked against
the scope each view declares (integrations.scopes), and its OpenAPI security scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from integrations.scopes import ANY_SCOPE, SCOPES, required_scopes
from integrations.services.tokens import KEY_PREFIX, token_for_key


class ScopedTokenAuthentication(BaseAuthentication):
    """`Authorization: Token cs_...` (or `Bearer cs_...`): a scoped integration token."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() not in (b"token", b"bearer"):
            return None
        key = parts[1].decode("latin-1")
        if not key.startswith(KEY_PREFIX):
            return None  # a DRF Token: rest_framework's TokenAuthentication reads it
        token = token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        view = (getattr(request, "parser_context", None) or {}).get("view")
        needed = required_scopes(view, request) if view is not None else ()
        if ANY_SCOPE not in needed and not set(needed) & set(token.scopes):
            granted = ", ".join(token.scopes)
            raise exceptions.PermissionDenied(
                f"This token's scopes ({granted}) do not cover this endpoint"
                + (f" (it needs {' or '.join(needed)})." if needed else " (no integration token may use it)."))
        return token.user, token

    def authenticate_header(self, request):
        return "Token"


class ScopedTokenScheme(OpenApiAuthenticationExtension):
    target_class = ScopedTokenAuthentication
    name = "scopedToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`Token cs_...`: an integration token limited to its scopes "
                           f"({', '.join(SCOPES)}); `Token <40 hex>`: a user's full-access token.",
        }
