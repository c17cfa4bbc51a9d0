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
from django.db import transaction
from django.utils import timezone

from segments.models import Persona, PersonaLink, RunPublication, Segment, SegmentationRun
from segments.personas import matching, naming, relinking, selectors

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


class SegmentHeldError(ValidationError):
    """The segment already has a persona: two personas on one segment show the same
    customers and revenue twice, so linking another needs the person's confirmation."""

    def __init__(self, *, segment: Segment, holders: list[Persona]):
        self.holders = holders
        names = ", ".join(f"“{p.name}”" for p in holders)
        super().__init__({"segment": [
            f"{segment.display_name} of run #{segment.run_id} is already described by the persona{'s' if len(holders) > 1 else ''} "
            f"{names}: both would show the same {segment.size:,} customers and the same share of revenue. "
            "Confirm only if both personas should describe these customers; otherwise choose another segment."]})


def _check_shared(*, segment: Segment, persona: Persona | None, confirmed: bool) -> None:
    if confirmed:
        return
    holders = [p for p in selectors.segment_personas(segment=segment) if persona is None or p.pk != persona.pk]
    if holders:
        raise SegmentHeldError(segment=segment, holders=holders)


def _approval_withdrawn(persona: Persona) -> list[str]:
    """An approved persona whose customers changed goes back to draft (fields changed)."""
    if persona.status != Persona.Status.APPROVED:
        return []
    persona.status = Persona.Status.DRAFT
    return ["status"]


def generated_description(segment: Segment, labels: dict[str, str]) -> str:
    return naming.suggest(segment.profile or {}, labels, segment.rules, fallback=segment.display_name).description


def _description_follow(persona: Persona, segment: Segment, labels: dict[str, str]) -> list[str]:
    """The persona now stands for `segment`: a description the app wrote (or none) is
    rewritten from its profile; one a person wrote is kept and marked stale, with the new
    suggestion beside it. Returns the fields changed."""
    new = generated_description(segment, labels)
    changed = []
    text = persona.description.strip()
    if not text or text == persona.generated_description.strip():
        if persona.description != new:
            persona.description = new
            changed.append("description")
        if persona.description_stale:
            persona.description_stale = False
            changed.append("description_stale")
    elif not persona.description_stale:
        persona.description_stale = True
        changed.append("description_stale")
    if persona.generated_description != new:
        persona.generated_description = new
        changed.append("generated_description")
    return changed


@transaction.atomic
def persona_create(*, segment: Segment, name: str, by, description: str = "", colour: str | None = None,
                   avatar: str = "", goals: str = "", pain_points: str = "", channels=(), notes: str = "",
                   owner=None, status: str = Persona.Status.DRAFT, confirm_shared: bool = False) -> Persona:
    """A persona for a segment of the published run, linked to it from now on. A segment
    another persona describes needs `confirm_shared` (SegmentHeldError names the other)."""
    segment = Segment.objects.select_related("run").get(pk=segment.pk)
    errors = {}
    try:
        _check_linkable(segment)
        _check_shared(segment=segment, persona=None, confirmed=confirm_shared)
    except SegmentHeldError:
        raise
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
    persona = Persona(**fields, owner=owner if owner is not None else _user(by),
                      generated_description=generated_description(segment, selectors.feature_labels()))
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
    if "description" in changed:
        persona.description_stale = False  # a person rewrote it for the segment it has now
    _save(persona, by)
    logger.info("segments.persona_updated persona_id=%s fields=%s", persona.pk, ",".join(changed))
    return persona


@transaction.atomic
def persona_link(*, persona: Persona, segment: Segment, by, confirm_shared: bool = False) -> PersonaLink:
    """Link a persona to a segment of the published run by hand (settles a review).

    A segment another persona describes needs `confirm_shared` (SegmentHeldError names
    the other persona). Moving to another segment changes who the persona is: an approved
    persona goes back to draft and its generated description follows the new segment."""
    segment = Segment.objects.select_related("run").get(pk=segment.pk)
    _check_linkable(segment)
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    current = persona.links.filter(unlinked_at__isnull=True).first()
    changed = []
    if current is not None and current.segment_id == segment.pk:
        link = current  # already there: linking again only settles a review
    else:
        _check_shared(segment=segment, persona=persona, confirmed=confirm_shared)
        link = _link(persona=persona, segment=segment, how=PersonaLink.How.MANUAL, by=by)
        if persona.status == Persona.Status.APPROVED:
            changed += _approval_withdrawn(persona)
        changed += _description_follow(persona, segment, selectors.feature_labels())
    if persona.needs_review or persona.review:
        persona.needs_review, persona.review = False, {}
        changed += ["needs_review", "review"]
    if changed:
        reason = f"linked by hand to {segment.display_name} of run #{segment.run_id}"
        if "status" in changed:
            reason += "; back to draft: approve it again"
        _save(persona, by, reason=reason, update_fields=sorted(set(changed)) + ["updated_at"])
    return link


