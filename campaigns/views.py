from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from campaigns import charts, selectors, services
from campaigns.exports import rejected_rows_response
from campaigns.forms import CampaignForm, OutcomeUploadForm
from campaigns.models import Campaign, OutcomeImport
from campaigns.permissions import ADD_CAMPAIGN, CHANGE_CAMPAIGN, DELETE_CAMPAIGN, VIEW_CAMPAIGN
from campaigns.services import outcome_imports
from custseg_site import export_fields
from custseg_site.csv_export import csv_stream_response
from segments.members import member_csv
from segments.selectors import published_run


def _campaign_or_404(pk: int) -> Campaign:
    try:
        return selectors.campaign_get(pk=pk)
    except Campaign.DoesNotExist:
        raise Http404("No such campaign.") from None


@login_required
@permission_required(VIEW_CAMPAIGN, raise_exception=True)
def campaign_list(request):
    return render(request, "campaigns/campaign_list.html", {
        "campaigns": list(selectors.campaign_list()), "published": published_run(),
    })


@login_required
@permission_required(ADD_CAMPAIGN, raise_exception=True)
def campaign_create(request):
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(created_by=request.user, **form.service_fields())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Campaign “{campaign.name}” created as a draft. Check its audience, then launch it.")
            if warning := form.holdout_warning():
                messages.warning(request, warning)
            return redirect("campaigns:campaign-detail", pk=campaign.pk)
    return render(request, "campaigns/campaign_form.html", {"form": form, "published": published_run()},
                  status=400 if request.method == "POST" else 200)


@login_required
@permission_required(CHANGE_CAMPAIGN, raise_exception=True)
def campaign_edit(request, pk):
    campaign = _campaign_or_404(pk)
    launched = campaign.is_launched
    if request.method == "POST":
        form = CampaignForm(request.POST, campaign=campaign, launched=launched,
                            initial=CampaignForm.initial_for(campaign))
        if form.is_valid():
            try:
                fields = form.service_fields()
                if launched and request.POST.get("status"):
                    fields["status"] = request.POST["status"]
                services.campaign_update(campaign=campaign, by=request.user, **fields)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, "Changes saved.")
                if not launched and (warning := form.holdout_warning()):
                    messages.warning(request, warning)
                return redirect("campaigns:campaign-detail", pk=campaign.pk)
    else:
        form = CampaignForm(initial=CampaignForm.initial_for(campaign), launched=launched)
    return render(request, "campaigns/campaign_form.html", {
        "form": form, "campaign": campaign, "published": published_run(),
        "statuses": [s for s in Campaign.Status.choices if s[0] != Campaign.Status.DRAFT],
    }, status=400 if request.method == "POST" else 200)


def _audience_context(campaign) -> dict:
    """The audience table's rows and its totals row (campaigns/_audience.html)."""
    audience = selectors.audience(campaign=campaign)
    treated, control = sum(s.treated for s in audience), sum(s.control for s in audience)
    return {"audience": audience, "treated": treated, "control": control, "audience_total": treated + control}


@login_required
@permission_required(VIEW_CAMPAIGN, raise_exception=True)
def campaign_detail(request, pk):
    campaign = _campaign_or_404(pk)
    context = {"campaign": campaign, **_audience_context(campaign),
               "published": published_run(), "upload_form": OutcomeUploadForm(),
               "export_choices": export_fields.export_choices(request.user)}
    if campaign.is_launched:
        results = selectors.campaign_results(campaign=campaign)
        context.update(results=results, imports=selectors.outcome_imports(campaign=campaign),
                       rates_chart=charts.rates_figure(results.strata))
    return render(request, "campaigns/campaign_detail.html", context)


@login_required
@permission_required(CHANGE_CAMPAIGN, raise_exception=True)
def campaign_launch(request, pk):
    """GET: what launching will do (the audience a launch now would freeze); POST: launch."""
    campaign = _campaign_or_404(pk)
    if campaign.is_launched:
        messages.info(request, "This campaign is already launched; its audience is frozen.")
        return redirect("campaigns:campaign-detail", pk=campaign.pk)
    if request.method == "POST":
        try:
            campaign = services.campaign_launch(campaign=campaign, by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Launched: {campaign.treated_count:,} customers to contact, "
                                      f"{campaign.control_count:,} held out as the control group.")
        return redirect("campaigns:campaign-detail", pk=campaign.pk)
    return render(request, "campaigns/campaign_launch.html", {
        "campaign": campaign, **_audience_context(campaign), "published": published_run(),
    })


