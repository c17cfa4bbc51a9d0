from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from customers.features import FeatureDefinition
from customers.selectors import customer_count_estimate, feature_catalogue, feature_labels
from custseg_site import export_fields, roles
from custseg_site.csv_export import csv_response
from segments import charts, display, selectors, services
from segments.forms import RunForm
from segments.models import Segment, SegmentationRun
from segments.options import OPTIONS, algorithm_label
from segments.personas import previews as persona_previews
from segments.personas import selectors as persona_selectors

RUNS_PER_PAGE = 25
MEMBERS_PER_PAGE = 50


@login_required
@permission_required(roles.VIEW_RUNS, raise_exception=True)
def run_list(request):
    page = Paginator(selectors.run_list(), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "segments/run_list.html", {"page": page, "feature_labels": feature_labels()})


@login_required
@permission_required(roles.START_RUN, raise_exception=True)
def run_create(request):
    form = RunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = services.run_create(
                name=data["name"], features=data["features"], created_by=request.user,
                **form.options(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Run #{run.pk} started. It runs in the background.")
            return redirect("segments:run-detail", pk=run.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "segments/run_form.html",
        {
            "form": form, "customer_count": customer_count_estimate(), "features": form.catalogue,
            "basic_options": list(form.option_fields(advanced=False)),
            "advanced_options": list(form.option_fields(advanced=True)),
            "advanced_errors": any(form[o.name].errors for o in OPTIONS if o.advanced),
        },
        status=status,
    )


@login_required
@permission_required(roles.VIEW_RUNS, raise_exception=True)
def run_detail(request, pk):
    run = get_object_or_404(SegmentationRun.objects.select_related("created_by"), pk=pk)
    catalogue = feature_catalogue()
    labels = feature_labels(catalogue)
    features = [catalogue.get(n) or FeatureDefinition(n, labels.get(n, n), "") for n in run.config.get("features", [])]
    options = [
        (option, display.option_value(option, run.config.get(option.name), labels))
        for option in OPTIONS
        if option.name in run.config and (not option.algorithms or run.config.get("algorithm") in option.algorithms)
        and not (option.name in ("k_min", "k_max", "k_rule") and run.config.get("k") != "auto")
    ]
    context = {"run": run, "features": features, "options": options,
               "coverage": selectors.run_coverage(run=run),
               "feature_treatment": selectors.run_feature_treatment(run=run, labels=labels),
               "algorithm_label": algorithm_label(run.config)}
    # the page names features by their display names (never saved: the stored run keeps its keys)
    run.preprocessing = display.labelled_preprocessing(run.preprocessing, labels)
    if run.preprocessing.get("scaling"):
        scaling = next(option for option in OPTIONS if option.name == "scaling")
        run.preprocessing["scaling"] = dict(scaling.choices).get(run.preprocessing["scaling"], run.preprocessing["scaling"])
    if isinstance((run.metrics or {}).get("imputed"), dict):
        run.metrics["imputed"] = {display.feature_label(n, labels): c for n, c in run.metrics["imputed"].items()}
    if run.status == SegmentationRun.Status.SUCCEEDED:
        segments = selectors.segment_summaries(run=run)
        for segment in segments:
            segment["colour"] = charts.segment_colour(segment["index"])
            segment["top"] = [(display.feature_label(name, labels), z) for name, z in segment["top_features"][:4]]
            segment["rules"] = display.labelled_rules(segment["rules"], labels)
        names = {s["index"]: s["name"] for s in segments}
        numeric = [(f.name, f.label) for f in features if not f.categorical]
        threshold = (run.stability or {}).get("threshold", 0.6)
        context.update(
            segments=segments,
            numeric_features=[f for f in features if not f.categorical],
            categorical_features=[f.label for f in features if f.categorical],
            sizes_chart=charts.sizes_figure(segments),
            scatter_chart=charts.scatter_figure(
                display.labelled_projection(run.projection, labels), names, run.projection.get("external_id")
            ),
            selection_chart=charts.selection_figure(run.selection or {}),
            # what the scatter's axes mean: each feature's weight in the two components
            loadings=sorted(
                ((display.feature_label(name, labels), pcs[0], pcs[1])
                 for name, pcs in (run.projection.get("loadings") or {}).items()),
                key=lambda row: -max(abs(row[1]), abs(row[2])),
            ),
            heatmap_chart=charts.zscore_heatmap([s for s in segments if not s["is_noise"]], numeric),
            stability_chart=charts.stability_figure(segments, threshold),
            unstable=[s for s in segments if s["stability"] is not None and s["stability"] < threshold],
            stability_threshold=threshold,
            other_runs=selectors.run_list().filter(status=SegmentationRun.Status.SUCCEEDED).exclude(pk=run.pk)[:50],
        )
    return render(request, "segments/run_detail.html", context)


@login_required
@permission_required(roles.VIEW_RUNS, raise_exception=True)
def run_compare(request, pk):
    run = get_object_or_404(selectors.run_list(), pk=pk)
    other_id = request.GET.get("other", "")
    finished = selectors.run_list().filter(status=SegmentationRun.Status.SUCCEEDED)
    context = {"run": run, "other_runs": finished.exclude(pk=run.pk)[:50]}
    if other_id:
        other = finished.filter(pk=int(other_id) if other_id.isdecimal() else 0).first()
        if other is None or run.status != SegmentationRun.Status.SUCCEEDED:
            context["error"] = "Choose two finished runs to compare."
            return render(request, "segments/run_compare.html", context, status=400)
        comparison = selectors.run_comparison(run_a=run, run_b=other)
        context.update(other=other, comparison=comparison, migration_chart=charts.migration_heatmap(comparison))
    return render(request, "segments/run_compare.html", context)


@login_required
@permission_required(roles.PUBLISH_RUN, raise_exception=True)
def run_publish(request, pk):
    """GET: what publishing will do (personas re-linked or sent to review, webhooks told,
    live campaigns touched); POST: publish."""
    run = get_object_or_404(SegmentationRun, pk=pk)
    if request.method != "POST":
        publishable = run.status == SegmentationRun.Status.SUCCEEDED and not run.published
        return render(request, "segments/run_publish_confirm.html", {
            "run": run, "publishable": publishable,
            "preview": persona_previews.publish_preview(run=run) if publishable else None,
        })
    try:
        services.run_publish(run=run, by=request.user)
    except services.PublishError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Run #{run.pk} is now the published segmentation.")
    return redirect("segments:run-detail", pk=run.pk)


@require_POST
@login_required
@permission_required(roles.START_RUN, raise_exception=True)
def run_cancel(request, pk):
    run = get_object_or_404(SegmentationRun, pk=pk)
    if services.run_cancel(run=run):
        messages.info(request, f"Run #{run.pk} was cancelled.")
    else:
        messages.error(request, f"Run #{run.pk} has already finished.")
    return redirect("segments:run-detail", pk=run.pk)


@login_required
@permission_required(roles.VIEW_RUNS, raise_exception=True)
def segment_detail(request, pk):
    segment = get_object_or_404(Segment.objects.select_related("run"), pk=pk)
    search = request.GET.get("q", "").strip()[:64]
    order = request.GET.get("order", "customer")
    members, next_cursor = selectors.segment_member_page(
        segment=segment, search=search, order=order, cursor=request.GET.get("after", ""), limit=MEMBERS_PER_PAGE,
    )
    catalogue = feature_catalogue()
    labels = feature_labels(catalogue)
    profile = segment.profile or {}
    rows = [
        {
            "name": name, "label": labels.get(name, name),
            "unit": catalogue[name].unit if name in catalogue else "",
            "centroid": value, "mean": profile.get("mean", {}).get(name),
            "median": profile.get("median", {}).get(name), "z": profile.get("zscore", {}).get(name),
        }
        for name, value in profile.get("centroid", {}).items()
    ]
    segment_names = dict(Segment.objects.filter(run_id=segment.run_id).values_list("index", "label"))
    segment.rules = display.labelled_rules(segment.rules, labels)  # for the page only, never saved
    context = {
        "segment": segment,
        "profile_rows": rows,
        "profile_chart": charts.profile_bars(rows),
        "members": members,
        "segment_names": segment_names,
        "next_cursor": next_cursor,
        "paged": bool(request.GET.get("after")),
        "search": search,
        "order": order if order in selectors.MEMBER_ORDERS else "customer",
        "orders": selectors.MEMBER_ORDERS,
        "personas": persona_selectors.segment_personas(segment=segment),
        "export_choices": export_fields.export_choices(request.user),
    }
    return render(request, "segments/segment_detail.html", context)


@login_required
@permission_required(roles.VIEW_RUNS, raise_exception=True)
def segment_export(request, pk):
    """Every member as CSV, streamed (a million rows never sit in the web process); email
    and name on request, for roles that may see them (custseg_site.export_fields)."""
    segment = get_object_or_404(Segment.objects.select_related("run"), pk=pk)
    try:
        personal = export_fields.personal_fields(request)
    except export_fields.UnknownExportField as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    names = dict(Segment.objects.filter(run_id=segment.run_id).values_list("index", "label"))
    width = 1 + len(personal)  # external id and the personal fields, as they come

    def csv_row(row):
        distance, nearest, gender, age, country, income = row[width:]
        return (*row[:width], segment.display_name, "" if distance is None else round(distance, 4),
                names.get(nearest, "") if nearest is not None else "", gender, age, country, income)

    rows = map(csv_row, selectors.segment_member_rows(segment=segment, personal=personal))
    return csv_response(
        f"run-{segment.run_id}-segment-{segment.index + 1}.csv",
        ["external_id", *personal, "segment", "distance_to_centre", "next_closest_segment", "gender", "age", "country",
         "annual_income"],
        rows,
    )
