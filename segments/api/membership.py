"""The membership API's common mechanism: fields, cursor pages pinned to a member set,
delta and as-of parameters, and the streaming CSV export. Used by the persona and segment
member endpoints and by campaign audiences (campaigns.selectors.audience_source registers
the "audience" pin kind; campaigns.api.views' `members` action answers with
members_response). A new member list needs:

- a pin kind registered with segments.members.register_source, whose SQL gives one row per
  customer and is readable in customer-id order by an index leading with its filter;
- an action decorated with members_schema(...) and `renderer_classes=RENDERERS,
  pagination_class=None`, returning members_response(request, pull=..., owner=...);
- `"members": "membership:read"` in the viewset's token_scopes.

`pull` is called for the first page only: the cursor carries the pins and the meta (signed),
so every later page reads the same set.
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
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import renderers, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.utils.urls import replace_query_param

from custseg_site import roles
from custseg_site.csv_export import csv_stream_response
from segments import members
from segments.models import SegmentationRun

# Page sizes: 1,000 by default (a few hundred KB of JSON), up to 10,000 for bulk pulls.
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
CURSOR_SALT = "segments.members.cursor"


class CSVRenderer(renderers.BaseRenderer):
    """Lets `?format=csv` and `Accept: text/csv` through content negotiation; the view
    answers those with a streamed CSV response of its own."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # only errors get here (400, 403, 404): they stay JSON, and say so
        if data is None:
            return b""
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data)


RENDERERS = [renderers.JSONRenderer, CSVRenderer]


def parse_point(value: str, name: str) -> datetime | int:
    """A run id ("42") or an ISO 8601 moment ("2026-03-01", "2026-03-01T10:00:00Z"; UTC
    when no offset is given)."""
    # an unencoded "+01:00" arrives as " 01:00" (a + in a query string is a space)
    value = re.sub(r" (\d\d:?\d\d)$", r"+\1", value.strip())
    if value.isdigit():
        run_id = int(value)
        if not SegmentationRun.objects.filter(pk=run_id).exists():
            raise ValidationError({name: [f"No run #{run_id}."]})
        return run_id
    try:
        moment = parse_datetime(value) or (parse_datetime(value + "T00:00:00") if len(value) == 10 else None)
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationError({name: ["Give a run id or an ISO 8601 timestamp, e.g. 2026-03-01T09:00:00Z."]})
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def points(request) -> tuple[datetime | None, datetime | int | None]:
    """?as_of= (a moment) and ?changed_since= (a moment or a run id)."""
    as_of = request.query_params.get("as_of")
    since = request.query_params.get("changed_since")
    as_of = parse_point(as_of, "as_of") if as_of else None
    if isinstance(as_of, int):
        raise ValidationError({"as_of": ["as_of takes a timestamp, not a run id."]})
    return as_of, (parse_point(since, "changed_since") if since else None)


def _fields(request, pull: members.Pull) -> list[str]:
    source = members.source_for(pull.current)
    allowed = members.available_fields(source)
    asked = [f.strip() for f in request.query_params.get("fields", "").split(",") if f.strip()]
    fields = list(dict.fromkeys(asked or source.default_fields))
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


def _page_size(request) -> int:
    value = request.query_params.get("page_size", "")
    if not value:
        return DEFAULT_PAGE_SIZE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise ValidationError({"page_size": [f"Give a number from 1 to {MAX_PAGE_SIZE:,}."]})
    return int(value)


def _read_cursor(value: str) -> tuple[members.Pull, int, dict]:
    try:
        state = signing.loads(value, salt=CURSOR_SALT)
        pull = members.Pull(current=state["c"], baseline=state.get("b"), meta=state.get("m") or {})
        members.source_for(pull.current)
        return pull, int(state["a"]), state.get("o")
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ValidationError({"cursor": ["Invalid cursor: use the `next` link of the previous page."]}) from None


def _write_cursor(pull: members.Pull, after: int, owner: dict) -> str:
    return signing.dumps({"c": pull.current, "b": pull.baseline, "m": pull.meta, "a": after, "o": owner},
                         salt=CURSOR_SALT, compress=True)


def members_response(request, *, pull: Callable[[], members.Pull], filename: str, owner: dict, delta: bool = True):
    """One JSON page ({next, ...meta, results}), or with ?format=csv the whole set as a
    streamed CSV. Field names are checked against the pinned set's source.

    `pull` (which may look the owner up and 404) is called for the first page only; a
    later page reads its cursor, which carries the `owner` it was made for (e.g.
    {"persona": 3}), so a cursor only works on the URL that made it. With delta False (a set
    that never changes, like a campaign's frozen audience) as_of and changed_since are refused."""
    if not delta:
        for name in ("as_of", "changed_since"):
            if request.query_params.get(name):
                raise ValidationError({name: ["This list never changes (frozen at launch): it has no history to "
                                              "compare with."]})
    if request.accepted_renderer.format == "csv":
        chosen = pull()
        fields = _fields(request, chosen)
        return csv_stream_response(filename, members.member_csv(pull=chosen, fields=fields))
    cursor = request.query_params.get("cursor")
    chosen, after, cursor_owner = _read_cursor(cursor) if cursor else (pull(), 0, owner)
    if cursor_owner != owner:
        raise ValidationError({"cursor": ["This cursor belongs to another list: use the `next` link of the previous page."]})
    fields = _fields(request, chosen)
    size = _page_size(request)
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
    next_url = None
    if last is not None:
        next_url = replace_query_param(request.build_absolute_uri(), "cursor", _write_cursor(chosen, last, owner))
    # Rendered here, not by a DRF Response: that one keeps the page in a reference cycle
    # (response -> renderer_context -> response) until the cyclic collector runs, and a
    # bulk pull would pile up hundreds of MB of pages before it does.
    body = json.dumps({"next": next_url, **head, "results": None})
    return HttpResponse(body[:-len("null}")] + results + "}", content_type="application/json")


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
    OpenApiParameter("cursor", str, description="The `next` link's cursor: pins the member set the first page read, "
                                                "so a pull finishes on the run it started on."),
    OpenApiParameter("as_of", OpenApiTypes.DATETIME, description="The membership as it was at this moment."),
    OpenApiParameter("changed_since", str, description=(
        "A run id or an ISO 8601 timestamp: instead of the members, who joined and who left (field `change`) "
        "between the membership then and now (or as_of).")),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv: every member as one streamed CSV "
                                                                       "(no pages; formula-like cells neutralised)."),
]


def members_schema(name: str, description: str, meta: dict | None = None, *, extra_parameters=(),
                   delta: bool = True):
    """extend_schema for a member endpoint: the parameters above (without as_of and
    changed_since unless `delta`), a JSON page (component `name`, with the `meta` fields
    each page echoes) and text/csv."""
    history = {
        "as_of": serializers.DateTimeField(allow_null=True),
        "changed_since": MembershipBaselineSerializer(allow_null=True, help_text="The run and segment compared with."),
    } if delta else {}
    page = inline_serializer(name, fields={
        "next": serializers.URLField(allow_null=True),
        **(meta or {}),
        **history,
        "fields": serializers.ListField(child=serializers.CharField()),
        "results": MemberItemSerializer(many=True),
    })
    parameters = [p for p in PARAMETERS if delta or p.name not in ("as_of", "changed_since")]
    return extend_schema(description=description, parameters=[*parameters, *extra_parameters],
                         responses={(200, "application/json"): page, (200, "text/csv"): OpenApiTypes.STR})