@transaction.atomic
def persona_description_settle(*, persona: Persona, by, use_suggestion: bool) -> Persona:
    """After a change of segment marked a person's description stale: take the text
    suggested from the new segment (`use_suggestion`), or keep the person's text as still
    true. Either way the description is no longer stale."""
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    if not persona.description_stale:
        return persona
    changed = ["description_stale"]
    persona.description_stale = False
    if use_suggestion and persona.generated_description:
        persona.description = persona.generated_description
        changed.append("description")
    _save(persona, by, reason="description updated to the new segment" if use_suggestion
          else "description checked against the new segment", update_fields=changed + ["updated_at"])
    return persona


@dataclass(frozen=True)
class RelinkOutcome:
    persona_id: int
    relinked: bool
    match: matching.Match | None


def personas_relink(*, run: SegmentationRun, by=None) -> list[RelinkOutcome]:
    """Re-link every persona to the segment of `run` (just published) that best continues
    its current segment, as segments.personas.relinking.relink_plan decides (the plan the
    publish confirmation showed). Below matching.RELINK_THRESHOLD, or when a closer persona
    took the segment, the persona keeps its old link and is flagged for review with the
    best candidates. An approved persona whose customers change goes back to draft, and
    its generated description follows the new segment. Runs inside run_publish's
    transaction, so a failed publish re-links nothing."""
    now = timezone.now()
    # locked, so the history row written here never records a concurrent edit's old values
    links = list(PersonaLink.objects.filter(unlinked_at__isnull=True).select_related("segment", "persona", "run")
                 .select_for_update(of=("self", "persona")))
    plan = relinking.relink_plan(run=run, links=links)
    labels = selectors.feature_labels()
    outcomes = []
    for decision in plan.decisions:
        persona = decision.persona
        if decision.unchanged:
            # published again while still linked here (a review never settled): nothing moved
            if persona.needs_review:
                persona.needs_review, persona.review = False, {}
                _save(persona, by, reason=f"run #{run.pk} published again",
                      update_fields=["needs_review", "review", "updated_at"])
            continue
        best = decision.best
        withdrawn = decision.back_to_draft  # read before the status changes below
        changed = _approval_withdrawn(persona) if withdrawn else []
        if decision.relinked:
            _link(persona=persona, segment=decision.target, how=PersonaLink.How.RELINKED, by=by, match=best, now=now)
            if persona.needs_review or persona.review:
                persona.needs_review, persona.review = False, {}
                changed += ["needs_review", "review"]
            changed += _description_follow(persona, decision.target, labels)
            reason = f"re-linked on publishing run #{run.pk} ({best.jaccard:.0%} of customers shared)"
            outcomes.append(RelinkOutcome(persona.pk, True, best))
        else:
            persona.needs_review = True
            persona.review = {
                "run": run.pk,
                "from_segment": decision.link.segment_id,
                "flagged_at": now.isoformat(),
                "threshold": matching.RELINK_THRESHOLD,
                "held_by": decision.held_by,
                "candidates": [
                    {"segment": m.segment_id, "name": plan.segments[m.segment_id].display_name,
                     "size": plan.segments[m.segment_id].size, "jaccard": round(m.jaccard, 4),
                     "centroid_similarity": None if m.centroid_similarity is None else round(m.centroid_similarity, 4),
                     "score": round(m.score, 4)}
                    for m in decision.ranked[:REVIEW_CANDIDATES]
                ],
            }
            changed += ["needs_review", "review"]
            reason = (f"run #{run.pk}: its closest segment follows “{decision.held_by}”; needs review"
                      if decision.held_by else f"no close match in run #{run.pk}: needs review")
            outcomes.append(RelinkOutcome(persona.pk, False, best))
        if changed:
            if withdrawn:
                reason += "; back to draft: approve it again"
            _save(persona, by, reason=reason, update_fields=sorted(set(changed)) + ["updated_at"])
    logger.info("segments.personas_relinked run_id=%s relinked=%s review=%s", run.pk,
                sum(o.relinked for o in outcomes), sum(not o.relinked for o in outcomes))
    return outcomes


def run_publication_record(*, run: SegmentationRun, by=None, at=None) -> RunPublication:
    """Close the open publication period and open one for `run` (inside run_publish)."""
    at = at or timezone.now()
    RunPublication.objects.filter(unpublished_at__isnull=True).exclude(run=run).update(unpublished_at=at)
    publication = RunPublication.objects.filter(run=run, unpublished_at__isnull=True).first()
    return publication or RunPublication.objects.create(run=run, published_at=at, by=_user(by))