@require_POST
@login_required
@permission_required(DELETE_CAMPAIGN, raise_exception=True)
def campaign_delete(request, pk):
    """Delete a draft (the campaign page's Delete button, for drafts only)."""
    campaign = _campaign_or_404(pk)
    try:
        services.campaign_delete(campaign=campaign, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("campaigns:campaign-detail", pk=campaign.pk)
    messages.success(request, f"The draft campaign “{campaign.name}” was deleted.")
    return redirect("campaigns:campaign-list")


@require_POST
@login_required
@permission_required(CHANGE_CAMPAIGN, raise_exception=True)
def campaign_outcomes(request, pk):
    """Upload a file of outcomes (CSV, gzip-compressed CSV or XLSX): it is checked (header,
    columns), kept and imported in the background; the import's page shows its progress,
    then its report."""
    campaign = _campaign_or_404(pk)
    form = OutcomeUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        errors = form.errors.get("file") or []
        messages.error(request, "Choose a file of outcomes to upload (CSV, gzip CSV or XLSX)." if "file" not in request.FILES
                       else " ".join(errors) + " Nothing was imported.")
        return redirect("campaigns:campaign-detail", pk=campaign.pk)
    upload = form.cleaned_data["file"]
    path = outcome_imports.outcome_store_upload(upload)
    try:
        job = outcome_imports.outcome_import_create(campaign=campaign, path=path, file_name=upload.name,
                                             source=OutcomeImport.Source.PAGE, by=request.user)
    except ValidationError as exc:
        path.unlink(missing_ok=True)
        messages.error(request, " ".join(exc.messages) + " Nothing was imported.")
        return redirect("campaigns:campaign-detail", pk=campaign.pk)
    messages.success(request, f"Outcomes import #{job.pk} of {upload.name} started; it runs in the background.")
    return redirect("campaigns:outcome-import", pk=campaign.pk, import_pk=job.pk)


def _import_or_404(pk: int, import_pk: int) -> OutcomeImport:
    try:
        return selectors.outcome_import_get(pk=import_pk, campaign_id=pk)
    except OutcomeImport.DoesNotExist:
        raise Http404("No such outcomes import.") from None


@login_required
@permission_required(VIEW_CAMPAIGN, raise_exception=True)
def outcome_import_detail(request, pk, import_pk):
    """An outcomes import: its progress while it runs, then its report."""
    job = _import_or_404(pk, import_pk)
    reasons = sorted(job.reasons.items(), key=lambda item: -item[1])
    rejections = selectors.outcome_rejections(outcome_import=job, limit=outcome_imports.REJECTIONS_SHOWN)
    return render(request, "campaigns/outcome_import.html", {
        "job": job, "campaign": job.campaign, "reasons": reasons, "rejections": rejections,
        "shown": outcome_imports.REJECTIONS_SHOWN,
    })


@login_required
@permission_required(VIEW_CAMPAIGN, raise_exception=True)
def outcome_import_rejected_csv(request, pk, import_pk):
    """Every rejected row of the import: line, reason and the row's cells."""
    return rejected_rows_response(_import_or_404(pk, import_pk))


@require_POST
@login_required
@permission_required(CHANGE_CAMPAIGN, raise_exception=True)
def outcome_import_cancel(request, pk, import_pk):
    job = _import_or_404(pk, import_pk)
    if outcome_imports.outcome_import_cancel(outcome_import=job):
        messages.success(request, f"Outcomes import #{job.pk} was cancelled. Nothing from it was kept.")
    else:
        job.refresh_from_db()
        messages.error(request, f"Outcomes import #{job.pk} had already finished ({job.get_status_display().lower()}).")
    return redirect("campaigns:outcome-import", pk=job.campaign_id, import_pk=job.pk)


@login_required
@permission_required(VIEW_CAMPAIGN, raise_exception=True)
def campaign_members_csv(request, pk):
    """The audience to hand to the channel: the treated members only, unless the holdout is
    asked for; email and name on request, for roles that may see them (custseg_site.export_fields)."""
    campaign = _campaign_or_404(pk)
    try:
        personal = export_fields.personal_fields(request)
    except export_fields.UnknownExportField as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    include_control = request.GET.get("include_control") in ("1", "true")
    pull = selectors.audience_pull(campaign=campaign, include_control=include_control)
    suffix = "-with-control" if include_control else ""
    external_id, *audience = selectors.AUDIENCE_FIELDS
    return csv_stream_response(f"campaign-{campaign.pk}-members{suffix}.csv",
                               member_csv(pull=pull, fields=[external_id, *personal, *audience]))
