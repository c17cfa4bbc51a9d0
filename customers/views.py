from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from custseg_site.csv_export import csv_response
from customers import selectors
from customers.forms import ImportConfirmForm, ImportUploadForm
from customers.importing.validate import ImportOptions
from customers.models import ImportJob
from customers.services import imports

RUN_IMPORT = "customers.run_import"
VIEW_IMPORTS = "customers.view_importjob"
PREVIEW_ROWS = 10


@login_required
@permission_required(VIEW_IMPORTS, raise_exception=True)
def import_list(request):
    page = Paginator(selectors.import_list(), 25).get_page(request.GET.get("page"))
    return render(request, "customers/import_list.html", {"page": page})


def _pending_path(token: str) -> Path:
    return imports.import_dir() / f"pending-{token}"


@login_required
@permission_required(RUN_IMPORT, raise_exception=True)
def import_create(request):
    """Step 1: upload. Step 2: confirm the detected mapping against a preview."""
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        kind, uploaded = form.cleaned_data["kind"], form.cleaned_data["file"]
        path = imports.import_store_upload(uploaded)
        try:
            source, mapping = imports.import_inspect(path=path, kind=kind)
        except ValidationError as error:
            path.unlink(missing_ok=True)
            _add_errors(form, error)
        else:
            from customers.importing.sources import Source

            token = path.name.removeprefix("upload-")
            source = Source(path.rename(_pending_path(token)))
            confirm = ImportConfirmForm(
                initial={"token": token, "original_name": uploaded.name, "kind": kind},
                header=source.info.header,
                mapping={"fields": mapping.fields, "attributes": mapping.attributes},
                unit_hints=mapping.unit_hints,
            )
            return _render_confirm(request, confirm, source, kind, uploaded.name)
    status = 400 if request.method == "POST" else 200
    return render(request, "customers/import_upload.html", {"form": form}, status=status)


def _render_confirm(request, form, source, kind, name, status=200):
    preview = source.preview(PREVIEW_ROWS)
    context = {
        "form": form, "kind": kind, "name": name, "info": source.info,
        "preview_rows": preview.astype(object).where(preview.notna(), "").values.tolist(),
    }
    return render(request, "customers/import_confirm.html", context, status=status)


def _confirm(request):
    from customers.importing.sources import Source, SourceError

    token = request.POST.get("token", "")
    path = _pending_path(token) if len(token) == 32 and token.isalnum() else None
    if path is None or not path.exists():
        messages.error(request, "That upload has expired. Please upload the file again.")
        return redirect("customers:import-create")
    try:
        source = Source(path)
    except SourceError as error:
        messages.error(request, str(error))
        return redirect("customers:import-create")
    form = ImportConfirmForm(request.POST, header=source.info.header, unit_hints=_unit_hints(source, request.POST))
    if form.is_valid():
        try:
            job = imports.import_create(
                kind=form.cleaned_data["kind"], upload_path=path, original_name=form.cleaned_data["original_name"],
                overrides=form.overrides(), created_by=request.user,
                options=ImportOptions(dayfirst=form.cleaned_data["dayfirst"],
                                      decimal_comma=form.cleaned_data["decimal_comma"],
                                      units=form.units(), anonymous=form.cleaned_data["anonymous"]),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            path.unlink(missing_ok=True)
            messages.success(request, f"Import #{job.pk} started. It runs in the background.")
            return redirect("customers:import-detail", pk=job.pk)
    return _render_confirm(request, form, source, request.POST.get("kind", ""), request.POST.get("original_name", ""), 400)


def _unit_hints(source, data):
    from customers.importing.mapping import KINDS, detect_mapping

    kind = data.get("kind")
    return detect_mapping(source.info.header, kind).unit_hints if kind in KINDS else {}


def _add_errors(form, error: ValidationError):
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
@permission_required(VIEW_IMPORTS, raise_exception=True)
def import_detail(request, pk):
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    reasons = list(job.report.get("rejected_by_reason", {}).items())
    missing = sorted(job.report.get("missing_by_column", {}).items(), key=lambda item: -item[1])
    return render(request, "customers/import_detail.html", {"job": job, "reasons": reasons, "missing": missing})


@login_required
@permission_required(VIEW_IMPORTS, raise_exception=True)
def import_rejected_csv(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    return csv_response(f"import-{job.pk}-rejected.csv", ["line", "reason", "row"], selectors.import_rejected_rows(job=job))
