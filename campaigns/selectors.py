"""Reads for campaigns: lists, the audience (frozen members, or a preview before launch),
and results per campaign and per persona, all from SQL aggregates; the statistics on the
counts come from campaigns.stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from campaigns import stats
from campaigns.models import (
    RESPONSE_EVENTS,
    Campaign,
    CampaignMember,
    CampaignOutcome,
    OutcomeImport,
    OutcomeRejectedRow,
)
from segments import members as member_sets
from segments.models import Membership, Persona, Segment
from segments.personas.selectors import current_link
from segments.selectors import published_run

CONVERTED = CampaignOutcome.Event.CONVERTED
# Import reports listed on the campaign page: the recent ones are the ones people check.
RECENT_IMPORTS = 5


def campaign_list() -> QuerySet[Campaign]:
    return (Campaign.objects.select_related("created_by", "run")
            .prefetch_related("target_personas", "target_segments", "exclude_personas", "exclude_segments")
            .order_by("-created_at", "-id"))


def campaign_get(*, pk: int) -> Campaign:
    return (Campaign.objects.select_related("created_by", "run", "launched_by")
            .prefetch_related("target_personas", "target_segments", "exclude_personas", "exclude_segments")
            .get(pk=pk))


AUDIENCE_FIELDS = ("external_id", "persona", "persona_name", "segment", "is_control")


@member_sets.register_source("audience")
def audience_source(pin: dict) -> member_sets.MemberSource:
    """A launched campaign's frozen audience as a member set (segments.members): the
    membership API pages it, exports it and selects its fields like a persona's members.
    The holdout is left out unless the pin asks for it. Read in customer order through the
    unique (campaign, customer) index."""
    table, personas = CampaignMember._meta.db_table, Persona._meta.db_table
    return member_sets.MemberSource(
        sql=f"SELECT a.customer_id, a.via_persona_id AS persona, p.name AS persona_name, "
            f"a.via_segment_id AS segment, a.is_control FROM {table} a "
            f"LEFT JOIN {personas} p ON p.id = a.via_persona_id WHERE a.campaign_id = %s"
            + ("" if pin.get("holdout") else " AND NOT a.is_control"),
        params=(int(pin["campaign"]),), columns=("persona", "persona_name", "segment", "is_control"),
        text_columns=frozenset({"persona_name"}), bool_columns=frozenset({"is_control"}),
        default_fields=AUDIENCE_FIELDS)


def audience_pull(*, campaign: Campaign, include_control: bool = False) -> member_sets.Pull:
    """The campaign's audience to pull (the holdout only when asked for: it must not be
    contacted)."""
    return member_sets.Pull(current={"kind": "audience", "campaign": campaign.pk, "holdout": include_control},
                        meta={"campaign": campaign.pk, "include_control": include_control})


def outcome_imports(*, campaign: Campaign) -> list[OutcomeImport]:
    return list(campaign.outcome_imports.select_related("created_by")[:RECENT_IMPORTS])


def outcome_import_list() -> QuerySet[OutcomeImport]:
    return OutcomeImport.objects.select_related("campaign", "created_by")


def outcome_import_get(*, pk: int, campaign_id: int | None = None) -> OutcomeImport:
    """One import (of that campaign, when given); raises OutcomeImport.DoesNotExist."""
    imports = outcome_import_list()
    if campaign_id is not None:
        imports = imports.filter(campaign_id=campaign_id)
    return imports.get(pk=pk)


def outcome_rejections(*, outcome_import: OutcomeImport, limit: int) -> list[OutcomeRejectedRow]:
    """The first rejected rows of an import, in file order."""
    return list(outcome_import.rejected_rows.order_by("line")[:limit])


def outcome_rejected_rows(*, outcome_import: OutcomeImport):
    """Every rejected row of an import as (line, reason, cells), in file order, streamed
    (never all in memory)."""
    return (outcome_import.rejected_rows.order_by("line").values_list("line", "reason", "raw")
            .iterator(chunk_size=5000))


def launch_targets(*, campaign: Campaign, run) -> tuple[dict[int, int | None], set[int]]:
    """The segments of `run` the campaign reaches, each with the persona it is reached
    through (None: targeted as a segment), and the segments whose members are excluded."""
    targets: dict[int, int | None] = {}
    for persona in sorted(campaign.target_personas.all(), key=lambda p: p.pk):
        link = current_link(persona)
        if link is not None and link.run_id == run.pk:
            targets.setdefault(link.segment_id, persona.pk)  # two personas on one segment: the first by id
    for segment in campaign.target_segments.all():
        if segment.run_id == run.pk:
            targets.setdefault(segment.pk, None)
    excluded = {segment.pk for segment in campaign.exclude_segments.all()}
    for persona in campaign.exclude_personas.all():
        link = current_link(persona)
        if link is not None:
            excluded.add(link.segment_id)
    return targets, excluded


@dataclass
class Stratum:
    """Audience counts of one persona (or segment targeted by itself)."""

    persona: Persona | None
    segment: Segment | None
    treated: int = 0
    control: int = 0

    @property
    def label(self) -> str:
        if self.persona is not None:
            return self.persona.name
        return self.segment.display_name if self.segment is not None else "–"

    @property
    def total(self) -> int:
        return self.treated + self.control


def audience(*, campaign: Campaign) -> list[Stratum]:
    """Audience size per stratum with control counts: counted from the frozen members
    once launched, else previewed from the published run (what a launch now would give)."""
    if campaign.is_launched:
        rows = (CampaignMember.objects.filter(campaign=campaign).values("via_persona_id", "via_segment_id")
                .annotate(treated=Count("id", filter=Q(is_control=False)), control=Count("id", filter=Q(is_control=True)))
                .order_by("via_persona_id", "via_segment_id"))
        rows = [(r["via_persona_id"], r["via_segment_id"], r["treated"], r["control"]) for r in rows]
    else:
        run = published_run()
        if run is None:
            return []
        targets, excluded = launch_targets(campaign=campaign, run=run)
        members = Membership.objects.filter(run=run, segment_id__in=targets)
        if excluded:
            members = members.exclude(Exists(Membership.objects.filter(
                customer_id=OuterRef("customer_id"), segment_id__in=excluded)))
        sizes = dict(members.values("segment_id").annotate(n=Count("id")).values_list("segment_id", "n"))
        rows = []
        for segment_id, persona_id in targets.items():
            n = sizes.get(segment_id, 0)
            control = stats.control_size(n, campaign.holdout_share)
            rows.append((persona_id, segment_id, n - control, control))
    personas = Persona.objects.in_bulk({r[0] for r in rows if r[0]})
    segments = Segment.objects.in_bulk({r[1] for r in rows if r[1]})
    return [Stratum(persona=personas.get(p), segment=segments.get(s), treated=t, control=c) for p, s, t, c in rows]


@dataclass
class GroupResult:
    """Counts and rates of one group (treated or control) of a campaign or stratum."""

    members: int = 0
    delivered: int = 0
    responders: int = 0
    converters: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal("0")

    @property
    def response(self) -> stats.Rate:
        return stats.rate(self.responders, self.members)

    @property
    def conversion(self) -> stats.Rate:
        return stats.rate(self.converters, self.members)

    @property
    def average_order_value(self) -> Decimal | None:
        return (self.revenue / self.conversions).quantize(Decimal("0.01")) if self.conversions else None

    @property
    def revenue_per_member(self) -> Decimal | None:
        return (self.revenue / self.members).quantize(Decimal("0.01")) if self.members else None


@dataclass
class Result:
    """Treated against control for a whole campaign, or one stratum of it."""

    label: str
    campaign: Campaign | None = None
    persona: Persona | None = None
    segment: Segment | None = None
    treated: GroupResult = field(default_factory=GroupResult)
    control: GroupResult = field(default_factory=GroupResult)

    @property
    def reach(self) -> int:
        return self.treated.members

    @property
    def has_outcomes(self) -> bool:
        """Whether any response or conversion is recorded, treated or control. Before the
        first, a lift of 0 with a [0, 0] interval would read as a measured "no effect"."""
        return bool(self.treated.responders or self.control.responders
                    or self.treated.converters or self.control.converters)

    @property
    def conversion_lift(self) -> stats.Lift | None:
        """None without both groups or before any outcome is recorded."""
        if not self.has_outcomes:
            return None
        return stats.lift(self.treated.converters, self.treated.members, self.control.converters, self.control.members)

    @property
    def response_lift(self) -> stats.Lift | None:
        """None without both groups or before any outcome is recorded."""
        if not self.has_outcomes:
            return None
        return stats.lift(self.treated.responders, self.treated.members, self.control.responders, self.control.members)


def _grouped(members: QuerySet, outcomes: QuerySet, keys: list[str]) -> dict[tuple, dict[bool, GroupResult]]:
    """Two GROUP BY queries: member counts, and outcome counts per member group."""
    groups: dict[tuple, dict[bool, GroupResult]] = {}

    def slot(key, is_control) -> GroupResult:
        return groups.setdefault(key, {False: GroupResult(), True: GroupResult()})[is_control]

    for row in members.values(*keys, "is_control").annotate(n=Count("id")).order_by():
        slot(tuple(row[k] for k in keys), row["is_control"]).members = row["n"]
    outcome_keys = [f"member__{k}" for k in keys]
    rows = (outcomes.values(*outcome_keys, "member__is_control").annotate(
        delivered=Count("member_id", distinct=True, filter=Q(event=CampaignOutcome.Event.DELIVERED)),
        responders=Count("member_id", distinct=True, filter=Q(event__in=RESPONSE_EVENTS)),
        converters=Count("member_id", distinct=True, filter=Q(event=CONVERTED)),
        conversions=Count("id", filter=Q(event=CONVERTED)),
        revenue=Sum("revenue", filter=Q(event=CONVERTED)),
    ).order_by())
    for row in rows:
        group = slot(tuple(row[k] for k in outcome_keys), row["member__is_control"])
        group.delivered, group.responders = row["delivered"], row["responders"]
        group.converters, group.conversions = row["converters"], row["conversions"]
        group.revenue = Decimal(row["revenue"] or 0)
    return groups


@dataclass
class CampaignResults:
    total: Result
    strata: list[Result]


def campaign_results(*, campaign: Campaign) -> CampaignResults:
    """Reach, response and conversion rates, revenue, average order value and lift over
    the holdout, for the campaign and per persona (stratum)."""
    members = CampaignMember.objects.filter(campaign=campaign)
    outcomes = CampaignOutcome.objects.filter(campaign=campaign)
    total_groups = _grouped(members, outcomes, ["campaign_id"]).get((campaign.pk,), {})
    total = Result(label="Whole campaign", campaign=campaign, treated=total_groups.get(False, GroupResult()),
                   control=total_groups.get(True, GroupResult()))
    by_stratum = _grouped(members, outcomes, ["via_persona_id", "via_segment_id"])
    personas = Persona.objects.in_bulk({k[0] for k in by_stratum if k[0]})
    segments = Segment.objects.in_bulk({k[1] for k in by_stratum if k[1]})
    strata = []
    for (persona_id, segment_id), group in sorted(by_stratum.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1] or 0)):
        persona, segment = personas.get(persona_id), segments.get(segment_id)
        label = persona.name if persona else (segment.display_name if segment else "–")
        strata.append(Result(label=label, campaign=campaign, persona=persona, segment=segment,
                             treated=group[False], control=group[True]))
    return CampaignResults(total=total, strata=strata)


def persona_campaign_results(*, persona: Persona) -> list[Result]:
    """Per launched campaign that reached this persona: its members' results (the persona's
    stratum), newest campaign first."""
    members = CampaignMember.objects.filter(via_persona=persona)
    outcomes = CampaignOutcome.objects.filter(member__via_persona=persona)
    groups = _grouped(members, outcomes, ["campaign_id"])
    campaigns = Campaign.objects.in_bulk([k[0] for k in groups])
    results = [Result(label=campaigns[k[0]].name, campaign=campaigns[k[0]], persona=persona,
                      treated=g[False], control=g[True]) for k, g in groups.items() if k[0] in campaigns]
    return sorted(results, key=lambda r: (r.campaign.launched_at or r.campaign.created_at), reverse=True)
