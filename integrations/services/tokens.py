"""Scoped API tokens: create, revoke, and the cache of their authentications.

The plain DRF Token (`create_api_token USERNAME` without --scope) is a full-access token of
its user; these are the integration tokens (`cs_...`) limited to scopes
(integrations.scopes), read by integrations.authentication.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.cache import cache, caches
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from integrations.models import ApiToken
from integrations.scopes import SCOPES

logger = logging.getLogger(__name__)

# Keys of scoped tokens start with this, so the DRF Token authentication (40 hex
# characters) and this one never look at each other's keys.
KEY_PREFIX = "cs_"
# last_used_at is written at most this often: a pull of 100 pages makes one write, not 100.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# An authenticated token (with its user and the user's permissions) is kept in the cache
# this long, so that a bulk pull's pages after the first make no authentication queries
# (three a request otherwise: the token, the user's and the role's permissions, about a
# fifth of a 10,000-member page). Revoking or editing a token, changing its user or roles
# drops it at once (integrations.signals); the timeout bounds what a write that bypasses
# the ORM's signals (raw SQL) could leave stale.
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
    # the "strict" cache (settings.CACHES): a marker that cannot be written fails the change
    # instead of leaving the old authentication in the cache
    caches["strict"].set_many(markers, FORGOTTEN_SECONDS)
    transaction.on_commit(lambda: caches["strict"].set_many(markers, FORGOTTEN_SECONDS))
