"""Personas over the API: list and read (every role), create from a segment and change
(Marketers). Writes go through segments.personas.services, like the pages."""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from custseg_site import roles
from custseg_site.api import CursorPagination, int_or_404, require
from segments.api import membership
from segments.models import Persona, PersonaLink, Segment
from segments.personas import selectors, services


class PersonaLinkSerializer(serializers.ModelSerializer):
    segment_name = serializers.CharField(source="segment.display_name", read_only=True)
    segment_index = serializers.IntegerField(source="segment.index", read_only=True)
    run_published = serializers.BooleanField(source="run.published", read_only=True)
    jaccard = serializers.FloatField(allow_null=True, help_text="Shared customers with the previously linked segment "
                                                                "over customers in either (null when created or linked by hand).")
    centroid_similarity = serializers.FloatField(allow_null=True, help_text="Cosine similarity of the two segments' "
                                                                            "z-score centres, mapped to 0-1.")
    score = serializers.FloatField(allow_null=True, help_text="Match score: 0.7 Jaccard + 0.3 centre similarity; "
                                                              "below 0.55 a publish flags the persona for review.")

    class Meta:
        model = PersonaLink
        fields = ["segment", "segment_name", "segment_index", "run", "run_published", "linked_at", "unlinked_at",
                  "size", "how", "jaccard", "centroid_similarity", "score"]
        read_only_fields = fields


class ReviewCandidateSerializer(serializers.Serializer):
    segment = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    jaccard = serializers.FloatField()
    centroid_similarity = serializers.FloatField(allow_null=True)
    score = serializers.FloatField()


class PersonaReviewSerializer(serializers.Serializer):
    run = serializers.IntegerField(help_text="The published run that had no close match.")
    from_segment = serializers.IntegerField()
    flagged_at = serializers.DateTimeField()
    threshold = serializers.FloatField()
    held_by = serializers.CharField(allow_null=True, required=False,
                                    help_text="The persona that took the closest segment, when that is why it needs review.")
    candidates = ReviewCandidateSerializer(many=True)


class PersonaSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:persona-detail")
    owner = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.filter(is_active=True),
                                         required=False, allow_null=True)
    channels = serializers.ListField(child=serializers.ChoiceField(choices=Persona.Channel.choices), required=False,
                                     help_text="Where to reach them.")
    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.select_related("run"), write_only=True,
        help_text="On create: the segment of the published run the persona describes.",
    )
    confirm_shared_segment = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text="On create: true to describe a segment another persona already describes. Without it such a "
                  "create is refused with 409 (code segment_held) naming the other persona.")
    description_stale = serializers.BooleanField(
        read_only=True, help_text="True when the persona moved to another segment after a person wrote its "
                                  "description: the text may no longer match the numbers (see suggested_description).")
    suggested_description = serializers.CharField(
        source="generated_description", read_only=True,
        help_text="The description written from the linked segment's profile; while the description is still this "
                  "text it follows each change of segment.")
    current_link = serializers.SerializerMethodField(help_text="The segment the persona follows now, with its match score.")
    review = serializers.SerializerMethodField(
        help_text="When needs_review: the best candidates of the run that had no close match.")

    class Meta:
        model = Persona
        fields = ["id", "url", "name", "description", "colour", "avatar", "goals", "pain_points", "channels", "notes",
                  "owner", "status", "needs_review", "review", "segment", "confirm_shared_segment", "description_stale",
                  "suggested_description", "current_link", "created_at", "updated_at"]
        read_only_fields = ["needs_review", "created_at", "updated_at"]
        extra_kwargs = {
            # the service checks these with messages meant for people; no duplicate checks here
            "name": {"validators": []},
            "colour": {"help_text": "#rrggbb", "required": False},
        }

    @extend_schema_field(PersonaLinkSerializer(allow_null=True))
    def get_current_link(self, persona):
        link = selectors.current_link(persona)
        return PersonaLinkSerializer(link).data if link else None

    @extend_schema_field(PersonaReviewSerializer(allow_null=True))
    def get_review(self, persona):
        return persona.review if persona.needs_review and persona.review else None

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            fields["segment"].required = False  # PATCH: the link changes by publishing or review
            fields["segment"].read_only = True
            fields["confirm_shared_segment"].read_only = True
        return fields


