"""The membership API's common mechanism: fields, cursor pages pinned to a member set,
delta and as-of parameters, and the streaming CSV export. Used by the persona and segment
member endpoints and by campaign audiences (campaigns.selectors.audience_source registers
the "audience" pin kind; campaigns.api.views' `members` and `members_csv` actions answer
with members_response and members_csv_response). A new member list needs:

- a pin kind registered with segments.members.register_source, whose SQL gives one row per
  customer and is readable in customer-id order by an index leading with its filter;
- an action decorated with members_schema(...) and `**JSON_ONLY`,
  returning members_response(request, pull=..., owner=...);
- an action at url_path "members/csv" decorated with members_csv_schema(...) and
  `**CSV_ONLY`, returning members_csv_response(request, pull=..., filename=...);
- `"members": "membership:read", "members_csv": "membership:read"` in the viewset's
  token_scopes.

`pull` is called for the first page only: the cursor carries the pins, the meta and the
query that made it (fields, page_size, as_of, changed_since; signed), so every later page
reads the same set the same way, and a request that contradicts its cursor gets a 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii

from django.core import signing
from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import renderers, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.utils.urls import replace_query_param

from custseg_site import roles
from custseg_site.api import CSV_DOWNLOAD, OneRenderer
from custseg_site.csv_export import csv_stream_response
from segments import members
from segments.models import SegmentationRun

# Page sizes: 1,000 by default (a few hundred KB of JSON), up to 10,000 for bulk pulls.
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
CURSOR_SALT = "segments.members.cursor"
EXAMPLE_MOMENT = "2026-03-01T09:00:00Z"


# @action(..., **JSON_ONLY) / @action(..., **CSV_ONLY)
JSON_ONLY = {"renderer_classes": [renderers.JSONRenderer], "content_negotiation_class": OneRenderer,
             "pagination_class": None}
CSV_ONLY = {**CSV_DOWNLOAD, "url_path": "members/csv", "pagination_class": None}


def _moment(value: str) -> datetime | None:
    # an unencoded "+01:00" arrives as " 01:00" (a + in a query string is a space)
    value = re.sub(r" (\d\d:?\d\d)$", r"+\1", value.strip())
    try:
        moment = parse_datetime(value) or (parse_datetime(value + "T00:00:00") if len(value) == 10 else None)
    except ValueError:
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_as_of(value: str) -> datetime:
    """as_of: an ISO 8601 moment ("2026-03-01", "2026-03-01T10:00:00Z"; UTC when no offset
    is given), never a run id."""
    if value.strip().isdecimal():
        raise ValidationError({"as_of": [f"as_of takes an ISO 8601 timestamp, not a run id, e.g. {EXAMPLE_MOMENT}."]})
    moment = _moment(value)
    if moment is None:
        raise ValidationError({"as_of": [f"Give an ISO 8601 timestamp, e.g. {EXAMPLE_MOMENT}."]})
    return moment


def parse_changed_since(value: str) -> datetime | int:
    """changed_since: a run id ("42") or an ISO 8601 moment, as for as_of."""
    if value.strip().isdecimal():
        run_id = int(value)
        if not SegmentationRun.objects.filter(pk=run_id).exists():
            raise ValidationError({"changed_since": [f"No run #{run_id}."]})
        return run_id
    moment = _moment(value)
    if moment is None:
        raise ValidationError({"changed_since": [f"Give a run id or an ISO 8601 timestamp, e.g. {EXAMPLE_MOMENT}."]})
    return moment


def points(request) -> tuple[datetime | None, datetime | int | None]:
    """?as_of= (a moment) and ?changed_since= (a moment or a run id)."""
    as_of = request.query_params.get("as_of")
    since = request.query_params.get("changed_since")
    return (parse_as_of(as_of) if as_of else None), (parse_changed_since(since) if since else None)


def _asked_fields(request) -> list[str] | None:
    asked = [f.strip() for f in request.query_params.get("fields", "").split(",") if f.strip()]
    return list(dict.fromkeys(asked)) or None


def _fields(request, pull: members.Pull, asked: list[str] | None) -> list[str]:
    source = members.source_for(pull.current)
    allowed = members.available_fields(source)
    fields = list(asked or source.default_fields)
    unknown = [f for f in fields if f not in allowed and f != "change"]
    if unknown:
        raise ValidationError({"fields": [f"Unknown field(s): {', '.join(unknown)}. Available: {', '.join(allowed)}."]})
    personal = [f for f in fields if f in roles.PERSONAL_FIELDS]
    if personal and not roles.may_see_personal_data(request.user):
        raise PermissionDenied(f"Your role does not include customers' {' and '.join(personal)} "
                               f"({roles.VIEW_PERSONAL_DATA}); ask for the other fields.")
    fields = [f for f in fields if f != "change"]
    if pull.baseline is not None:
        fields.append("change")
    return fields


def _page_size(request) -> int | None:
    value = request.query_params.get("page_size", "")
    if not value:
        return None
    if not value.isdecimal() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise ValidationError({"page_size": [f"Give a number from 1 to {MAX_PAGE_SIZE:,}."]})
    return int(value)


def _point_text(value: datetime | int | None) -> str | int | None:
    # in UTC, so that one moment written with two offsets is the same value
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def _query(request, pull: members.Pull) -> dict:
    """What the first page was asked, as the cursor keeps it: fields (the default made
    explicit), page_size, and as_of and changed_since as parsed."""
    as_of, since = points(request)
    return {"fields": _asked_fields(request) or list(members.source_for(pull.current).default_fields),
            "page_size": _page_size(request) or DEFAULT_PAGE_SIZE,
            "as_of": _point_text(as_of), "changed_since": _point_text(since)}


def _check_against_cursor(request, kept: dict) -> None:
    """400 for an explicit parameter that differs from what the cursor was made with."""
    def shown(name, value):
        if value is None:
            return f"without {name}"
        return f"with {name}={','.join(value) if isinstance(value, list) else value}"

    as_of = request.query_params.get("as_of")
    since = request.query_params.get("changed_since")
    given = {
        "fields": _asked_fields(request),
        "page_size": _page_size(request),
        "as_of": _point_text(parse_as_of(as_of)) if as_of else None,
        "changed_since": _point_text(parse_changed_since(since)) if since else None,
    }
    for name, value in given.items():
        if value is not None and value != kept[name]:
            raise ValidationError({name: [f"This cursor was made {shown(name, kept[name])}; leave {name} out or "
                                          "give the same (or start a new pull without a cursor)."]})


def _read_cursor(value: str) -> tuple[members.Pull, int, dict, dict | None]:
    try:
        state = signing.loads(value, salt=CURSOR_SALT)
        pull = members.Pull(current=state["c"], baseline=state.get("b"), meta=state.get("m") or {})
        members.source_for(pull.current)
        # cursors made before the query was kept in them have no "q": their next links carry
        # the query parameters, which are read from the request as then
        return pull, int(state["a"]), state.get("o"), state.get("q")
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ValidationError({"cursor": ["Invalid cursor: use the `next` link of the previous page."]}) from None


def _write_cursor(pull: members.Pull, after: int, owner: dict, query: dict) -> str:
    return signing.dumps({"c": pull.current, "b": pull.baseline, "m": pull.meta, "a": after, "o": owner,
                          "q": query}, salt=CURSOR_SALT, compress=True)


def _refuse_history(request, delta: bool) -> None:
    if not delta:
        for name in ("as_of", "changed_since"):
            if request.query_params.get(name):
                raise ValidationError({name: ["This list never changes (frozen at launch): it has no history to "
                                              "compare with."]})


def members_response(request, *, pull: Callable[[], members.Pull], owner: dict, delta: bool = True,
                     pinned: dict | None = None):
    """One JSON page ({next, cursor, ...meta, results}). Field names are checked against
    the pinned set's source.

    `pull` (which may look the owner up and 404) is called for the first page only; a
    later page reads its cursor, which carries the `owner` it was made for (e.g.
    {"persona": 3}), so a cursor only works on the URL that made it, and the query of the
    first page. With delta False (a set that never changes, like a campaign's frozen
    audience) as_of and changed_since are refused.

    `pinned`: the view's own query parameters that the request gives, as the view reads them,
    each also a key of the pull's meta (a campaign's include_control): with a cursor, a value
    other than the one the cursor's pull was made with is a 400 naming it."""
    wanted = request.query_params.get("format", "")
    accept = request.META.get("HTTP_ACCEPT", "")
    if wanted not in ("", "json") or (wanted == "" and "text/csv" in accept and "json" not in accept
                                      and "*/*" not in accept):
        csv_path = request.path.rstrip("/") + "/csv/"
        raise ValidationError({"format": [f"This operation answers JSON only; the CSV is its own operation: "
                                          f"GET {csv_path} (same fields, as_of, changed_since)."]})
    _refuse_history(request, delta)
    cursor = request.query_params.get("cursor")
    if cursor:
        chosen, after, cursor_owner, query = _read_cursor(cursor)
        if cursor_owner != owner:
            raise ValidationError({"cursor": ["This cursor belongs to another list: use the `next` link of the "
                                              "previous page."]})
        if query is None:  # an old cursor: the request's parameters, as they were read then
            query = {"fields": _asked_fields(request), "page_size": _page_size(request) or DEFAULT_PAGE_SIZE}
        else:
            _check_against_cursor(request, query)
        for name, value in (pinned or {}).items():
            if value != (chosen.meta or {}).get(name):
                raise ValidationError({name: [f"This cursor was made with {name}={json.dumps(chosen.meta.get(name))}; "
                                              f"leave {name} out or give the same (or start a new pull without a "
                                              "cursor)."]})
    else:
        chosen, after = pull(), 0
        query = _query(request, chosen)
    fields = _fields(request, chosen, query["fields"])
    size = query["page_size"]
    head = {**(chosen.meta or {}), "fields": fields}
    rows = members.member_page(current=chosen.current, baseline=chosen.baseline, fields=fields, after=after,
                               limit=size + 1)
    last = rows[size - 1][0] if len(rows) > size else None
    if fields == ["external_id"]:
        results = _external_ids_json([row[1] for row in rows[:size]])
    else:
        # plain json: member fields are str, int, float or None (a custom encoder class
        # would cost the C encoder's speed)
        results = json.dumps([dict(zip(fields, row[1:])) for row in rows[:size]])
    next_url = next_cursor = None
    if last is not None:
        next_cursor = _write_cursor(chosen, last, owner, query)
        next_url = replace_query_param(request.build_absolute_uri(), "cursor", next_cursor)
    # Rendered here, not by a DRF Response: that one keeps the page in a reference cycle
    # (response -> renderer_context -> response) until the cyclic collector runs, and a
    # bulk pull would pile up hundreds of MB of pages before it does.
    body = json.dumps({"next": next_url, "cursor": next_cursor, **head, "results": None})
    return HttpResponse(body[:-len("null}")] + results + "}", content_type="application/json")


