"""Writes for personas: create from a segment, edit, link by hand, re-link on publish,
and the publication history that publishing keeps.

Every write saves the persona with `_history_user` set, so its history row
(django-simple-history) names who made the change, also outside a web request (CLI,
Celery). Validation errors are django ValidationErrors with a message per field, for
the form and the API alike.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from segments.models import Membership, Persona, PersonaLink, RunPublication, Segment, SegmentationRun
from segments.personas import matching

logger = logging.getLogger(__name__)

COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
EDITABLE_FIELDS = ("name", "description", "colour", "avatar", "goals", "pain_points", "channels",
                   "notes", "owner", "status")
# The review note keeps the best few candidates: enough to choose from, short to read.
REVIEW_CANDIDATES = 3


def _user(by):
    return by if by is not None and getattr(by, "is_authenticated", False) else None


def _clean(fields: dict, *, persona: Persona | None = None) -> dict:
    """Check and normalise persona fields; raise ValidationError per field."""
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    if "name" in fields:
        name = " ".join(str(fields["name"] or "").split())
        cleaned["name"] = name
        if not name:
            errors.setdefault("name", []).append("Give the persona a name.")
        elif len(name) > Persona._meta.get_field("name").max_length:
            errors.setdefault("name", []).append("Keep the name under 120 characters.")
        else:
            others = Persona.objects.filter(name__iexact=name)
            if persona is not None:
                others = others.exclude(pk=persona.pk)
            if others.exists():
                errors.setdefault("name", []).append(
                    f"A persona named “{name}” already exists. Choose another name.")
    if "colour" in fields:
        colour = str(fields["colour"] or "").strip()
        if not COLOUR_PATTERN.match(colour):
            errors.setdefault("colour", []).append(
                f"“{colour}” is not a colour: write it as # and six hex digits, such as #4e79a7.")
        cleaned["colour"] = colour.lower()
    if "avatar" in fields:
        avatar = str(fields["avatar"] or "").strip()
        if len(avatar) > Persona._meta.get_field("avatar").max_length:
            errors.setdefault("avatar", []).append("An avatar is one emoji or a few letters (8 characters at most).")
        cleaned["avatar"] = avatar
    if "channels" in fields:
        channels = list(fields["channels"] or [])
        unknown = [c for c in channels if c not in Persona.Channel.values]
        if unknown:
            errors.setdefault("channels", []).append(
                f"Unknown channel(s): {', '.join(map(str, unknown))}. "
                f"Choose from {', '.join(Persona.Channel.values)}.")
        # the order of Persona.Channel, each once
        cleaned["channels"] = [c for c in Persona.Channel.values if c in channels]
    if "status" in fields and fields["status"] not in Persona.Status.values:
        errors.setdefault("status", []).append(
            f"Status must be one of {', '.join(Persona.Status.values)}.")
    for text in ("description", "goals", "pain_points", "notes"):
        if text in fields:
            cleaned[text] = str(fields[text] or "").strip()
    if errors:
        raise ValidationError(errors)
    return cleaned


def persona_check(*, fields: dict, persona: Persona | None = None) -> None:
    """The checks persona_create (persona None) or persona_update makes of `fields`,
    without saving: ValidationError with every problem (forms run it with their own)."""
    _clean(fields, persona=persona)


def _check_linkable(segment: Segment) -> None:
    if not segment.run.published:
        raise ValidationError({"segment": [
            f"Segment “{segment.display_name}” is in run #{segment.run_id}, which is not the published "
            "run. Personas link to segments of the published run: publish the run first."]})
    if segment.is_noise:
        raise ValidationError({"segment": [
            "These customers are in no dense group (noise): a persona needs a real segment."]})


def _link(*, persona: Persona, segment: Segment, how: str, by, match: matching.Match | None = None,
          now=None) -> PersonaLink:
    now = now or timezone.now()
    PersonaLink.objects.filter(persona=persona, unlinked_at__isnull=True).update(unlinked_at=now)
    return PersonaLink.objects.create(
        persona=persona, segment=segment, run_id=segment.run_id, linked_at=now, size=segment.size, how=how,
        by=_user(by),
        jaccard=match.jaccard if match else None,
        centroid_similarity=match.centroid_similarity if match else None,
        score=match.score if match else None,
    )


def _save(persona: Persona, by, reason: str = "", update_fields=None) -> None:
    persona._history_user = _user(by)
    if reason:
        persona._change_reason = reason
    persona.save(update_fields=update_fields)


@transaction.atomic
def persona_create(*, segment: Segment, name: str, by, description: str = "", colour: str | None = None,
                   avatar: str = "", goals: str = "", pain_points: str = "", channels=(), notes: str = "",
                   owner=None, status: str = Persona.Status.DRAFT) -> Persona:
    """A persona for a segment of the published run, linked to it from now on."""
    segment = Segment.objects.select_related("run").get(pk=segment.pk)
    errors = {}
    try:
        _check_linkable(segment)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        fields = _clean({
            "name": name, "description": description,
            "colour": colour or Persona._meta.get_field("colour").default,
            "avatar": avatar, "goals": goals, "pain_points": pain_points, "channels": channels, "notes": notes,
            "status": status,
        })
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    persona = Persona(**fields, owner=owner if owner is not None else _user(by))
    _save(persona, by, reason=f"created from {segment.display_name} of run #{segment.run_id}")
    _link(persona=persona, segment=segment, how=PersonaLink.How.CREATED, by=by)
    logger.info("segments.persona_created persona_id=%s segment_id=%s", persona.pk, segment.pk)
    return persona


@transaction.atomic
def persona_update(*, persona: Persona, by, **changes) -> Persona:
    """Change a persona's editable fields (EDITABLE_FIELDS); only changed fields count."""
    stray = sorted(set(changes) - set(EDITABLE_FIELDS))
    if stray:
        raise ValidationError({"__all__": [f"These fields cannot be changed here: {', '.join(stray)}."]})
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    cleaned = _clean(changes, persona=persona)
    changed = [field for field, value in cleaned.items() if getattr(persona, field) != value]
    if not changed:
        return persona
    for field in changed:
        setattr(persona, field, cleaned[field])
    _save(persona, by)
    logger.info("segments.persona_updated persona_id=%s fields=%s", persona.pk, ",".join(changed))
    return persona


