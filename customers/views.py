from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from customers import charts, selectors
from customers.forms import ImportConfirmForm, ImportUploadForm, date_order_choice
from customers.importing.dates import shown_dayfirst
from customers.importing.mapping import field_label
from customers.importing.validate import ImportOptions
from customers.models import ImportJob, ImportPreset
from customers.services import imports
from customers.services.features import features_compute_create, rfm_segment_rules
from customers.services.presets import preset_delete, preset_options, preset_save
from custseg_site import roles
from custseg_site.csv_export import csv_response
from segments.personas.selectors import customer_history
from segments.selectors import customer_published_segment

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
            source, mapping = imports.import_inspect(path=path, kind=kind, preset=preset, require_complete=False)
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
                         "preset": preset.pk if preset else None,
                         "dayfirst": date_order_choice(shown_dayfirst(mapping.date_orders) if options.dayfirst is None
                                                       else options.dayfirst),
                         "decimal_comma": options.decimal_comma if preset else mapping.decimal_comma_hint,
                         "anonymous": options.anonymous,
                         "save_preset": ""},
                header=source.info.header,
                mapping={"fields": mapping.fields, "attributes": mapping.attributes},
                unit_hints=_unit_choices(mapping.unit_hints, preset),
                units_on=set(options.units) if preset else None,
            )
            return _render_confirm(request, confirm, source, kind, uploaded.name, preset=preset,
                                   missing=[field_label(name) for name in mapping.missing_required()],
                                   decimal_comma_hint=mapping.decimal_comma_hint and not preset,
                                   notes=imports.import_notes(mapping) + _date_order_question(mapping))
    status = 400 if request.method == "POST" else 200
    return render(request, "customers/import_upload.html", {"form": form}, status=status)


def _date_order_question(mapping) -> list[str]:
    """Ask for the order of dates that read differently either way when no date tells."""
    orders = mapping.date_orders
    either = next((column for column, order in orders.items() if order.either), None)
    if either is None or shown_dayfirst(orders) is not None:
        return []
    return [f"The dates in “{either}” (such as “{orders[either].either}”) could be day first or month first: "
            "choose how they are written below."]