def members_csv_response(request, *, pull: Callable[[], members.Pull], filename: str, delta: bool = True):
    """Every member as one streamed CSV (fields, as_of and changed_since as for a page)."""
    _refuse_history(request, delta)
    chosen = pull()
    fields = _fields(request, chosen, _asked_fields(request))
    return csv_stream_response(filename, members.member_csv(pull=chosen, fields=fields))


def _external_ids_json(values: list[str]) -> str:
    """[{"external_id": v}, ...] for the default field set, the bulk-pull case: each id is
    encoded by json's own C string encoder and joined, 3-4x faster than encoding 10,000
    dicts (external ids are never null)."""
    if not values:
        return "[]"
    return '[{"external_id":' + '},{"external_id":'.join(map(encode_basestring_ascii, values)) + "}]"


class MemberItemSerializer(serializers.Serializer):
    """One member: the fields asked for with ?fields= (external_id by default)."""

    external_id = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    gender = serializers.CharField(required=False)
    age = serializers.IntegerField(required=False, allow_null=True)
    country = serializers.CharField(required=False)
    city = serializers.CharField(required=False)
    segment = serializers.IntegerField(required=False, allow_null=True, help_text="The segment (id) the customer is in.")
    distance = serializers.FloatField(required=False, allow_null=True,
                                      help_text="Distance to the segment's centre (scaled feature space).")
    nearest_segment_index = serializers.IntegerField(required=False, allow_null=True)
    change = serializers.ChoiceField(choices=["joined", "left"], required=False,
                                     help_text="With changed_since: joined or left since then.")
    persona = serializers.IntegerField(required=False, allow_null=True,
                                       help_text="Campaign audiences: the persona the customer was targeted through.")
    persona_name = serializers.CharField(required=False, allow_null=True)
    is_control = serializers.BooleanField(required=False, help_text="Campaign audiences: in the holdout "
                                                                    "(recorded, never contacted).")


