"""API tokens: `Authorization: Bearer <key>` or `Token <key>`, either prefix for either kind
of key. A scoped integration token (`cs_...`) is checked against the scope each view declares
(integrations.scopes); a user's token (DRF's) has the user's role. One OpenAPI security
scheme describes both, as HTTP bearer: what client generators send by default."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, TokenAuthentication, get_authorization_header

from integrations.scopes import ANY_SCOPE, SCOPES, required_scopes
from integrations.services.tokens import KEY_PREFIX, token_for_key


class ScopedTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer cs_...` (or `Token cs_...`): a scoped integration token."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() not in (b"token", b"bearer"):
            return None
        key = parts[1].decode("latin-1")
        if not key.startswith(KEY_PREFIX):
            return None  # a user's token: UserTokenAuthentication reads it
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
        return "Bearer"


class UserTokenAuthentication(TokenAuthentication):
    """A user's token (rest_framework.authtoken), after `Bearer` as well as `Token`."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in (b"token", b"bearer"):
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: give `Bearer <key>`, "
                                                  "with no spaces in the key.")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token: it contains invalid characters.") from None
        return self.authenticate_credentials(key)

    def authenticate_header(self, request):
        return "Bearer"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ScopedTokenAuthentication
    name = "apiToken"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "http", "scheme": "bearer",
            "description": "`Authorization: Bearer <key>` (`Token <key>` works too). The key is an integration "
                           "token (`cs_...`), limited to its scopes and its user's role, or a user's own token "
                           "(40 hex characters), with everything the user's role allows. Scopes: "
                           f"{', '.join(SCOPES)}.",
        }


class UserTokenScheme(OpenApiAuthenticationExtension):
    """Nothing of its own: ApiTokenScheme describes user tokens too (one scheme, one header)."""

    target_class = UserTokenAuthentication
    name = []  # no security scheme component
    priority = 1

    def get_security_requirement(self, auto_schema):
        return None

    def get_security_definition(self, auto_schema):
        return []