def _render_confirm(request, form, source, kind, name, status=200, preset=None, missing=(), decimal_comma_hint=False,
                    notes=()):
    preview = source.preview(PREVIEW_ROWS)
    context = {
        "form": form, "kind": kind, "name": name, "info": source.info, "preset": preset, "missing": missing,
        "decimal_comma_hint": decimal_comma_hint, "notes": notes,
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
    return _render_confirm(request, form, source, request.POST.get("kind", ""), request.POST.get("original_name", ""), 400,
                           preset=form.cleaned_data.get("preset") if hasattr(form, "cleaned_data") else None)


def _unit_hints(source, data):
    from customers.importing.mapping import KINDS, detect_mapping

    kind = data.get("kind")
    if kind not in KINDS:
        return {}
    preset_id = data.get("preset") or ""
    preset = ImportPreset.objects.filter(pk=preset_id).first() if preset_id.isdecimal() else None
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


@login_required
@permission_required(roles.VIEW_FEATURES, raise_exception=True)
def features_overview(request):
    """The current feature snapshot: lifetime-value models, RFM segments and their rules."""
    snapshot = selectors.feature_snapshot_current()
    active = selectors.feature_snapshot_active()
    context = {"snapshot": snapshot, "active": active, "recent": selectors.feature_snapshot_list()[:8],
               "rules": rfm_segment_rules(), "clv_reliability": selectors.clv_reliability(snapshot=snapshot)}
    if snapshot is not None:
        counts = selectors.rfm_segment_counts(snapshot=snapshot)
        total = snapshot.customers or 1
        segments = []
        for rule in [*rfm_segment_rules(), None]:
            name = rule.name if rule is not None else "No purchases"
            row = counts.get(name, {})
            segments.append({"name": name, "rule": rule, "customers": row.get("customers", 0),
                             "share": row.get("customers", 0) / total, "spend": row.get("spend"),
                             "clv": row.get("clv"), "colour": charts.RFM_COLOURS.get(name, "#4e79a7")})
        context.update(segments=segments, segments_chart=charts.rfm_segments_figure(segments),
                       grid_chart=charts.rfm_grid_figure(selectors.rfm_grid(snapshot=snapshot)))
    return render(request, "customers/features.html", context)


@login_required
@permission_required(roles.COMPUTE_FEATURES, raise_exception=True)
@require_POST
def features_compute(request):
    snapshot = features_compute_create(trigger="page", created_by=request.user)
    messages.success(request, f"Computing features #{snapshot.pk} in the background.")
    return redirect("customers:features")


@login_required
@permission_required(roles.VIEW_CUSTOMERS, raise_exception=True)
def customer_search(request):
    query = request.GET.get("q", "").strip()
    exact = selectors.customer_by_external_id(external_id=query) if query else None
    if exact is not None:
        return redirect("customers:customer-detail", external_id=exact.external_id)
    results = list(selectors.customer_search(query=query)) if query else []
    return render(request, "customers/customer_search.html", {"query": query, "results": results})


# The customer page lists this many publication periods (newest first): a year of monthly
# publishes, and a bounded page however often runs are republished.
CUSTOMER_HISTORY_PERIODS = 12


@login_required
@permission_required(roles.VIEW_CUSTOMERS, raise_exception=True)
def customer_detail(request, external_id):
    customer = selectors.customer_by_external_id(external_id=external_id)
    if customer is None:
        raise Http404(f"No customer {external_id!r}")
    segment, personas = customer_published_segment(customer_id=customer.pk)
    page = Paginator(selectors.customer_transactions(customer_id=customer.pk), 25).get_page(request.GET.get("page"))
    features = selectors.customer_features_current(customer_id=customer.pk)
    context = {"customer": customer, "features": features,
               "clv_reliability": selectors.clv_reliability(snapshot=features.snapshot if features else None),
               "segment": segment, "personas": personas, "page": page,
               "segment_history": customer_history(customer_id=customer.pk, limit=CUSTOMER_HISTORY_PERIODS),
               "rules": {rule.name: rule for rule in rfm_segment_rules()}}
    return render(request, "customers/customer_detail.html", context)


SCATTER_MATRIX_FEATURES = ["recency", "frequency", "monetary", "clv"]


@login_required
@permission_required(roles.VIEW_FEATURES, raise_exception=True)
def features_explore(request):
    """Distributions and relations of the features, from a sample; exact summaries from SQL."""
    snapshot = selectors.feature_snapshot_current()
    context = {"snapshot": snapshot}
    if snapshot is not None:
        # every feature the run form offers (the same catalogue), in its order
        catalogue = selectors.feature_catalogue()
        labels = {name: f.label for name, f in catalogue.items()}
        sample = selectors.feature_sample(snapshot=snapshot)
        aggregates = selectors.feature_aggregates(snapshot=snapshot)
        # the numeric features have a summary row; categorical ones show as counts per value
        numeric = [name for name in catalogue if name in aggregates and name in sample]
        quantiles = sample[numeric].quantile([0.25, 0.5, 0.75])
        context.update(
            sample_size=len(sample),
            summary=[{"name": name, "label": labels[name], **aggregates[name],
                      "q1": quantiles.at[0.25, name], "median": quantiles.at[0.5, name],
                      "q3": quantiles.at[0.75, name]} for name in numeric],
            histograms_chart=charts.histograms_figure(sample, labels),
            correlation_chart=charts.correlation_figure(sample, labels),
            # a feature nobody has a value for (CLV when the spend model could not be fitted) is left out
            scatter_chart=charts.scatter_matrix_figure(
                sample, [n for n in SCATTER_MATRIX_FEATURES if n in sample and sample[n].notna().any()], labels),
        )
    return render(request, "customers/features_explore.html", context)