class MembershipBaselineSerializer(serializers.Serializer):
    """What a delta (changed_since) compares with."""

    run = serializers.IntegerField(allow_null=True)
    segment = serializers.IntegerField(allow_null=True, help_text="Null: the set was empty then.")
    at = serializers.DateTimeField(required=False, help_text="When changed_since was a timestamp: that moment.")


PARAMETERS = [
    OpenApiParameter("fields", str, description=(
        "Comma-separated fields of each member (default external_id): external_id, email, name (personal data: "
        "403 for a role without customers.view_customer), gender, age, country, city; for segment and persona "
        "members segment, distance, nearest_segment_index; for campaign audiences persona, persona_name, segment, "
        "is_control.")),
    OpenApiParameter("page_size", int, description=f"Members per page, 1 to {MAX_PAGE_SIZE:,} (default {DEFAULT_PAGE_SIZE:,})."),
    OpenApiParameter("cursor", str, description=(
        "The previous page's `cursor` (also in its `next` link). It pins the member set the first page read, so a "
        "pull finishes on the run it started on, and keeps that page's fields, page_size, as_of and changed_since: "
        "give the cursor alone, or with the same values (a different one is a 400 naming it).")),
    OpenApiParameter("as_of", OpenApiTypes.DATETIME, description="The membership as it was at this moment (an ISO "
                                                                 "8601 timestamp; not a run id)."),
    OpenApiParameter("changed_since", str, description=(
        "A run id or an ISO 8601 timestamp: instead of the members, who joined and who left (field `change`) "
        "between the membership then and now (or as_of).")),
]
CSV_PARAMETERS = ("fields", "as_of", "changed_since")


