from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import selectors
from customers.api.serializers import (
    CustomerDetailSerializer,
    FeatureComputeSerializer,
    FeatureSnapshotSerializer,
    ImportCreateSerializer,
    ImportJobSerializer,
    ImportPresetSerializer,
)
from customers.importing.mapping import MappingError, parse_map_options
from customers.importing.sources import Source, SourceError
from customers.importing.validate import ImportOptions
from customers.models import Customer, FeatureSnapshot, ImportPreset
from customers.services import imports
from customers.services.features import features_compute_create
from customers.services.presets import preset_delete, preset_find, preset_options, preset_overrides, preset_save
from custseg_site import roles
from custseg_site.api import CSV_DOWNLOAD, CursorPagination, require
from custseg_site.csv_export import csv_response
from segments.selectors import customer_published_segment

RUN_IMPORT = "customers.run_import"
VIEW_IMPORTS = "customers.view_importjob"


class ImportPagination(CursorPagination):
    ordering = "-id"


@extend_schema(tags=["imports"])
class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Imports of customers and transactions files."""

    serializer_class = ImportJobSerializer
    pagination_class = ImportPagination
    token_scopes = {"*": "customers:read", "create": "customers:write", "cancel": "customers:write"}
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.import_list()

    def get_permissions(self):
        return [require(RUN_IMPORT if self.action in ("create", "cancel") else VIEW_IMPORTS)()]

    @extend_schema(request={"multipart/form-data": ImportCreateSerializer}, responses={202: ImportJobSerializer})
    def create(self, request):
        """Upload a file; returns 202 with the import at once. Poll its URL for progress."""
        options = ImportCreateSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        data = options.validated_data
        path = imports.import_store_upload(data["file"])
        try:
            with transaction.atomic():
                preset = preset_find(name_or_id=data["preset"], kind=data["kind"]) if data["preset"].strip() else None
                header = Source(path).info.header
                overrides = parse_map_options([f"{k}={v}" for k, v in data["mapping"].items()], header, data["kind"])
                import_options = preset_options(
                    preset, dayfirst=data["dayfirst"], decimal_comma=data["decimal_comma"],
                    units=data["units"], anonymous=data["anonymous"],
                )
                if data["save_preset"].strip():
                    mapping = preset_overrides(preset, header, overrides) if preset else overrides
                    preset = preset_save(name=data["save_preset"], kind=data["kind"], mapping=mapping,
                                         options=import_options, created_by=request.user)
                job = imports.import_create(
                    kind=data["kind"], upload_path=path, original_name=data["file"].name,
                    overrides=overrides, created_by=request.user, options=import_options, preset=preset,
                )
        except (SourceError, MappingError) as error:
            raise ValidationError({"file": [str(error)]}) from error
        finally:
            path.unlink(missing_ok=True)
        body = ImportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})

    @extend_schema(request=None, responses={200: ImportJobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a pending or running import; nothing from it is kept."""
        job = self.get_object()
        if not imports.import_cancel(job=job):
            job.refresh_from_db()
            raise ValidationError({"status": [f"The import has already finished ({job.status})."]})
        job.refresh_from_db()
        return Response(ImportJobSerializer(job, context={"request": request}).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="rejected", **CSV_DOWNLOAD)
    def rejected(self, request, pk=None):
        """The rejected rows as CSV: line, reason, the row as read."""
        job = self.get_object()
        return csv_response(f"import-{job.pk}-rejected.csv", ["line", "reason", "row"], selectors.import_rejected_rows(job=job))


@extend_schema(tags=["imports"])
class ImportPresetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Saved column mappings and reading options, by kind. Creating one with the name of an
    existing preset of the same kind replaces it."""

    serializer_class = ImportPresetSerializer
    pagination_class = None  # a team keeps a handful
    token_scopes = {"*": "customers:read", "create": "customers:write", "destroy": "customers:write"}
    queryset = ImportPreset.objects.select_related("created_by")

    def get_permissions(self):
        return [require(RUN_IMPORT if self.action in ("create", "destroy") else VIEW_IMPORTS)()]

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        preset = preset_save(
            name=data["name"], kind=data["kind"], mapping=data["mapping"], created_by=request.user,
            options=ImportOptions(dayfirst=data.get("dayfirst"), decimal_comma=data.get("decimal_comma", False),
                                  units=data["units"], anonymous=data["anonymous"]),
        )
        return Response(self.get_serializer(preset).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        preset_delete(preset=instance)


@extend_schema(tags=["features"])
class FeatureSnapshotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Feature snapshots: the job that computes every customer's features, RFM and lifetime
    value, and what it found (fitted model parameters, RFM segment counts)."""

    serializer_class = FeatureSnapshotSerializer
    pagination_class = ImportPagination
    token_scopes = "customers:read"
    queryset = FeatureSnapshot.objects.select_related("created_by")

    def get_permissions(self):
        return [require(roles.VIEW_FEATURES)()]

    @extend_schema(responses={200: FeatureSnapshotSerializer,
                              404: OpenApiResponse(description="No features have been computed yet.")})
    @action(detail=False, methods=["get"])
    def current(self, request):
        """The snapshot that pages and the API read now (the newest that succeeded)."""
        snapshot = selectors.feature_snapshot_current()
        if snapshot is None:
            raise NotFound("No features have been computed yet. POST /api/v1/features/compute/ to compute them.")
        return Response(self.get_serializer(snapshot).data)


@extend_schema(tags=["features"])
class FeatureComputeView(APIView):
    """Compute every customer's features now, in the background: 202 with the snapshot to poll.
    While one is pending or running, that one is returned."""

    token_scopes = "customers:write"

    def get_permissions(self):
        return [require(roles.COMPUTE_FEATURES)()]

    @extend_schema(operation_id="compute_features", request=FeatureComputeSerializer,
                   responses={202: FeatureSnapshotSerializer})
    def post(self, request):
        options = FeatureComputeSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        snapshot = features_compute_create(as_of=options.validated_data["as_of"], trigger="api", created_by=request.user)
        body = FeatureSnapshotSerializer(snapshot, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})


@extend_schema(tags=["customers"])
class CustomerViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One customer by external id: record, current features, RFM, lifetime value, the segment
    in the published run and its personas."""

    serializer_class = CustomerDetailSerializer
    # where a customer is (persona, segment) is membership; an integration syncing a
    # persona looks customers up one by one, so membership:read covers this lookup
    token_scopes = "membership:read"
    queryset = Customer.objects.all()
    lookup_field = "external_id"
    lookup_value_regex = "[^/]+"

    def get_permissions(self):
        return [require(roles.VIEW_CUSTOMERS)()]

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "kwargs", None) and "external_id" in self.kwargs:
            customer = self.get_object_cached()
            segment, personas = customer_published_segment(customer_id=customer.pk)
            context.update(features=selectors.customer_features_current(customer_id=customer.pk),
                           segment=segment, personas=personas)
        return context

    def get_object_cached(self):
        if not hasattr(self, "_customer"):
            self._customer = get_object_or_404(Customer, external_id=self.kwargs["external_id"])
        return self._customer

    def get_object(self):
        return self.get_object_cached()
