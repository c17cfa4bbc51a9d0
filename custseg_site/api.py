"""API conventions shared by every app: one JSON error format, permission checks and cursor
pages. The OpenAPI schema declares the format (custseg_site.schema).

Every error body looks like
    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"k": ["..."]}}}
so that clients need one parser.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, pagination, permissions, renderers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _flatten(value)]
    return [str(detail)]


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    # Django's own exceptions as DRF's, so that their code is not_found / permission_denied
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    fields = {}
    if isinstance(detail, dict) and "detail" not in detail:
        fields = {
            ("non_field_errors" if key == "__all__" else key): _flatten(value)
            for key, value in detail.items()
        }
        message = " ".join(_flatten(detail))
    else:
        message = " ".join(_flatten(detail.get("detail", detail) if isinstance(detail, dict) else detail))
    code = getattr(exc, "default_code", "error")
    body = {"error": {"status": response.status_code, "code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return Response(body, status=response.status_code, headers=_headers(response))


def _headers(response) -> dict:
    return {k: v for k, v in response.items() if k.lower() in {"www-authenticate", "retry-after"}}


class CSVRenderer(renderers.BaseRenderer):
    """The renderer of the API's CSV operations (members, rejected rows). The
    view answers a success with a streamed CSV response of its own; only errors get
    rendered here."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # only errors get here (400, 403, 404, 429): they stay JSON, and say so
        if data is None:
            return b""
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data)


class OneRenderer(BaseContentNegotiation):
    """Each member or CSV operation has one media type: whatever Accept or ?format= say, its own
    renderer answers (a JSON page checks ?format= itself and says where the CSV is; a CSV
    operation's errors are JSON either way)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type

    def select_parser(self, request, parsers):
        return None


# @action(..., **CSV_DOWNLOAD): an operation whose one answer is a CSV (errors JSON)
CSV_DOWNLOAD = {"renderer_classes": [CSVRenderer], "content_negotiation_class": OneRenderer}


def require(permission: str) -> type[permissions.BasePermission]:
    """A DRF permission class that requires one Django permission (roles grant them)."""

    class HasPermission(permissions.BasePermission):
        message = f"Your role does not allow this ({permission})."

        def has_permission(self, request, view):
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(permission))

    HasPermission.__name__ = f"Has_{permission.replace('.', '_')}"
    return HasPermission


class CursorPagination(pagination.CursorPagination):
    """DRF's cursor pages, with a mangled or foreign cursor answered 400 on `cursor` (DRF says
    404, which reads as "no such list")."""

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {self.cursor_query_param: ["Invalid cursor: use the `next` link of the previous page."]}) from None


def int_or_404(pk) -> int:
    """A URL's id as an int; 404 (not a 500) for anything else ("abc", "1.5", "²": isdecimal(), not
    isdigit(), is what int() reads)."""
    if not str(pk).isdecimal():
        raise Http404
    return int(pk)
