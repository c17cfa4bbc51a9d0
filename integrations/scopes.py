"""What an integration token may be limited to, and which scope a request needs.

Every API view declares `token_scopes`, either one scope for all its actions or a dict from
action (viewsets) or HTTP method (plain views) to scope, "*" being the default. A scoped token
is checked against it as it authenticates (integrations.authentication): a token without the
scope gets 403, and a view that declares nothing accepts no scoped token (fail closed). Role
permissions still apply on top (the token acts as its user).
"""

from __future__ import annotations

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


def required_scope(view, request) -> str | None:
    """The scope a request to `view` needs (None: the view takes no scoped token)."""
    declared = getattr(view, "token_scopes", None)
    if declared is None or isinstance(declared, str):
        return declared
    action = getattr(view, "action", None) or request.method.lower()
    return declared.get(action) or declared.get("*")
