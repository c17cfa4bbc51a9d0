"""Reads for personas: lists with their current link, the persona card's figures (SQL
aggregates over the linked segment's memberships, never the members themselves), link
history, migration between runs, and per-customer history across publications."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet

from customers.selectors import feature_labels as labels_of_features
from customers.selectors import feature_snapshot_current, features_summary_of
from custseg_site.aggregate_cache import cached, stamp
from segments import display
from segments.models import Membership, Persona, PersonaLink, RunPublication, Segment, SegmentationRun
from segments.personas import naming
from segments.selectors import run_comparison, segment_members

# A persona card shows a handful of its customers: enough to picture them, one short query.
EXAMPLE_CUSTOMERS = 5
# Distinguishing features listed on the card (the segment page has them all).
CARD_FEATURES = 6


def _current_links() -> Prefetch:
    return Prefetch(
        "links", queryset=PersonaLink.objects.filter(unlinked_at__isnull=True).select_related("segment", "run"),
        to_attr="current_links",
    )


def persona_list() -> QuerySet[Persona]:
    """Every persona with its owner and current link (persona.current_links: 0 or 1 link):
    three queries, whatever the number of personas."""
    return Persona.objects.select_related("owner").prefetch_related(_current_links()).order_by("name")


def persona_get(*, pk: int) -> Persona:
    return persona_list().get(pk=pk)


def current_link(persona: Persona) -> PersonaLink | None:
    links = getattr(persona, "current_links", None)
    if links is None:
        return persona.links.filter(unlinked_at__isnull=True).select_related("segment", "run").first()
    return links[0] if links else None


def feature_labels() -> dict[str, str]:
    return labels_of_features()


def persona_suggestion(*, segment: Segment) -> naming.Suggestion:
    """A name and description for a new persona from the segment's profile; the name is
    made unique by the segment's run and number when a persona already has it."""
    suggestion = naming.suggest(segment.profile or {}, feature_labels(), segment.rules,
                                fallback=segment.display_name)
    name = suggestion.name
    if Persona.objects.filter(name__iexact=name).exists():
        name = f"{name} (run {segment.run_id}, {segment.display_name})"[:120]
    return naming.Suggestion(name=name, description=suggestion.description)


def segment_personas(*, segment: Segment) -> list[Persona]:
    """Personas currently linked to the segment."""
    return list(Persona.objects.filter(links__segment=segment, links__unlinked_at__isnull=True).order_by("name"))


def segment_holders(*, run: SegmentationRun) -> dict[int, list[Persona]]:
    """Per segment of `run` (by id), the personas linked to it now, by name: one query."""
    held: dict[int, list[Persona]] = {}
    for link in (PersonaLink.objects.filter(run=run, unlinked_at__isnull=True).select_related("persona")
                 .order_by("persona__name")):
        held.setdefault(link.segment_id, []).append(link.persona)
    return held


def persona_card(*, persona: Persona) -> dict:
    """What the persona page shows about its customers. With a current link: the segment's
    size, shares and profile (stored on the segment), mean CLV and the RFM mix from the
    current feature snapshot (two aggregate queries joined to the memberships), and a few
    example customers."""
    link = current_link(persona)
    card = {"link": link, "segment": None}
    if link is None:
        return card
    segment = link.segment
    labels = feature_labels()
    profile = segment.profile or {}
    top = profile.get("top_features") or []
    card.update(
        segment=segment,
        run=link.run,
        in_published_run=link.run.published,
        size=segment.size,
        share=profile.get("share"),
        revenue_share=segment.revenue_share,
        features=[
            {"name": name, "label": labels.get(name, name), "z": z,
             "mean": (profile.get("mean") or {}).get(name), "median": (profile.get("median") or {}).get(name)}
            for name, z in top[:CARD_FEATURES]
        ],
        rules=display.labelled_rules(segment.rules, labels),
        examples=list(segment_members(segment=segment).only("id", "external_id", "country", "age")[:EXAMPLE_CUSTOMERS]),
        snapshot=None, avg_clv=None, rfm={},
    )
    snapshot = feature_snapshot_current()
    if snapshot is not None:
        # the segment's members and the snapshot's rows never change: aggregate them once
        summary = cached(f"segment-features:{segment.pk}", lambda: features_summary_of(
            snapshot=snapshot, customer_ids=Membership.objects.filter(segment=segment).values("customer_id")),
            stamp(link.run), stamp(snapshot))
        card.update(snapshot=snapshot, avg_clv=summary["avg_clv"], clv_customers=summary["with_clv"],
                    scored_customers=summary["customers"], rfm=summary["rfm"])
    return card


def persona_link_history(*, persona: Persona) -> list[PersonaLink]:
    """Every segment the persona was linked to, oldest first."""
    return list(persona.links.select_related("segment", "run", "by").order_by("linked_at", "id"))


# The overview's "persona sizes over runs" follows each persona over at most this many of
# its most recent links: two years of monthly publishes, and a chart that stays readable
# however often runs are republished.
SIZE_HISTORY_LINKS = 24


def persona_size_history(*, personas: list[Persona]) -> dict[int, list[PersonaLink]]:
    """Per persona (by id), its links oldest first: the segment it stood for from linked_at
    to unlinked_at, and that segment's size. One query for all the personas; the sizes
    were stored on the links, so nothing is counted."""
    if not personas:
        return {}
    links = (PersonaLink.objects.filter(persona__in=[p.pk for p in personas])
             .select_related("run", "segment").only(
                 "persona_id", "size", "linked_at", "unlinked_at", "score", "run__id", "run__name",
                 "segment__id", "segment__index", "segment__label", "segment__is_noise")
             .order_by("persona_id", "-linked_at", "-id"))
    history: dict[int, list[PersonaLink]] = {p.pk: [] for p in personas}
    for link in links:
        if len(history[link.persona_id]) < SIZE_HISTORY_LINKS:
            history[link.persona_id].append(link)
    return {pk: rows[::-1] for pk, rows in history.items()}


