"""The OpenAPI schema tells what a client meets: the error body as a component on every
status an operation can answer, and operation ids a client developer would write.

`AutoSchema` (settings DEFAULT_SCHEMA_CLASS) derives each operation's error statuses from
its view, so that no view repeats them:

- 401 and 403 wherever a permission applies (no token, a bad one; a role or token scope that
  does not allow it), 429 with `Retry-After` wherever a throttle counts;
- 400 wherever the operation reads a body or query parameters, or writes (a service may refuse
  it), 415 wherever it reads a body;
- 404 wherever the path names an object;
- 406 wherever the Accept header chooses the answer's media type (not on the member and CSV
  operations, which answer their one media type whatever Accept says).

A view adds its own (`extend_schema(responses={409: OpenApiResponse(description=...)})`) and
the error body is filled in. Operation ids are `<verb>_<resource>[_<action>]` from the router's
basename and the action (`list_personas`, `get_run`, `cancel_import`, `get_run_publish_preview`);
OPERATION_IDS names the actions the rule names badly, and a plain APIView names its own.
"""

from __future__ import annotations

import re

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions, serializers

from custseg_site.api import OneRenderer

ERROR_CODES = {
    400: "invalid (a field's value; `fields` names them) or parse_error (a body that is not JSON)",
    401: "not_authenticated (no credentials) or authentication_failed (a malformed, unknown or revoked token)",
    403: "permission_denied (the user's role or the token's scopes do not allow it)",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "a conflict named by the operation, e.g. segment_held",
    415: "unsupported_media_type",
    429: "throttled",
}


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="What went wrong, for programs: " + "; ".join(
        f"{status}: {codes}" for status, codes in ERROR_CODES.items()) + ".")
    message = serializers.CharField(help_text="What went wrong and what to do, for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="400 only: each invalid field (or non_field_errors) with its messages.")

    class Meta:
        ref_name = "ErrorDetail"


class ErrorResponseSerializer(serializers.Serializer):
    """Every error of the API has this body (custseg_site.api.exception_handler)."""

    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "ErrorResponse"


DESCRIPTIONS = {
    "400": "Invalid input: `error.fields` names each field with its messages.",
    "401": "No token, or a malformed, unknown or revoked one (code not_authenticated or authentication_failed).",
    "403": "The user's role, or the integration token's scopes, do not allow this (code permission_denied).",
    "404": "Not found (code not_found).",
    "406": "The Accept header asks for a media type this operation does not answer (code not_acceptable): "
           "ask for application/json.",
    "415": "The body's Content-Type is not one this operation reads (code unsupported_media_type).",
    "429": "Too many requests for this token (code throttled): wait Retry-After seconds.",
}
RESPONSE_HEADERS = {
    "401": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "The scheme to authenticate with."}},
    "429": {"Retry-After": {"schema": {"type": "integer", "minimum": 0}, "required": True,
                            "description": "Seconds to wait before the next request."}},
}
BODY_METHODS = {"POST", "PUT", "PATCH"}

VERBS = {"list": "list", "retrieve": "get", "create": "create", "update": "update",
         "partial_update": "partial_update", "destroy": "delete"}
# (router basename, action): the id, where the rule reads badly (the member lists name theirs in
# segments.api.membership's members_schema)
OPERATION_IDS = {
    ("run", "compare"): "compare_runs",
    ("run", "assign"): "assign_customers_to_run",
    ("run", "assign_published"): "assign_customers_to_published_run",
    ("campaign", "outcomes"): "import_campaign_outcomes",
    ("import", "rejected"): "export_import_rejected_rows_csv",
    ("outcome-import", "rejected"): "export_outcome_import_rejected_rows_csv",
    ("webhook", "rotate_secret"): "rotate_webhook_secret",
    ("webhook", "deliveries"): "list_webhook_deliveries",
    ("webhook", "redeliver"): "redeliver_webhook_delivery",
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation_id(self) -> str:
        action = getattr(self.view, "action", None)
        basename = getattr(self.view, "basename", None)
        if action is None or basename is None:
            return super().get_operation_id()  # an APIView: it gives extend_schema(operation_id=...)
        if (basename, action) in OPERATION_IDS:
            return OPERATION_IDS[basename, action]
        resource = basename.replace("-", "_")
        if action == "list":
            return f"list_{resource}s"
        if action in VERBS:
            return f"{VERBS[action]}_{resource}"
        if self.method != "GET":
            return f"{action}_{resource}"  # cancel_run, launch_campaign, ping_webhook
        # get_run_publish_preview, get_campaign_results; get_current_feature_snapshot
        return f"get_{resource}_{action}" if self.view.detail else f"get_{action}_{resource}"

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            self._declare_errors(operation)
        return operation

    def _error_statuses(self, operation) -> set[str]:
        statuses = set()
        if any(not isinstance(p, permissions.AllowAny) for p in self.view.get_permissions()):
            statuses |= {"401", "403"}
        if self.view.get_throttles():
            statuses.add("429")
        # a parameter's bad value is a 400 (an unknown ?format= is DRF's 404, declared by the path's id or not at all)
        in_query = any(p["in"] == "query" and p["name"] != "format" for p in operation.get("parameters", []))
        if "requestBody" in operation or in_query or self.method in BODY_METHODS:
            statuses.add("400")
        if "requestBody" in operation:
            statuses.add("415")
        if re.search(r"\{\w+\}", self.path):
            statuses.add("404")
        if not isinstance(self.view.get_content_negotiator(), OneRenderer):
            statuses.add("406")  # DRF's negotiation: an Accept no renderer matches
        return statuses

    def _declare_errors(self, operation) -> None:
        error = self.resolve_serializer(ErrorResponseSerializer, "response").ref
        responses = operation["responses"]
        declared = {code for code in responses if code >= "400"}
        for code in declared | self._error_statuses(operation):
            response = responses.get(code, {})
            responses[code] = {
                **({"headers": RESPONSE_HEADERS[code]} if code in RESPONSE_HEADERS else {}),
                # errors are JSON, whatever the operation's success media type (a CSV export's too)
                "content": {"application/json": {"schema": error}},
                "description": (response.get("description") if response.get("description") != "No response body"
                                else None) or DESCRIPTIONS.get(code, "Error."),
            }
        operation["responses"] = dict(sorted(responses.items()))
