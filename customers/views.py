from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from custseg_site.csv_export import csv_response
from customers import selectors
from customers.forms import ImportConfirmForm, ImportUploadForm
from customers.importing.validate import ImportOptions
from customers.models import ImportJob, ImportPreset
from customers.services import imports
from customers.services.presets import preset_delete, preset_options, preset_save

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
        preset = form.cleaned_data["preset"]
        path = imports.import_store_upload(uploaded)
        try:
            source, mapping = imports.import_inspect(path=path, kind=kind, preset=preset)
        except ValidationError as error:
            path.unlink(missing_ok=True)
            _add_errors(form, error)
        else:
            from customers.importing.sources import Source

            token = path.name.removeprefix("upload-")
            source = Source(path.rename(_pending_path(token)))
            options = preset_options(preset)
            confirm = ImportConfirmForm(
                initial={"token": token, "original_name": uploaded.name, "kind": kind,
                         "preset": preset.pk if preset else None, "dayfirst": options.dayfirst,
                         "decimal_comma": options.decimal_comma, "anonymous": options.anonymous,
                         "save_preset": preset.name if preset else ""},
                header=source.info.header,
                mapping={"fields": mapping.fields, "attributes": mapping.attributes},
                unit_hints=_unit_choices(mapping.unit_hints, preset),
                units_on=set(options.units) if preset else None,
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
        data = form.cleaned_data
        options = ImportOptions(dayfirst=data["dayfirst"], decimal_comma=data["decimal_comma"],
                                units=form.units(), anonymous=data["anonymous"])
        try:
            with transaction.atomic():
                preset = data["preset"]
                if data["save_preset"].strip():
                    preset = preset_save(name=data["save_preset"], kind=data["kind"], mapping=form.overrides(),
                                         options=options, created_by=request.user)
                job = imports.import_create(
                    kind=data["kind"], upload_path=path, original_name=data["original_name"],
                    overrides=form.overrides(), created_by=request.user, options=options, preset=preset,
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
    if kind not in KINDS:
        return {}
    preset_id = data.get("preset") or ""
    preset = ImportPreset.objects.filter(pk=preset_id).first() if preset_id.isdigit() else None
    return _unit_choices(detect_mapping(source.info.header, kind).unit_hints, preset)


def _unit_choices(hints: dict[str, int], preset) -> dict[str, float]:
    """Unit conversions to offer: those the column names suggest and those the preset has."""
    return {**hints, **(preset.units if preset is not None else {})}


def _add_errors(form, error: ValidationError):
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
@permission_required(VIEW_IMPORTS, raise_exception=True)
def import_detail(request, pk):
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    return render(request, "customers/import_detail.html", {"job": job, **selectors.import_quality(job=job)})


@login_required
@permission_required(RUN_IMPORT, raise_exception=True)
@require_POST
def import_cancel(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    if imports.import_cancel(job=job):
        messages.success(request, f"Import #{job.pk} was cancelled. Nothing from it was kept.")
    else:
        messages.error(request, f"Import #{job.pk} had already finished ({job.get_status_display().lower()}).")
    return redirect("customers:import-detail", pk=job.pk)


@login_required
@permission_required(VIEW_IMPORTS, raise_exception=True)
def preset_list(request):
    presets = ImportPreset.objects.select_related("created_by")
    return render(request, "customers/preset_list.html", {"presets": presets})


@login_required
@permission_required(RUN_IMPORT, raise_exception=True)
@require_POST
def preset_delete_view(request, pk):
    preset = get_object_or_404(ImportPreset, pk=pk)
    preset_delete(preset=preset)
    messages.success(request, f"The preset “{preset.name}” was deleted.")
    return redirect("customers:preset-list")


@login_required
@permission_required(VIEW_IMPORTS, raise_exception=True)
def import_rejected_csv(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    return csv_response(f"import-{job.pk}-rejected.csv", ["line", "reason", "row"], selectors.import_rejected_rows(job=job))