def persona_history(*, persona: Persona) -> list[dict]:
    """The persona's change history, newest first: who, when, what changed (old -> new)."""
    records = list(persona.history.select_related("history_user").order_by("history_date", "history_id"))
    owners = {r.owner_id for r in records if r.owner_id}
    usernames = dict(get_user_model().objects.filter(pk__in=owners).values_list("pk", "username")) if owners else {}

    def shown(field: str, value):
        if field == "owner":
            return usernames.get(value, value)
        if field == "channels":
            return ", ".join(value or [])
        return value

    entries, previous = [], None
    for record in records:
        changes = []
        if previous is not None:
            delta = record.diff_against(previous)
            changes = [{"field": Persona._meta.get_field(c.field).verbose_name,
                        "old": shown(c.field, c.old), "new": shown(c.field, c.new)}
                       for c in delta.changes]
        entries.append({"record": record, "changes": changes})
        previous = record
    return entries[::-1]


def publications() -> QuerySet[RunPublication]:
    return RunPublication.objects.select_related("run", "by").order_by("-published_at", "-id")


def publication_at(*, when) -> RunPublication | None:
    """The publication period that covers a moment: which run was published then."""
    return (RunPublication.objects.filter(published_at__lte=when)
            .exclude(unpublished_at__lte=when).select_related("run").order_by("-published_at").first())


def sankey_runs(*, persona: Persona) -> tuple[SegmentationRun, SegmentationRun] | None:
    """The two runs the persona page compares by default, older first: the runs of the
    persona's last two links, else its run and the most recent other publication."""
    runs: list[SegmentationRun] = []  # newest first
    sources = [link.run for link in persona.links.select_related("run").order_by("-linked_at", "-id")[:10]]
    if len({run.pk for run in sources}) < 2:
        sources += [publication.run for publication in publications()[:10]]
    for run in sources:
        if run.pk not in {r.pk for r in runs}:
            runs.append(run)
        if len(runs) == 2:
            older, newer = sorted(runs, key=lambda r: (r.created_at, r.pk))
            return older, newer
    return None


def migration(*, run_a: SegmentationRun, run_b: SegmentationRun) -> dict:
    """Customers moving from each segment of run_a to each of run_b (one GROUP BY)."""
    return run_comparison(run_a=run_a, run_b=run_b)


def customer_history(*, customer_id: int, limit: int | None = None) -> list[dict]:
    """Per publication period, newest first (the `limit` newest): the run, the customer's
    segment in it and the personas linked to that segment then. Three queries."""
    periods = list(publications()[:limit] if limit else publications())
    memberships = {
        m.run_id: m.segment for m in
        Membership.objects.filter(customer_id=customer_id, run_id__in={p.run_id for p in periods})
        .select_related("segment")
    }
    links = list(PersonaLink.objects.filter(segment__in=[s.pk for s in memberships.values()])
                 .select_related("persona"))
    history = []
    for period in periods:
        segment = memberships.get(period.run_id)
        personas = sorted({
            link.persona.name for link in links
            if segment is not None and link.segment_id == segment.pk
            and link.linked_at <= (period.unpublished_at or link.linked_at)
            and (link.unlinked_at is None or link.unlinked_at > period.published_at)
        })
        history.append({"run": period.run, "published_at": period.published_at,
                        "unpublished_at": period.unpublished_at, "segment": segment, "personas": personas})
    return history


def persona_link_at(*, persona: Persona, when) -> PersonaLink | None:
    """The link that was open at a moment (None before the persona existed)."""
    return (persona.links.filter(linked_at__lte=when).exclude(unlinked_at__lte=when)
            .select_related("run").order_by("-linked_at", "-id").first())


def persona_link_in_run(*, persona: Persona, run_id: int) -> PersonaLink | None:
    """The persona's last link to a segment of run `run_id` (None if it had none there)."""
    return persona.links.filter(run_id=run_id).select_related("run").order_by("-linked_at", "-id").first()


def persona_pull(*, persona: Persona, as_of=None, changed_since=None):
    """The members of a persona to pull: those of the segment it is linked to now (or was
    linked to at `as_of`: PersonaLink periods); with `changed_since` (a run id or a moment),
    compared with those of the segment it was linked to in that run (or at that moment)."""
    from segments.members import Pull, segment_pin

    link = persona_link_at(persona=persona, when=as_of) if as_of is not None else current_link(persona)
    meta = {"persona": persona.pk, "run": link.run_id if link else None,
            "segment": link.segment_id if link else None,
            "run_published": bool(link and link.run.published) if as_of is None else None,
            "as_of": as_of.isoformat() if as_of is not None else None, "changed_since": None}
    baseline = None
    if changed_since is not None:
        if isinstance(changed_since, int):
            then = persona_link_in_run(persona=persona, run_id=changed_since)
            meta["changed_since"] = {"run": changed_since, "segment": then.segment_id if then else None}
        else:
            then = persona_link_at(persona=persona, when=changed_since)
            meta["changed_since"] = {"at": changed_since.isoformat(), "run": then.run_id if then else None,
                                     "segment": then.segment_id if then else None}
        baseline = segment_pin(then.segment_id if then else None)
    return Pull(current=segment_pin(link.segment_id if link else None), baseline=baseline, meta=meta)
