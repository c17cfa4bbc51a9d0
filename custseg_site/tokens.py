"""Scoped API tokens for integrations: scopes, create, revoke, authenticate, throttle.

How scopes work: every API view declares `token_scopes`, either one scope for all its
actions or a dict from action (viewsets) or HTTP method (plain views) to scope, "*" being
the default. A scoped token is checked against it as it authenticates: a token without
the scope gets 403, and a view that declares nothing accepts no scoped token (fail
closed). Role permissions still apply on top (the token acts as its user). The plain DRF
Token (`create_api_token USERNAME` without --scope) is a full-access token of its user.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import ApiToken

logger = logging.getLogger(__name__)

SCOPES = {
    "membership:read": "Members of personas, segments and campaign audiences (pages, delta, as of, CSV) "
                       "and one customer by external id (persona, segment, features).",
    "personas:read": "Personas and their links to segments.",
    "personas:write": "Create and change personas.",
    "runs:read": "Runs, segments, features available to runs, comparisons.",
    "runs:write": "Start, cancel and publish runs; assign customers to segments.",
    "customers:read": "Imports, mapping presets, feature snapshots.",
    "customers:write": "Upload imports, save presets, compute features.",
    "campaigns:read": "Campaigns and their results.",
    "campaigns:write": "Create, change and launch campaigns, delete drafts; import outcomes.",
    "webhooks:manage": "Webhooks: register, change, re-key and delete endpoints; read, re-send and test "
                       "their deliveries.",
}
# A view that anyone holding a valid token may read (the API schema and its docs).
ANY_SCOPE = "*any*"
# Keys of scoped tokens start with this, so the DRF Token authentication (40 hex
# characters) and this one never look at each other's keys.
KEY_PREFIX = "cs_"
# last_used_at is written at most this often: a pull of 100 pages makes one write, not 100.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# An authenticated token (with its user and the user's permissions) is kept in the cache
# this long, so that a bulk pull's pages after the first make no authentication queries
# (three a request otherwise: the token, the user's and the role's permissions, about a
# fifth of a 10,000-member page). Revoking or editing a token, changing its user or roles
# drops it at once (connect_cache_invalidation); the timeout bounds what a write that
# bypasses the ORM's signals (raw SQL) could leave stale.
TOKEN_CACHE_SECONDS = 60
# What a change writes into a token's cache entry instead of deleting it. A request that read
# the token from the database before the change committed would otherwise put its stale
# authentication back after the delete; entries are filled with cache.add, which leaves the
# marker alone. Written again on commit, it outlasts any request that started before it.
FORGOTTEN = "forgotten"
FORGOTTEN_SECONDS = 30


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def token_create(*, user, name: str, scopes: list[str], created_by=None) -> tuple[ApiToken, str]:
    """A new scoped token for `user`; returns it and its key (shown once, never stored)."""
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the token a name (what uses it)."]
    scopes = sorted(set(scopes or []))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        errors["scopes"] = [f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(SCOPES)}."]
    elif not scopes:
        errors["scopes"] = ["Choose at least one scope."]
    if not user.is_active:
        errors["user"] = [f"User {user.username!r} is inactive."]
    if errors:
        raise ValidationError(errors)
    # 32 random bytes: as strong as the DRF token's 20, plus room to spare
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(name=name[:100], user=user, key_hash=_hash(key), prefix=key[:10],
                                    scopes=scopes, created_by=created_by)
    logger.info("custseg.api_token_created token_id=%s scopes=%s", token.pk, ",".join(scopes))
    return token, key


def token_revoke(*, token: ApiToken, by=None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])  # post_save forgets the cached authentication
        logger.info("custseg.api_token_revoked token_id=%s by=%s", token.pk, getattr(by, "pk", None))
    return token


def token_list():
    return ApiToken.objects.select_related("user", "created_by").order_by("revoked_at", "-created_at", "-id")


def _cache_key(key_hash: str) -> str:
    return f"custseg:apitoken:{key_hash}"


def _record(token: ApiToken, permissions: set[str]) -> dict:
    """What the cache keeps of an authentication: ids, flags, scopes and permission names;
    never the user's password hash."""
    user = token.user
    return {"token": {"id": token.pk, "name": token.name, "prefix": token.prefix, "scopes": token.scopes},
            "user": {"id": user.pk, "username": user.get_username(), "is_active": user.is_active,
                     "is_staff": user.is_staff, "is_superuser": user.is_superuser},
            "permissions": sorted(permissions)}


def _from_record(record: dict) -> ApiToken:
    user_model = get_user_model()
    data = record["user"]
    user = user_model(id=data["id"], is_active=data["is_active"], is_staff=data["is_staff"],
                      is_superuser=data["is_superuser"], **{user_model.USERNAME_FIELD: data["username"]})
    # no password hash here: were this object ever saved, the NOT NULL column refuses it
    # instead of blanking the real one
    user.password = None
    user._state.adding, user._state.db = False, "default"
    user._perm_cache = set(record["permissions"])  # what ModelBackend.has_perm reads
    token = ApiToken(id=record["token"]["id"], name=record["token"]["name"], prefix=record["token"]["prefix"],
                     scopes=record["token"]["scopes"], user=user)
    token._state.adding, token._state.db = False, "default"
    return token


