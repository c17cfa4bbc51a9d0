"""API conventions shared by every app: one JSON error format and permission checks.

Every error body looks like
    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"k": ["..."]}}}
so that clients need one parser.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, permissions, serializers
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


class ApiErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class ApiErrorSerializer(serializers.Serializer):
    """The error format above, for the schema."""

    error = ApiErrorDetailSerializer()


def require(permission: str) -> type[permissions.BasePermission]:
    """A DRF permission class that requires one Django permission (roles grant them)."""

    class HasPermission(permissions.BasePermission):
        message = f"Your role does not allow this ({permission})."

        def has_permission(self, request, view):
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(permission))

    HasPermission.__name__ = f"Has_{permission.replace('.', '_')}"
    return HasPermission


def int_or_404(pk) -> int:
    """A URL's id as an int; 404 (not a 500) for anything else ("abc", "1.5")."""
    if not str(pk).isdigit():
        raise Http404
    return int(pk)
