"""What an integration token may be limited to, and which scope a request needs.

Every API view declares `token_scopes`, either one scope for all its actions or a dict from
action (viewsets) or HTTP method (plain views) to scope, "*" being the default. Where an action
serves two kinds of integration, its scope is a tuple: any one of them lets a token in (the
persona and segment lists: personas:read or runs:read, and membership:read so that a
membership integration can find the ids it pulls). A scoped token is checked against it as it
authenticates (integrations.authentication): a token with none of the scopes gets 403, and a
view that declares nothing accepts no scoped token (fail closed). Role permissions still apply
on top (the token acts as its user).
"""

from __future__ import annotations

SCOPES = {
    "membership:read": "Members of personas, segments and campaign audiences (pages, delta, as of, CSV), "
                       "one customer by external id (persona, segment, features), and the persona and segment "
                       "lists, to find the ids to pull.",
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


def required_scopes(view, request) -> tuple[str, ...]:
    """The scopes of which a request to `view` needs one (empty: the view takes no scoped
    token; (ANY_SCOPE,): any valid token)."""
    declared = getattr(view, "token_scopes", None)
    if isinstance(declared, dict):
        action = getattr(view, "action", None) or request.method.lower()
        declared = declared.get(action) or declared.get("*")
    if declared is None:
        return ()
    return (declared,) if isinstance(declared, str) else tuple(declared)