@transaction.atomic
def persona_link(*, persona: Persona, segment: Segment, by) -> PersonaLink:
    """Link a persona to a segment of the published run by hand (settles a review)."""
    segment = Segment.objects.select_related("run").get(pk=segment.pk)
    _check_linkable(segment)
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    link = _link(persona=persona, segment=segment, how=PersonaLink.How.MANUAL, by=by)
    if persona.needs_review or persona.review:
        persona.needs_review, persona.review = False, {}
        _save(persona, by, reason=f"linked by hand to {segment.display_name} of run #{segment.run_id}",
              update_fields=["needs_review", "review", "updated_at"])
    return link


@dataclass(frozen=True)
class RelinkOutcome:
    persona_id: int
    relinked: bool
    match: matching.Match | None


def _overlaps(*, segment_ids: list[int], run: SegmentationRun) -> dict[int, dict[int, int]]:
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
    overlaps: dict[int, dict[int, int]] = {}
    for old, new, customers in rows:
        overlaps.setdefault(int(old), {})[int(new)] = int(customers)
    return overlaps


def personas_relink(*, run: SegmentationRun, by=None) -> list[RelinkOutcome]:
    """Re-link every persona to the segment of `run` (just published) that best continues
    its current segment: membership overlap (Jaccard) and z-score centre similarity, see
    segments.personas.matching. Below matching.RELINK_THRESHOLD the persona keeps its old
    link and is flagged for review with the best candidates. Runs inside run_publish's
    transaction, so a failed publish re-links nothing."""
    now = timezone.now()
    # locked, so the history row written here never records a concurrent edit's old values
    links = list(PersonaLink.objects.filter(unlinked_at__isnull=True).select_related("segment", "persona")
                 .select_for_update(of=("self", "persona")))
    candidates = {s.pk: s for s in Segment.objects.filter(run=run, is_noise=False)}
    stale = [link for link in links if link.run_id != run.pk]
    overlaps = _overlaps(segment_ids=sorted({link.segment_id for link in stale}), run=run)
    outcomes = []
    for link in links:
        persona = link.persona
        if link.run_id == run.pk:
            # published again while still linked here (a review never settled): nothing moved
            if persona.needs_review:
                persona.needs_review, persona.review = False, {}
                _save(persona, by, reason=f"run #{run.pk} published again",
                      update_fields=["needs_review", "review", "updated_at"])
            continue
        ranked = matching.rank(
            overlaps=overlaps.get(link.segment_id, {}), size=link.segment.size,
            zscore=link.segment.profile.get("zscore") or {},
            candidates=[{"id": s.pk, "size": s.size, "zscore": s.profile.get("zscore") or {}}
                        for s in candidates.values()],
        )
        best = ranked[0] if ranked else None
        if best is not None and best.score >= matching.RELINK_THRESHOLD:
            _link(persona=persona, segment=candidates[best.segment_id], how=PersonaLink.How.RELINKED, by=by,
                  match=best, now=now)
            if persona.needs_review or persona.review:
                persona.needs_review, persona.review = False, {}
                _save(persona, by, reason=f"re-linked on publishing run #{run.pk}",
                      update_fields=["needs_review", "review", "updated_at"])
            outcomes.append(RelinkOutcome(persona.pk, True, best))
        else:
            persona.needs_review = True
            persona.review = {
                "run": run.pk,
                "from_segment": link.segment_id,
                "flagged_at": now.isoformat(),
                "threshold": matching.RELINK_THRESHOLD,
                "candidates": [
                    {"segment": m.segment_id, "name": candidates[m.segment_id].display_name,
                     "size": candidates[m.segment_id].size, "jaccard": round(m.jaccard, 4),
                     "centroid_similarity": None if m.centroid_similarity is None else round(m.centroid_similarity, 4),
                     "score": round(m.score, 4)}
                    for m in ranked[:REVIEW_CANDIDATES]
                ],
            }
            _save(persona, by, reason=f"no close match in run #{run.pk}: needs review",
                  update_fields=["needs_review", "review", "updated_at"])
            outcomes.append(RelinkOutcome(persona.pk, False, best))
    logger.info("segments.personas_relinked run_id=%s relinked=%s review=%s", run.pk,
                sum(o.relinked for o in outcomes), sum(not o.relinked for o in outcomes))
    return outcomes


def run_publication_record(*, run: SegmentationRun, by=None, at=None) -> RunPublication:
    """Close the open publication period and open one for `run` (inside run_publish)."""
    at = at or timezone.now()
    RunPublication.objects.filter(unpublished_at__isnull=True).exclude(run=run).update(unpublished_at=at)
    publication = RunPublication.objects.filter(run=run, unpublished_at__isnull=True).first()
    return publication or RunPublication.objects.create(run=run, published_at=at, by=_user(by))
