from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from custseg_site.api import require
from custseg_site.csv_export import csv_response
from customers import selectors
from customers.api.serializers import ImportCreateSerializer, ImportJobSerializer
from customers.importing.mapping import MappingError, parse_map_options
from customers.importing.sources import Source, SourceError
from customers.importing.validate import ImportOptions
from customers.services import imports

RUN_IMPORT = "customers.run_import"
VIEW_IMPORTS = "customers.view_importjob"


class ImportPagination(CursorPagination):
    ordering = "-id"


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Imports of customers and transactions files."""

    serializer_class = ImportJobSerializer
    pagination_class = ImportPagination
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.import_list()

    def get_permissions(self):
        return [require(RUN_IMPORT if self.action == "create" else VIEW_IMPORTS)()]

    @extend_schema(request={"multipart/form-data": ImportCreateSerializer}, responses={202: ImportJobSerializer})
    def create(self, request):
        """Upload a file; returns 202 with the import at once. Poll its URL for progress."""
        options = ImportCreateSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        data = options.validated_data
        path = imports.import_store_upload(data["file"])
        try:
            header = Source(path).info.header
            overrides = parse_map_options([f"{k}={v}" for k, v in data["mapping"].items()], header, data["kind"])
            job = imports.import_create(
                kind=data["kind"], upload_path=path, original_name=data["file"].name,
                overrides=overrides, created_by=request.user,
                options=ImportOptions(dayfirst=data["dayfirst"], decimal_comma=data["decimal_comma"],
                                      units=data["units"], anonymous=data["anonymous"]),
            )
        except (SourceError, MappingError) as error:
            raise ValidationError({"file": [str(error)]}) from error
        finally:
            path.unlink(missing_ok=True)
        body = ImportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="rejected")
    def rejected(self, request, pk=None):
        """The rejected rows as CSV: line, reason, the row as read."""
        job = self.get_object()
        return csv_response(f"import-{job.pk}-rejected.csv", ["line", "reason", "row"], selectors.import_rejected_rows(job=job))