def token_for_key(key: str) -> ApiToken | None:
    """The live token of `key` with its user, the user's permissions loaded (None when it
    is unknown, revoked or its user inactive). Kept in the cache for TOKEN_CACHE_SECONDS."""
    key_hash = _hash(key)
    record = cache.get(_cache_key(key_hash))
    if isinstance(record, dict):
        token = _from_record(record)
    else:
        token = (ApiToken.objects.select_related("user").filter(key_hash=key_hash, revoked_at__isnull=True)
                 .first())
        if token is None or not token.user.is_active:
            return None
        permissions = token.user.get_all_permissions()  # also ModelBackend's _perm_cache
        if record is None:
            # add, not set: a FORGOTTEN marker written meanwhile stays (see FORGOTTEN)
            cache.add(_cache_key(key_hash), _record(token, permissions), TOKEN_CACHE_SECONDS)
    # last_used_at is written at most once per LAST_USED_RESOLUTION by each process (kept
    # here, not in the cache: no round trip on every request)
    now = timezone.now()
    if now - _last_written.get((token.pk, token.prefix), _NEVER) > LAST_USED_RESOLUTION:
        _last_written[(token.pk, token.prefix)] = token.last_used_at = now
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# (token id, key prefix: ids are reused after a database is rebuilt) -> when this process
# last wrote the token's last_used_at
_last_written: dict[tuple[int, str], datetime] = {}
_NEVER = datetime.min.replace(tzinfo=UTC)


def tokens_forget(*, user_ids: Iterable[int] | None = None, key_hashes: Iterable[str] = ()) -> None:
    """Forget cached authentications: of the given tokens, of every token of the given
    users, or (user_ids None and no key_hashes) of every token. Their entries become the
    FORGOTTEN marker now and again when the current transaction commits."""
    hashes = set(key_hashes)
    if user_ids is None and not hashes:
        hashes.update(ApiToken.objects.values_list("key_hash", flat=True))
    elif user_ids is not None:
        hashes.update(ApiToken.objects.filter(user_id__in=list(user_ids)).values_list("key_hash", flat=True))
    if not hashes:
        return
    markers = {_cache_key(h): FORGOTTEN for h in hashes}
    cache.set_many(markers, FORGOTTEN_SECONDS)
    transaction.on_commit(lambda: cache.set_many(markers, FORGOTTEN_SECONDS))


def forget_on_change(sender, instance=None, action=None, reverse=None, pk_set=None, **kwargs):
    """Signal receiver: a token, a user, a user's roles or permissions, or a role's
    permissions changed; their cached authentications go at once."""
    if action is not None and not action.startswith("post_"):
        return  # m2m_changed fires before and after; the "post_" half is the change
    if kwargs.get("created") or kwargs.get("update_fields") == frozenset({"last_login"}):
        return  # nothing cached yet; a sign-in changes nothing a token uses
    user_model = get_user_model()
    if isinstance(instance, ApiToken):
        tokens_forget(key_hashes=[instance.key_hash])
    elif isinstance(instance, user_model):
        tokens_forget(user_ids=[instance.pk])
    elif action is not None and reverse and sender is user_model.groups.through and pk_set:
        tokens_forget(user_ids=pk_set)  # users added to or removed from a group
    else:
        tokens_forget()  # a group's permissions, or a group itself: any token may be affected


def connect_cache_invalidation() -> None:
    user_model = get_user_model()
    for signal in (post_save, post_delete):
        signal.connect(forget_on_change, sender=ApiToken, dispatch_uid=f"apitoken-forget-{signal}-token")
        signal.connect(forget_on_change, sender=user_model, dispatch_uid=f"apitoken-forget-{signal}-user")
        signal.connect(forget_on_change, sender=Group, dispatch_uid=f"apitoken-forget-{signal}-group")
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(forget_on_change, sender=through, dispatch_uid=f"apitoken-forget-{through.__name__}")


def required_scope(view, request) -> str | None:
    """The scope a request to `view` needs (None: the view takes no scoped token)."""
    declared = getattr(view, "token_scopes", None)
    if declared is None or isinstance(declared, str):
        return declared
    action = getattr(view, "action", None) or request.method.lower()
    return declared.get(action) or declared.get("*")


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
        needed = required_scope(view, request) if view is not None else None
        if needed != ANY_SCOPE and needed not in token.scopes:
            granted = ", ".join(token.scopes)
            raise exceptions.PermissionDenied(
                f"This token's scopes ({granted}) do not cover this endpoint"
                + (f" (it needs {needed})." if needed else " (no integration token may use it)."))
        return token.user, token

    def authenticate_header(self, request):
        return "Token"


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


class ScopedTokenScheme(OpenApiAuthenticationExtension):
    target_class = ScopedTokenAuthentication
    name = "scopedToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`Token cs_...`: an integration token limited to its scopes "
                           f"({', '.join(SCOPES)}); `Token <40 hex>`: a user's full-access token.",
        }
