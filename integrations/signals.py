"""A token's cached authentication (integrations.services.tokens) goes at once when the
token, its user, the user's roles or permissions, or a role's permissions change.
Connected by IntegrationsConfig.ready()."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save

from integrations.models import ApiToken
from integrations.services.tokens import tokens_forget


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
