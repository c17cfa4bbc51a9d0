from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from custseg_site import roles
from custseg_site.api import require
from customers.selectors import feature_catalogue
from segments import selectors, services
from segments.api.serializers import (
    FeatureSerializer,
    MemberSerializer,
    RunCreateSerializer,
    RunDetailSerializer,
    RunSerializer,
    SegmentSerializer,
)
from segments.models import Segment


class RunCursorPagination(CursorPagination):
    ordering = "-id"


class MemberCursorPagination(CursorPagination):
    ordering = "id"
    page_size = 1000
    page_size_query_param = "page_size"
    max_page_size = 10_000


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Segmentation runs: start one, follow its progress, read its segments, publish it."""

    pagination_class = RunCursorPagination

    def get_queryset(self):
        return selectors.run_list()

    def get_permissions(self):
        needed = {
            "create": roles.START_RUN, "cancel": roles.START_RUN, "publish": roles.PUBLISH_RUN,
        }.get(self.action, roles.VIEW_RUNS)
        return [require(needed)()]

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
            run = services.run_publish(run=run)
        except services.PublishError as exc:
            raise ValidationError({"status": [str(exc)]}) from exc
        return Response(RunSerializer(run, context={"request": request}).data)

    @extend_schema(request=None, responses={200: RunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a pending or running run."""
        run = self.get_object()
        if not services.run_cancel(run=run):
            raise ValidationError({"status": [f"The run is already {run.status}."]})
        run.refresh_from_db()
        return Response(RunSerializer(run, context={"request": request}).data)


class SegmentViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Segments of a run and their members."""

    queryset = Segment.objects.all()
    serializer_class = SegmentSerializer

    def get_permissions(self):
        return [require(roles.VIEW_RUNS)()]

    @extend_schema(responses={200: MemberSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=MemberCursorPagination)
    def members(self, request, pk=None):
        """External ids of the customers in this segment, cursor-paginated (page_size up to 10,000)."""
        segment = get_object_or_404(Segment, pk=pk)
        queryset = selectors.segment_members(segment=segment).only("id", "external_id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(MemberSerializer(page, many=True).data)


class FeatureListView(APIView):
    """The features a run can use."""

    def get_permissions(self):
        return [require(roles.VIEW_RUNS)()]

    @extend_schema(responses={200: FeatureSerializer(many=True)})
    def get(self, request):
        return Response(FeatureSerializer(feature_catalogue().values(), many=True).data)
