from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from custseg_site import roles
from segments import charts
from segments.models import Persona, Segment
from segments.personas import previews, selectors, services
from segments.personas.forms import PersonaForm
from segments.selectors import published_run


def _persona_or_404(pk: int) -> Persona:
    try:
        return selectors.persona_get(pk=pk)
    except Persona.DoesNotExist:
        raise Http404("No such persona.") from None


@login_required
@permission_required(roles.VIEW_PERSONAS, raise_exception=True)
def persona_list(request):
    personas = list(selectors.persona_list())
    for persona in personas:
        persona.link = selectors.current_link(persona)
    return render(request, "segments/persona_list.html", {
        "personas": personas, "published": published_run(),
        "review_count": sum(p.needs_review for p in personas),
    })


@login_required
@permission_required(roles.ADD_PERSONA, raise_exception=True)
def persona_create(request):
    segment_id = request.POST.get("segment") or request.GET.get("segment") or ""
    segment = (Segment.objects.select_related("run").filter(pk=int(segment_id)).first()
               if segment_id.isdecimal() else None)
    if segment is None:
        return _choose_segment(request)
    holders = selectors.segment_personas(segment=segment)
    if request.method == "POST":
        form = PersonaForm(request.POST)
        if form.is_valid():
            try:
                persona = services.persona_create(segment=segment, by=request.user,
                                                  confirm_shared=request.POST.get("confirm_shared") == "1",
                                                  **form.cleaned_data)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"Persona “{persona.name}” created, linked to {segment.display_name}.")
                return redirect("segments:persona-detail", pk=persona.pk)
    else:
        suggestion = selectors.persona_suggestion(segment=segment)
        form = PersonaForm(initial={"name": suggestion.name, "description": suggestion.description,
                                    "owner": request.user, "colour": charts.segment_colour(segment.index)})
    return render(request, "segments/persona_form.html", {
        "form": form, "segment": segment, "linkable": segment.run.published and not segment.is_noise,
        "holders": holders,
    }, status=400 if request.method == "POST" else 200)


def _choose_segment(request):
    """The Personas page's “New persona”: every segment of the published run, with the
    personas that already describe it, to start from one."""
    run = published_run()
    segments = []
    if run is not None:
        held = selectors.segment_holders(run=run)
        segments = [{"segment": s, "personas": held.get(s.pk, [])}
                    for s in run.segments.filter(is_noise=False).order_by("index")]
    return render(request, "segments/persona_choose_segment.html", {"run": run, "segments": segments})


@login_required
@permission_required(roles.CHANGE_PERSONA, raise_exception=True)
def persona_edit(request, pk):
    persona = _persona_or_404(pk)
    if request.method == "POST":
        form = PersonaForm(request.POST, persona=persona)
        if form.is_valid():
            try:
                services.persona_update(persona=persona, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, "Changes saved.")
                return redirect("segments:persona-detail", pk=persona.pk)
    else:
        form = PersonaForm(initial=PersonaForm.initial_for(persona))
    return render(request, "segments/persona_form.html", {"form": form, "persona": persona},
                  status=400 if request.method == "POST" else 200)


@login_required
@permission_required(roles.CHANGE_PERSONA, raise_exception=True)
def persona_link(request, pk):
    """GET (or a POST without confirm): what linking will do; POST confirm=1: link."""
    persona = _persona_or_404(pk)
    segment_id = request.POST.get("segment") or request.GET.get("segment") or ""
    segment = get_object_or_404(Segment.objects.select_related("run"), pk=int(segment_id) if segment_id.isdecimal() else 0)
    holders = {p.pk for p in selectors.segment_personas(segment=segment) if p.pk != persona.pk}
    # the confirmation page names the other personas describing the segment and posts their
    # ids back: sharing is confirmed only for those (one that took it since is asked about again)
    shown = {int(pk) for pk in request.POST.get("shared_with", "").split(",") if pk.strip().isdecimal()}
    if request.method == "POST" and request.POST.get("confirm") == "1" and holders <= shown:
        try:
            services.persona_link(persona=persona, segment=segment, by=request.user, confirm_shared=True)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"“{persona.name}” is now linked to {segment.display_name} of run #{segment.run_id}.")
        return redirect("segments:persona-detail", pk=persona.pk)
    linkable = segment.run.published and not segment.is_noise
    return render(request, "segments/persona_link_confirm.html", {
        "persona": persona, "preview": previews.link_preview(persona=persona, segment=segment), "linkable": linkable,
    })


@require_POST
@login_required
@permission_required(roles.CHANGE_PERSONA, raise_exception=True)
def persona_description(request, pk):
    """After a change of segment: use the suggested description, or keep the team's."""
    persona = _persona_or_404(pk)
    use = request.POST.get("use") == "suggestion"
    services.persona_description_settle(persona=persona, by=request.user, use_suggestion=use)
    messages.success(request, "Description updated to the new segment." if use else "Description kept.")
    return redirect("segments:persona-detail", pk=persona.pk)


@login_required
@permission_required(roles.VIEW_PERSONAS, raise_exception=True)
def persona_detail(request, pk):
    persona = _persona_or_404(pk)
    card = selectors.persona_card(persona=persona)
    links = selectors.persona_link_history(persona=persona)
    history_chart = charts.persona_history_figure([
        {"label": f"run #{link.run_id} · {link.segment.display_name}", "size": link.size,
         "score": link.score, "colour": persona.colour}
        for link in links
    ])
    context = {"persona": persona, "card": card, "links": links, "history_chart": history_chart,
               "rfm_chart": charts.rfm_mix_figure(card.get("rfm") or {})}
    runs = _sankey_runs(request, persona)
    if runs is not None:
        run_a, run_b = runs
        comparison = selectors.migration(run_a=run_a, run_b=run_b)
        from_index = next((link.segment.index for link in reversed(links) if link.run_id == run_a.pk), None)
        to_index = next((link.segment.index for link in reversed(links) if link.run_id == run_b.pk), None)
        context.update(run_a=run_a, run_b=run_b, comparison=comparison,
                       sankey_chart=charts.sankey_figure(comparison, highlight=(from_index, to_index)))
    if persona.needs_review and persona.review.get("candidates"):
        segments = Segment.objects.in_bulk([c["segment"] for c in persona.review["candidates"]])
        context["review_candidates"] = [{**c, "segment_obj": segments.get(c["segment"])}
                                        for c in persona.review["candidates"]]
    # runs to choose for the Sankey: the published ones, each once, newest first
    context["published_runs"] = list({p.run_id: p.run for p in selectors.publications()[:50]}.values())
    return render(request, "segments/persona_detail.html", context)


def _sankey_runs(request, persona):
    """?from=<run>&to=<run> when both are given and were published, else the default pair."""
    chosen = request.GET.get("from", ""), request.GET.get("to", "")
    if all(value.isdecimal() for value in chosen) and chosen[0] != chosen[1]:
        runs = {p.run_id: p.run for p in selectors.publications().filter(run_id__in=[int(v) for v in chosen])}
        if len(runs) == 2:
            return runs[int(chosen[0])], runs[int(chosen[1])]
    return selectors.sankey_runs(persona=persona)


@login_required
@permission_required(roles.VIEW_PERSONAS, raise_exception=True)
def persona_history(request, pk):
    persona = _persona_or_404(pk)
    return render(request, "segments/persona_history.html", {
        "persona": persona, "entries": selectors.persona_history(persona=persona),
        "links": selectors.persona_link_history(persona=persona),
    })
