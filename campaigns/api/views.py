"""Campaigns over the API. Reads for every role; Marketers create, change, launch, delete
drafts and import outcomes (a file in the background, a short JSON list at once), follow and
cancel the imports. Writes go through campaigns.services, like the pages."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from campaigns import selectors, services
from campaigns.api.serializers import (
    CampaignResultsSerializer,
    CampaignSerializer,
    OutcomeImportSerializer,
    OutcomeRowSerializer,
    OutcomeUploadSerializer,
)
from campaigns.exports import rejected_rows_response
from campaigns.models import Campaign, OutcomeImport
from campaigns.permissions import ADD_CAMPAIGN, CHANGE_CAMPAIGN, DELETE_CAMPAIGN, VIEW_CAMPAIGN
from campaigns.services.outcome_imports import (
    outcome_import_cancel,
    outcome_import_create,
    outcome_import_json,
    outcome_store_upload,
)
from custseg_site.api import CSV_DOWNLOAD, CursorPagination, int_or_404, require
from segments.api import membership


class CampaignCursorPagination(CursorPagination):
    ordering = "-created_at"


INCLUDE_CONTROL = OpenApiParameter(
    "include_control", bool, description="Also list the holdout (is_control true); by default it is left out, as it "
                                         "must not be contacted. A cursor keeps its first page's choice: a different "
                                         "one next to it is a 400.")


def _include_control(request) -> bool:
    return request.query_params.get("include_control", "").lower() in ("1", "true", "yes")


@extend_schema(tags=["campaigns"])
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Campaigns aimed at personas and segments of the published run. Launching freezes
    the audience and sets aside a random holdout per persona."""

    serializer_class = CampaignSerializer
    pagination_class = CampaignCursorPagination
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    queryset = Campaign.objects.none()  # for the schema; get_queryset reads through selectors
    # scoped integration tokens (integrations.scopes): an audience pull is a membership read
    token_scopes = {"*": "campaigns:read", "create": "campaigns:write", "partial_update": "campaigns:write",
                    "destroy": "campaigns:write", "launch": "campaigns:write", "outcomes": "campaigns:write", "members": "membership:read",
                    "members_csv": "membership:read"}

    def get_queryset(self):
        return selectors.campaign_list()

    def get_permissions(self):
        needed = {"create": ADD_CAMPAIGN, "partial_update": CHANGE_CAMPAIGN, "destroy": DELETE_CAMPAIGN,
                  "launch": CHANGE_CAMPAIGN, "outcomes": CHANGE_CAMPAIGN}.get(self.action, VIEW_CAMPAIGN)
        return [require(needed)()]

    def create(self, request, *args, **kwargs):
        """Create a draft campaign."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if data.pop("status", Campaign.Status.DRAFT) != Campaign.Status.DRAFT:
            raise ValidationError({"status": ["A new campaign is a draft; launch it to schedule or start it."]})
        campaign = services.campaign_create(created_by=request.user, **data)
        return Response(self.get_serializer(selectors.campaign_get(pk=campaign.pk)).data,
                        status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        """Change some fields. After launch the audience (targets, exclusions, holdout, seed) is fixed."""
        campaign = self.get_object()
        serializer = self.get_serializer(campaign, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.campaign_update(campaign=campaign, by=request.user, **serializer.validated_data)
        return Response(self.get_serializer(selectors.campaign_get(pk=campaign.pk)).data)

    @extend_schema(responses={
        204: OpenApiResponse(description="Deleted: the campaign was a draft."),
        400: OpenApiResponse(description="The campaign was launched: it is kept, with its audience and outcomes."),
    })
    def destroy(self, request, *args, **kwargs):
        """Delete a draft campaign, one never launched. A launched campaign is refused (400)."""
        services.campaign_delete(campaign=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        """Freeze the audience from the published run's memberships and set aside the holdout.
        A campaign is launched once."""
        campaign = services.campaign_launch(campaign=self.get_object(), by=request.user)
        return Response(self.get_serializer(selectors.campaign_get(pk=campaign.pk)).data)

    @extend_schema(responses={200: CampaignResultsSerializer})
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        """Reach, response and conversion rates, revenue, average order value and lift over the
        holdout (two-proportion z-test, 95 % intervals), for the campaign and per persona."""
        results = selectors.campaign_results(campaign=self.get_object())
        return Response(CampaignResultsSerializer(results).data)

    @membership.members_schema(
        "CampaignAudiencePage",
        "The campaign's frozen audience (who was targeted at launch, through which persona or segment) in "
        "customer-id order, cursor-paginated like persona and segment members: fields= chooses the fields "
        f"(default {', '.join(selectors.AUDIENCE_FIELDS)}; also the customer fields). The whole audience as "
        "CSV: export_campaign_audience_csv. The holdout is left out unless include_control=true: it must not be "
        "contacted.",
        meta={"campaign": drf_serializers.IntegerField(), "include_control": drf_serializers.BooleanField()},
        extra_parameters=[INCLUDE_CONTROL],
        delta=False,
        operation_id="list_campaign_audience",
    )
    @action(detail=True, methods=["get"], **membership.JSON_ONLY)
    def members(self, request, pk=None):
        # a cursor keeps the holdout choice of its first page: a different one next to it is a 400
        given = {"include_control": _include_control(request)} if "include_control" in request.query_params else {}
        return membership.members_response(request, pull=self._audience_pull(request, pk),
                                           owner={"campaign": int_or_404(pk)}, delta=False, pinned=given)

    @membership.members_csv_schema(
        "The frozen audience (as list_campaign_audience, with fields and include_control) as one streamed CSV, "
        "no pages.",
        extra_parameters=[INCLUDE_CONTROL],
        delta=False,
        operation_id="export_campaign_audience_csv",
    )
    @action(detail=True, methods=["get"], **membership.CSV_ONLY)
    def members_csv(self, request, pk=None):
        suffix = "-with-control" if _include_control(request) else ""
        return membership.members_csv_response(request, pull=self._audience_pull(request, pk),
                                               filename=f"campaign-{pk}-members{suffix}.csv", delta=False)

    @staticmethod
    def _audience_pull(request, pk):
        def pull():
            campaign = get_object_or_404(Campaign, pk=int_or_404(pk))
            return selectors.audience_pull(campaign=campaign, include_control=_include_control(request))

        return pull

    @extend_schema(
        request={"application/json": OutcomeRowSerializer(many=True), "multipart/form-data": OutcomeUploadSerializer},
        responses={201: OpenApiResponse(OutcomeImportSerializer, description="A JSON list, imported: the report."),
                   202: OpenApiResponse(OutcomeImportSerializer, description="A file, accepted: the import "
                                        "runs in the background; poll its url (also in Location).")},
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, MultiPartParser])
    def outcomes(self, request, pk=None):
        """Import responses and conversions. A file (multipart field “file”: CSV, gzip-compressed
        CSV or XLSX) is checked (header, required columns), then imported in the background:
        202 with the import to poll. A JSON list of {customer, event, revenue, timestamp} of up to 10,000 rows is
        imported at once: 201 with the report; a longer list is refused (400): upload it as a
        file. Either way every row is added, found already recorded, or rejected with its
        line and reason, and the outcomes are added all at once when the import succeeds."""
        campaign = self.get_object()
        context = {"request": request}
        if isinstance(request.data, list):
            report = outcome_import_json(campaign=campaign, rows=request.data, by=request.user)
            return Response(OutcomeImportSerializer(report, context=context).data, status=status.HTTP_201_CREATED)
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"non_field_errors": ["Send a JSON list of outcomes or a file (CSV, gzip CSV or XLSX) in the field "
                                                        "“file”."]})
        path = outcome_store_upload(upload)
        try:
            job = outcome_import_create(campaign=campaign, path=path, file_name=upload.name,
                                                 source=OutcomeImport.Source.API, by=request.user)
        except DjangoValidationError:
            path.unlink(missing_ok=True)
            raise
        body = OutcomeImportSerializer(job, context=context).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})


@extend_schema(tags=["campaigns"])
class OutcomeImportViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Outcome imports of campaigns: status and progress while they run, then the report;
    every rejected row as CSV; cancel."""

    serializer_class = OutcomeImportSerializer
    token_scopes = {"*": "campaigns:read", "cancel": "campaigns:write"}

    def get_queryset(self):
        return selectors.outcome_import_list()

    def get_permissions(self):
        return [require(CHANGE_CAMPAIGN if self.action == "cancel" else VIEW_CAMPAIGN)()]

    def retrieve(self, request, *args, **kwargs):
        """Status, progress and stage while pending or running; then rows = added +
        duplicates + rejected, rejections per reason and the first rejected rows."""
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: OutcomeImportSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a pending or running import: nothing from it is kept. 400 once it has finished."""
        job = self.get_object()
        if not outcome_import_cancel(outcome_import=job):
            job.refresh_from_db()
            raise ValidationError({"status": [f"The import has already finished ({job.status})."]})
        job.refresh_from_db()
        return Response(self.get_serializer(job).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], **CSV_DOWNLOAD)
    def rejected(self, request, pk=None):
        """Every rejected row as CSV, in file order: line, reason, then the row's cells under
        the file's header (formula-like cells neutralised)."""
        return rejected_rows_response(self.get_object())
