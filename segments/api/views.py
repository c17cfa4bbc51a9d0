from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.selectors import feature_catalogue
from custseg_site import roles
from custseg_site.api import CursorPagination, int_or_404, require
from segments import selectors, services
from segments.api import membership
from segments.api.publish_preview import PublishPreviewSerializer, preview_data
from segments.api.serializers import (
    AssignRequestSerializer,
    AssignResponseSerializer,
    FeatureSerializer,
    RunComparisonSerializer,
    RunCreateSerializer,
    RunDetailSerializer,
    RunSerializer,
    SegmentListItemSerializer,
    SegmentSerializer,
)
from segments.models import Segment, SegmentationRun
from segments.personas import previews


class RunCursorPagination(CursorPagination):
    ordering = "-id"


@extend_schema(tags=["runs"])
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Segmentation runs: start one, follow its progress, read its segments, publish it."""

    pagination_class = RunCursorPagination
    token_scopes = {"*": "runs:read", "create": "runs:write", "cancel": "runs:write", "publish": "runs:write",
                    "assign": "runs:write", "assign_published": "runs:write"}

    def get_queryset(self):
        return selectors.run_list()

    def get_permissions(self):
        needed = {
            "create": roles.START_RUN, "cancel": roles.START_RUN, "publish": roles.PUBLISH_RUN,
            "publish_preview": roles.PUBLISH_RUN,
        }.get(self.action, roles.VIEW_RUNS)
        return [require(needed)()]

    @extend_schema(
        parameters=[OpenApiParameter("other", int, required=True, description="The run to compare with.")],
        responses={200: RunComparisonSerializer},
    )
    @action(detail=True, methods=["get"])
    def compare(self, request, pk=None):
        """Compare with another finished run: adjusted Rand index over the customers in both,
        and the migration matrix (customers in segment i of this run and segment j of the other)."""
        run = self.get_object()
        other_id = request.query_params.get("other", "")
        if not other_id.isdecimal():
            raise ValidationError({"other": ["Give the id of the run to compare with: ?other=<run id>."]})
        other = get_object_or_404(selectors.run_list(), pk=int(other_id))
        for candidate in (run, other):
            if candidate.status != SegmentationRun.Status.SUCCEEDED:
                raise ValidationError({"other": [f"Run #{candidate.pk} is {candidate.status}; only finished runs can be compared."]})
        return Response(selectors.run_comparison(run_a=run, run_b=other))

    @extend_schema(request=AssignRequestSerializer, responses={200: AssignResponseSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Assign customers to this run's segments with the run's stored preprocessing and
        model: existing customers by external id, or new ones by their feature values."""
        return _assign(request, self.get_object())

    @extend_schema(request=AssignRequestSerializer, responses={200: AssignResponseSerializer})
    @action(detail=False, methods=["post"], url_path="published/assign")
    def assign_published(self, request):
        """Assign customers to the segments of the published run (see /runs/{id}/assign/)."""
        run = selectors.published_run()
        if run is None:
            raise ValidationError({"run": ["No run is published yet. Publish a finished run first."]})
        return _assign(request, run)

    def get_serializer_class(self):
        if self.action == "create":
            return RunCreateSerializer
        return RunDetailSerializer if self.action == "retrieve" else RunSerializer

    @extend_schema(request=RunCreateSerializer, responses={202: RunSerializer})
    def create(self, request):
        """Start a run. Returns 202 at once; a worker computes it. Poll the run's URL."""
        options = RunCreateSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        run = services.run_create(**options.validated_data, created_by=request.user)
        body = RunSerializer(run, context={"request": request}).data
        # str(): the url is DRF's Hyperlink, which WSGI servers refuse as a header value.
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})

    @extend_schema(request=None, responses={200: RunSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Make this run the published one (what dashboards and membership reads use)."""
        run = self.get_object()
        try:
            run = services.run_publish(run=run, by=request.user)
        except services.PublishError as exc:
            raise ValidationError({"status": [str(exc)]}) from exc
        return Response(RunSerializer(run, context={"request": request}).data)

    @extend_schema(responses={200: PublishPreviewSerializer})
    @action(detail=True, methods=["get"], url_path="publish-preview")
    def publish_preview(self, request, pk=None):
        """What publishing this run would do, without doing it: personas re-linked (to which
        segment, with what score), personas going to review, webhooks told, campaigns aimed
        at them. The plan the publish then applies."""
        run = self.get_object()
        if run.status != SegmentationRun.Status.SUCCEEDED or run.published:
            raise ValidationError({"status": ["This run is already the published one." if run.published else
                                              f"Only a finished run can be published; this one is {run.status}."]})
        return Response(PublishPreviewSerializer(preview_data(previews.publish_preview(run=run))).data)

    @extend_schema(request=None, responses={200: RunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a pending or running run."""
        run = self.get_object()
        if not services.run_cancel(run=run):
            raise ValidationError({"status": [f"The run is already {run.status}."]})
        run.refresh_from_db()
        return Response(RunSerializer(run, context={"request": request}).data)


def _assign(request, run):
    body = AssignRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    try:
        results = services.customers_assign(
            run=run, external_ids=body.validated_data.get("external_ids"), rows=body.validated_data.get("rows"),
        )
    except services.AssignError as exc:
        raise ValidationError({"detail": [str(exc)]}) from exc
    return Response({"run": run.pk, "results": results})


@extend_schema(tags=["segments"])
class SegmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Segments of a run and their members."""

    queryset = Segment.objects.all()
    serializer_class = SegmentSerializer
    pagination_class = None  # one run's segments: at most ml.MAX_K (50)
    # the list also lets a membership integration find the segments it pulls (integrations.scopes)
    token_scopes = {"*": "runs:read", "list": ("runs:read", "membership:read"), "members": "membership:read",
                    "members_csv": "membership:read"}

    def get_permissions(self):
        return [require(roles.VIEW_RUNS)()]

    @extend_schema(
        parameters=[OpenApiParameter("run", int, description="The run whose segments to list (default: the "
                                                             "published run; none published: an empty list).")],
        responses={200: SegmentListItemSerializer(many=True)},
    )
    def list(self, request):
        """One run's segments, in index order (a run has at most 50, so no pages): id, name,
        size, run; what an integration needs to pick the segment to pull. The profile and
        rules are on each segment's own page (GET /api/v1/segments/{id}/)."""
        value = request.query_params.get("run", "")
        if value and not value.isdecimal():
            raise ValidationError({"run": ["Give a run id (a number), or leave run out for the published run."]})
        segments = selectors.segment_list(run_id=int(value) if value else None)
        return Response(SegmentListItemSerializer(segments, many=True, context={"request": request}).data)

    @membership.members_schema(
        "SegmentMemberPage",
        "Customers in this segment, cursor-paginated in customer-id order (page_size up to 10,000), with "
        "selectable fields. A run's memberships never change once written: as_of a moment before the run "
        "finished gives nobody, after it everyone. changed_since=<run id or timestamp>: who joined and who "
        "left compared with the segment's predecessor in that run (the one sharing the most customers; for a "
        "timestamp, in the run published then). The whole set as CSV: export_segment_members_csv.",
        meta={"segment": serializers.IntegerField(), "run": serializers.IntegerField()},
        operation_id="list_segment_members",
    )
    @action(detail=True, methods=["get"], **membership.JSON_ONLY)
    def members(self, request, pk=None):
        return membership.members_response(request, pull=self._member_pull(request, pk),
                                           owner={"segment": int_or_404(pk)})

    @membership.members_csv_schema(
        "The segment's members (as list_segment_members, with fields, as_of and changed_since) as one streamed "
        "CSV, no pages (COPY on PostgreSQL).",
        operation_id="export_segment_members_csv",
    )
    @action(detail=True, methods=["get"], **membership.CSV_ONLY)
    def members_csv(self, request, pk=None):
        return membership.members_csv_response(request, pull=self._member_pull(request, pk),
                                               filename=f"segment-{pk}-members.csv")

    @staticmethod
    def _member_pull(request, pk):
        def pull():
            segment = get_object_or_404(Segment.objects.select_related("run"), pk=int_or_404(pk))
            as_of, changed_since = membership.points(request)
            return selectors.segment_pull(segment=segment, as_of=as_of, changed_since=changed_since)

        return pull


@extend_schema(tags=["features"])
class FeatureListView(APIView):
    """The features a run can use."""

    token_scopes = "runs:read"

    def get_permissions(self):
        return [require(roles.VIEW_RUNS)()]

    @extend_schema(operation_id="list_features", responses={200: FeatureSerializer(many=True)})
    def get(self, request):
        return Response(FeatureSerializer(feature_catalogue().values(), many=True).data)