class PersonaSummarySerializer(PersonaSerializer):
    """A persona in the list: what an integration needs to find the members it pulls (id,
    name, the segment it follows now with its size and run), nothing of the marketing text;
    `get_persona` gives the whole record."""

    members_url = serializers.SerializerMethodField()

    class Meta(PersonaSerializer.Meta):
        fields = ["id", "url", "name", "colour", "channels", "status", "needs_review", "review", "current_link",
                  "members_url"]
        read_only_fields = fields

    def get_members_url(self, persona) -> str:
        return self.context["request"].build_absolute_uri(reverse("api:persona-members", args=[persona.pk]))


class SegmentHeld(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "segment_held"


class PersonaCursorPagination(CursorPagination):
    ordering = "name"


@extend_schema(tags=["personas"])
class PersonaViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Personas: named descriptions of a segment of the published run that follow it from
    run to run. Managers and Analysts read; Marketers create and change."""

    serializer_class = PersonaSerializer
    pagination_class = PersonaCursorPagination
    http_method_names = ["get", "post", "patch", "head", "options"]
    # the list also lets a membership integration find the personas it pulls (integrations.scopes)
    token_scopes = {"*": "personas:read", "list": ("personas:read", "membership:read"),
                    "create": "personas:write", "partial_update": "personas:write",
                    "members": "membership:read", "members_csv": "membership:read"}

    def get_queryset(self):
        return selectors.persona_list()

    def get_serializer_class(self):
        return PersonaSummarySerializer if self.action == "list" else PersonaSerializer

    def list(self, request, *args, **kwargs):
        """The personas, by name: ids, names and the segment each follows now (run, size, match
        score). A `membership:read` token may list them to find what to pull; the whole record
        (description, goals, owner...) is `get_persona`'s."""
        return super().list(request, *args, **kwargs)

    def get_permissions(self):
        needed = {"create": roles.ADD_PERSONA, "partial_update": roles.CHANGE_PERSONA}.get(
            self.action, roles.VIEW_PERSONAS)
        return [require(needed)()]

    @extend_schema(responses={
        201: PersonaSerializer,
        409: OpenApiResponse(description="The segment is already described by another persona "
                                                          "(code segment_held; the message names it). Send "
                                                          "confirm_shared_segment: true to create it anyway."),
    })
    def create(self, request, *args, **kwargs):
        """Create a persona from a segment of the published run."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        confirm = data.pop("confirm_shared_segment", False)
        try:
            persona = services.persona_create(by=request.user, confirm_shared=confirm, **data)
        except services.SegmentHeldError as exc:
            raise SegmentHeld(" ".join(exc.messages) + " Send confirm_shared_segment: true to create it anyway.") from exc
        persona = selectors.persona_get(pk=persona.pk)
        return Response(self.get_serializer(persona).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        """Change some of a persona's fields; every change is kept in its history."""
        persona = self.get_object()
        serializer = self.get_serializer(persona, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.persona_update(persona=persona, by=request.user, **serializer.validated_data)
        return Response(self.get_serializer(selectors.persona_get(pk=persona.pk)).data)

    @membership.members_schema(
        "PersonaMemberPage",
        "Customers of the persona: those of the segment it is linked to now (in the published run, unless "
        "its re-link awaits review: `run_published` says), or as_of a moment (the segment it was linked to "
        "then). Stable across runs: an integration follows the persona, not a run's segment. Cursor pages in "
        "customer-id order pin the run the pull started on. changed_since=<run id or timestamp>: who joined "
        "and who left since. The whole set as CSV: export_persona_members_csv.",
        meta={"persona": serializers.IntegerField(), "run": serializers.IntegerField(allow_null=True),
              "segment": serializers.IntegerField(allow_null=True),
              "run_published": serializers.BooleanField(allow_null=True)},
        operation_id="list_persona_members",
    )
    @action(detail=True, methods=["get"], **membership.JSON_ONLY)
    def members(self, request, pk=None):
        return membership.members_response(request, pull=self._member_pull(request, pk),
                                           owner={"persona": int_or_404(pk)})

    @membership.members_csv_schema(
        "The persona's members (as list_persona_members, with fields, as_of and changed_since) as one streamed "
        "CSV, no pages (COPY on PostgreSQL).",
        operation_id="export_persona_members_csv",
    )
    @action(detail=True, methods=["get"], **membership.CSV_ONLY)
    def members_csv(self, request, pk=None):
        return membership.members_csv_response(request, pull=self._member_pull(request, pk),
                                               filename=f"persona-{pk}-members.csv")

    @staticmethod
    def _member_pull(request, pk):
        def pull():
            persona = get_object_or_404(Persona, pk=int_or_404(pk))
            as_of, changed_since = membership.points(request)
            return selectors.persona_pull(persona=persona, as_of=as_of, changed_since=changed_since)

        return pull