def _history(delta: bool) -> dict:
    return {
        "as_of": serializers.DateTimeField(allow_null=True),
        "changed_since": MembershipBaselineSerializer(allow_null=True, help_text="The run and segment compared with."),
    } if delta else {}


def members_schema(name: str, description: str, meta: dict | None = None, *, operation_id: str,
                   extra_parameters=(), delta: bool = True):
    """extend_schema for a member list: the parameters above (without as_of and
    changed_since unless `delta`) and a JSON page (component `name`, with the `meta` fields
    each page echoes)."""
    page = inline_serializer(name, fields={
        "next": serializers.URLField(allow_null=True, help_text="The next page (null on the last one): this URL "
                                                                 "with the next cursor."),
        "cursor": serializers.CharField(allow_null=True, help_text="The next page's cursor on its own (null on the "
                                                                   "last page): pass it as ?cursor=."),
        **(meta or {}),
        **_history(delta),
        "fields": serializers.ListField(child=serializers.CharField()),
        "results": MemberItemSerializer(many=True),
    })
    parameters = [p for p in PARAMETERS if delta or p.name not in ("as_of", "changed_since")]
    return extend_schema(operation_id=operation_id, description=description,
                         parameters=[*parameters, *extra_parameters], responses={(200, "application/json"): page})


def members_csv_schema(description: str, *, operation_id: str, extra_parameters=(), delta: bool = True):
    """extend_schema for a member list's CSV: fields (and as_of, changed_since when
    `delta`), a text/csv body and JSON errors. The body is a plain string: openapi-python-client
    reads any text/* body as response.text, so a string/binary one would be wrapped as
    BytesIO(str) and fail; a string makes its method return the CSV text."""
    parameters = [p for p in PARAMETERS if p.name in CSV_PARAMETERS and (delta or p.name == "fields")]
    return extend_schema(
        operation_id=operation_id, description=description, parameters=[*parameters, *extra_parameters],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=(
                "Every member, one line each after a header of the fields, streamed (UTF-8; formula-like text "
                "cells neutralised with a leading ').")),
            (400, "application/json"): OpenApiResponse(description="A parameter is invalid (error.fields names it)."),
            (403, "application/json"): OpenApiResponse(description="The role or the token's scopes do not allow it (personal "
                "fields need customers.view_customer)."),
            (404, "application/json"): OpenApiResponse(description="No such list."),
        })
