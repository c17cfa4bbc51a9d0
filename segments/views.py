from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from custseg_site import roles
from customers.features import FeatureDefinition
from customers.selectors import feature_catalogue
from customers.selectors import customer_count_estimate
from segments import charts, selectors, services
from segments.forms import RunForm
from segments.models import Segment, SegmentationRun

RUNS_PER_PAGE = 25
MEMBERS_PER_PAGE = 50


@login_required
@permission_required(roles.VIEW_RUNS, raise_exception=True)
def run_list(request):
    page = Paginator(selectors.run_list(), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "segments/run_list.html", {"page": page})


@login_required
@permission_required(roles.START_RUN, raise_exception=True)
def run_create(request):
    form = RunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = services.run_create(
                name=data["name"], features=data["features"], k=data["k"],
                seed=data["seed"] or 0, created_by=request.user,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(None if field == "__all__" or field not in form.fields else field, errors)
        else:
            messages.success(request, f"Run #{run.pk} started. It runs in the background.")
            return redirect("segments:run-detail", pk=run.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "segments/run_form.html",
        {"form": form, "customer_count": customer_count_estimate(), "features": form.catalogue},
        status=status,
    )


@login_required
@permission_required(roles.VIEW_RUNS, raise_exception=True)
def run_detail(request, pk):
    run = get_object_or_404(SegmentationRun.objects.select_related("created_by"), pk=pk)
    catalogue = feature_catalogue()
    context = {"run": run, "features": [catalogue.get(n) or FeatureDefinition(n, n, "") for n in run.config.get("features", [])]}
    if run.status == SegmentationRun.Status.SUCCEEDED:
        segments = selectors.segment_summaries(run=run)
        for segment in segments:
            segment["colour"] = charts.segment_colour(segment["index"])
        names = {s["index"]: s["name"] for s in segments}
        context.update(
            segments=segments,
            sizes_chart=charts.sizes_figure(segments),
            scatter_chart=charts.scatter_figure(
                run.projection, names, run.projection.get("external_id")
            ),
        )
    return render(request, "segments/run_detail.html", context)


@require_POST
@login_required
@permission_required(roles.PUBLISH_RUN, raise_exception=True)
def run_publish(request, pk):
    run = get_object_or_404(SegmentationRun, pk=pk)
    try:
        services.run_publish(run=run)
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
    # Keyset paging ("after this customer id"): page 5,000 of a million-member segment costs
    # the same as page 1, where OFFSET would skip a quarter of a million rows.
    try:
        after = int(request.GET.get("after", 0))
    except ValueError:
        after = 0
    members = list(
        selectors.segment_members(segment=segment)
        .filter(pk__gt=after)
        .only("id", "external_id", "gender", "age", "country", "annual_income")[: MEMBERS_PER_PAGE + 1]
    )
    has_next = len(members) > MEMBERS_PER_PAGE
    members = members[:MEMBERS_PER_PAGE]
    context = {
        "segment": segment,
        "members": members,
        "after": after,
        "next_after": members[-1].pk if has_next else None,
    }
    return render(request, "segments/segment_detail.html", context)
