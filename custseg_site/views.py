from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from customers import charts as customer_charts
from customers.selectors import (
    customer_count_estimate,
    feature_labels,
    feature_snapshot_current,
    rfm_distribution,
    transaction_count_estimate,
)
from custseg_site import roles
from segments import charts, selectors
from segments.options import algorithm_label
from segments.personas import selectors as persona_selectors

# Runs listed under "Recent runs": the latest few; the run list has the rest.
RECENT_RUNS = 5


@login_required
def home(request):
    """The overview a manager reads at a glance. Every figure is a stored size, a planner
    estimate or an aggregate, so the page costs the same number of queries, and about the
    same time, at 10,000 customers as at a million."""
    if not request.user.has_perm(roles.VIEW_RUNS):
        # Signed in but given no role yet: nothing to read until an administrator gives one.
        return render(request, "home.html", {"no_role": True})
    publication = selectors.published_run_publication()
    # a run published before publication periods were recorded has no open period
    published = publication.run if publication else selectors.published_run()
    segments = selectors.segment_summaries(run=published) if published else []
    for segment in segments:
        segment["colour"] = charts.segment_colour(segment["index"])
    snapshot = feature_snapshot_current()
    rfm = rfm_distribution(snapshot=snapshot) if snapshot else []
    for row in rfm:
        row["colour"] = customer_charts.RFM_COLOURS.get(row["name"], charts.PALETTE[0])
    personas = _persona_cards(published)
    context = {
        "customer_count": customer_count_estimate(),
        "transaction_count": transaction_count_estimate(),
        "published": published,
        "publication": publication,
        "algorithm": algorithm_label(published.config) if published else "",
        "segments": segments,
        "sizes_chart": charts.sizes_figure(segments) if segments else None,
        "snapshot": snapshot,
        "rfm_chart": customer_charts.rfm_segments_figure(rfm) if any(r["customers"] for r in rfm) else None,
        "personas": personas,
        "review_count": sum(p.needs_review for p in personas),
        "persona_sizes_chart": _persona_sizes_chart(personas),
        "recent_runs": selectors.run_list()[:RECENT_RUNS],
        "feature_labels": feature_labels(),
    }
    context["has_charts"] = any(context[name] for name in ("sizes_chart", "rfm_chart", "persona_sizes_chart"))
    return render(request, "home.html", context)


def _persona_cards(published) -> list:
    """Personas with their current link and its segment's share of customers and revenue
    (stored on the segment), for the cards; three queries."""
    personas = list(persona_selectors.persona_list())
    for persona in personas:
        persona.link = persona_selectors.current_link(persona)
        segment = persona.link.segment if persona.link else None
        persona.size = segment.size if segment else None
        persona.share = (segment.profile or {}).get("share") if segment else None
        persona.revenue_share = segment.revenue_share if segment else None
        persona.in_published_run = bool(published and persona.link and persona.link.run_id == published.pk)
    return personas


def _persona_sizes_chart(personas) -> dict | None:
    """One line per persona: its segment's size at each link, carried on to now (or to
    when the link ended); one query for every persona's links."""
    history = persona_selectors.persona_size_history(personas=personas)
    now = timezone.now()
    series = []
    for persona in personas:
        links = history.get(persona.pk) or []
        if not links:
            continue
        x, y, text = [], [], []
        for link in links:
            x.append(link.linked_at)
            y.append(link.size)
            text.append(f"{link.segment.display_name} of run #{link.run_id} · {link.run.name}"
                        + (f" · match {link.score:.2f}" if link.score is not None else ""))
        last = links[-1]
        x.append(last.unlinked_at or now)
        y.append(last.size)
        text.append(text[-1] + ("" if last.unlinked_at is None else " (link ended)"))
        series.append({"name": persona.name, "colour": persona.colour, "x": x, "y": y, "text": text})
    return charts.persona_sizes_figure(series)
