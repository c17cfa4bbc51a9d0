"""What publishing a run does to each persona, worked out before anything is written: the
publish confirmation page shows the plan, segments.personas.services.personas_relink
applies it inside run_publish's transaction. Reads only."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from segments.models import Membership, Persona, PersonaLink, Segment, SegmentationRun
from segments.personas import matching

# An approved persona stays approved through a re-link only when four in five of the
# customers it stood for are still the ones it stands for (Jaccard 0.8): below that the
# team approved other people, so the persona goes back to draft for a new look.
KEEP_APPROVAL_JACCARD = 0.8


@dataclass(frozen=True)
class RelinkDecision:
    """One persona's fate on publishing: re-linked to `target`, or (target None) kept on
    its old segment and flagged for review."""

    link: PersonaLink  # the persona's current link; link.persona, link.segment loaded
    target: Segment | None
    ranked: list[matching.Match] = field(default_factory=list)
    # the persona that took the best segment (a better match from another segment of its own)
    held_by: str | None = None
    # already linked to a segment of the run being published: nothing moves
    unchanged: bool = False
    best_segment: Segment | None = None  # the closest segment, taken or not

    @property
    def persona(self) -> Persona:
        return self.link.persona

    @property
    def best(self) -> matching.Match | None:
        return self.ranked[0] if self.ranked else None

    @property
    def relinked(self) -> bool:
        return self.target is not None and not self.unchanged

    @property
    def review(self) -> bool:
        return self.target is None and not self.unchanged

    @property
    def back_to_draft(self) -> bool:
        """An approved persona whose customers this publish changes (see KEEP_APPROVAL_JACCARD)."""
        if self.unchanged or self.persona.status != Persona.Status.APPROVED:
            return False
        return self.review or self.best is None or self.best.jaccard < KEEP_APPROVAL_JACCARD


@dataclass(frozen=True)
class RelinkPlan:
    run: SegmentationRun
    decisions: list[RelinkDecision]
    segments: dict[int, Segment]  # the run's segments that personas can follow, by id

    @property
    def relinked(self) -> list[RelinkDecision]:
        return [d for d in self.decisions if d.relinked]

    @property
    def review(self) -> list[RelinkDecision]:
        return [d for d in self.decisions if d.review]


def overlaps(*, segment_ids: list[int], run: SegmentationRun) -> dict[int, dict[int, int]]:
    """Customers shared by each of `segment_ids` and each segment of `run`: one GROUP BY
    in the database over the two sides' memberships (the (segment, customer) index reads
    the old side, the unique (run, customer) index the new); nothing per customer in Python."""
    if not segment_ids:
        return {}
    table = Membership._meta.db_table
    placeholders = ", ".join(["%s"] * len(segment_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.segment_id, b.segment_id, COUNT(*) FROM {table} a "
            f"JOIN {table} b ON b.customer_id = a.customer_id AND b.run_id = %s "
            f"WHERE a.segment_id IN ({placeholders}) GROUP BY a.segment_id, b.segment_id",
            [run.pk, *segment_ids],
        )
        rows = cursor.fetchall()
    shared: dict[int, dict[int, int]] = {}
    for old, new, customers in rows:
        shared.setdefault(int(old), {})[int(new)] = int(customers)
    return shared


def open_links() -> list[PersonaLink]:
    return list(PersonaLink.objects.filter(unlinked_at__isnull=True).select_related("segment", "persona", "run")
                .order_by("persona__name", "persona_id"))


def relink_plan(*, run: SegmentationRun, links: list[PersonaLink] | None = None) -> RelinkPlan:
    """Where each persona goes when `run` is published: to the segment of `run` that best
    continues its current one (membership overlap and centre similarity, see
    segments.personas.matching), or to review below matching.RELINK_THRESHOLD.

    Two personas never land silently on one segment: when two personas of different
    segments both match one segment best (two segments merged), the better match takes
    it and the other goes to review, its note naming who holds the segment. Personas that
    already shared a segment (a person confirmed it) keep sharing its continuation."""
    links = open_links() if links is None else links
    segments = {s.pk: s for s in Segment.objects.filter(run=run, is_noise=False).order_by("index")}
    stale = [link for link in links if link.run_id != run.pk]
    shared = overlaps(segment_ids=sorted({link.segment_id for link in stale}), run=run)
    candidates = [{"id": s.pk, "size": s.size, "zscore": s.profile.get("zscore") or {}} for s in segments.values()]
    ranked = {
        link.pk: matching.rank(overlaps=shared.get(link.segment_id, {}), size=link.segment.size,
                               zscore=link.segment.profile.get("zscore") or {}, candidates=candidates)
        for link in stale
    }
    # who takes a segment: best matches first, so a merge goes to the closest persona
    order = sorted(stale, key=lambda link: (-(ranked[link.pk][0].score if ranked[link.pk] else 0), link.persona_id))
    taken: dict[int, tuple[int, str]] = {}  # new segment id -> (old segment id, persona name)
    decided: dict[int, RelinkDecision] = {}
    for link in order:
        matches = ranked[link.pk]
        best = matches[0] if matches else None
        closest = segments[best.segment_id] if best else None
        if best is None or best.score < matching.RELINK_THRESHOLD:
            decided[link.pk] = RelinkDecision(link=link, target=None, ranked=matches, best_segment=closest)
            continue
        holder = taken.get(best.segment_id)
        if holder is not None and holder[0] != link.segment_id:
            decided[link.pk] = RelinkDecision(link=link, target=None, ranked=matches, held_by=holder[1],
                                              best_segment=closest)
            continue
        taken[best.segment_id] = (link.segment_id, link.persona.name)
        decided[link.pk] = RelinkDecision(link=link, target=closest, ranked=matches, best_segment=closest)
    decisions = [
        decided.get(link.pk) or RelinkDecision(link=link, target=link.segment, unchanged=True)
        for link in links
    ]
    return RelinkPlan(run=run, decisions=decisions, segments=segments)
