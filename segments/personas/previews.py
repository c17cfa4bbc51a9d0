"""What a publish or a link by hand will do, said before it is done: the confirmation
pages read these. Reads only; the writes are run_publish and persona_link."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from campaigns.models import Campaign
from integrations.models import WebhookEndpoint
from segments.models import Persona, Segment, SegmentationRun
from segments.personas import relinking, selectors
from segments.selectors import published_run

# Launched campaigns (scheduled or active) keep the audience frozen at launch, but the
# persona they were aimed at will describe other customers; drafts will launch with them.
LIVE_CAMPAIGNS = (Campaign.Status.SCHEDULED, Campaign.Status.ACTIVE)


@dataclass(frozen=True)
class Consequences:
    webhooks: list[WebhookEndpoint] = field(default_factory=list)
    campaigns: list[Campaign] = field(default_factory=list)  # scheduled or active
    drafts: list[Campaign] = field(default_factory=list)

    @property
    def campaign_count(self) -> int:
        return len(self.campaigns) + len(self.drafts)


def _webhooks_for(persona_ids: set[int]) -> list[WebhookEndpoint]:
    """Active endpoints told about these personas: those for one of them, and those for every persona."""
    if not persona_ids:
        return []
    return list(WebhookEndpoint.objects.filter(Q(persona__isnull=True) | Q(persona_id__in=persona_ids), active=True)
                .order_by("name", "id"))


def _campaigns_for(persona_ids: set[int], statuses=LIVE_CAMPAIGNS) -> list[Campaign]:
    if not persona_ids:
        return []
    return list(Campaign.objects.filter(status__in=statuses, target_personas__in=persona_ids)
                .distinct().order_by("name", "id"))


def _consequences(*, told: set[int], touched: set[int]) -> Consequences:
    return Consequences(webhooks=_webhooks_for(told), campaigns=_campaigns_for(touched),
                        drafts=_campaigns_for(touched, statuses=(Campaign.Status.DRAFT,)))


@dataclass(frozen=True)
class PublishPreview:
    run: SegmentationRun
    previous: SegmentationRun | None
    plan: relinking.RelinkPlan
    consequences: Consequences

    @property
    def relinked(self):
        return self.plan.relinked

    @property
    def review(self):
        return self.plan.review

    @property
    def back_to_draft(self):
        return [d for d in self.plan.decisions if d.back_to_draft]


def publish_preview(*, run: SegmentationRun) -> PublishPreview:
    """Which personas publishing `run` re-links (to which segment, with what match score),
    which go to review, which approved ones go back to draft; the webhooks told (active
    endpoints for a re-linked persona whose customers change, from the published run:
    integrations.services.webhooks.publish_notifications) and the live campaigns aimed at
    a persona that moves or goes to review."""
    previous = published_run()
    plan = relinking.relink_plan(run=run)
    told = {d.persona.pk for d in plan.relinked
            if previous is not None and d.link.run_id == previous.pk and d.best and d.best.jaccard < 1}
    touched = {d.persona.pk for d in plan.decisions if not d.unchanged}
    return PublishPreview(run=run, previous=previous, plan=plan, consequences=_consequences(told=told, touched=touched))


@dataclass(frozen=True)
class LinkPreview:
    persona: Persona
    segment: Segment
    current: Segment | None
    same: bool                    # already linked there: linking again only settles a review
    shared_customers: int | None  # customers of the current segment also in the new one
    holders: list[Persona]        # other personas describing the segment
    back_to_draft: bool
    description_rewritten: bool   # the app's text follows; False with a person's text: marked stale
    consequences: Consequences
    # endpoints that would hear of a publish; a link by hand sends nothing itself
    webhooks_subscribed: int = 0


def link_preview(*, persona: Persona, segment: Segment) -> LinkPreview:
    link = selectors.current_link(persona)
    current = link.segment if link else None
    same = current is not None and current.pk == segment.pk
    shared = None
    if current is not None and not same:
        shared = relinking.overlaps(segment_ids=[current.pk], run=segment.run).get(current.pk, {}).get(segment.pk, 0)
    text = persona.description.strip()
    return LinkPreview(
        persona=persona, segment=segment, current=current, same=same, shared_customers=shared,
        holders=[p for p in selectors.segment_personas(segment=segment) if p.pk != persona.pk],
        back_to_draft=not same and persona.status == Persona.Status.APPROVED,
        description_rewritten=not text or text == persona.generated_description.strip(),
        consequences=_consequences(told=set(), touched=set() if same else {persona.pk}),
        webhooks_subscribed=len(_webhooks_for({persona.pk})),
    )
