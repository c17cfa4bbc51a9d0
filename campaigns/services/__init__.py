"""Writes for campaigns: create, change, launch (freeze the audience and split off the
holdout), delete a draft. Outcome imports are in campaigns.services.outcome_imports.

Validation errors are django ValidationErrors with a message per field, for the form and
the API alike (the API's exception handler turns them into its JSON error format).

The holdout rule (campaign_launch): the audience is divided into strata, one per targeted
persona (a segment targeted by itself, without a persona, is its own stratum). Within a
stratum of n customers, customers are ranked by md5("<seed>:<customer id>") as hex text
(ties, never seen in practice, by customer id), and the first round(share x n) are the
control group, halves rounded up (campaigns.stats.control_size). So each persona gets the
holdout share up to rounding, the same seed always gives the same control set, and a
different seed an unrelated one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from campaigns import stats
from campaigns.models import Campaign, CampaignMember
from campaigns.selectors import launch_targets
from custseg_site.dates import format_day, format_when
from segments.models import Persona, Segment
from segments.personas.selectors import current_link
from segments.selectors import published_run

logger = logging.getLogger(__name__)

# A holdout above half leaves most of the audience uncontacted: far more likely a typo
# (50 for 5 %) than a plan, so it is refused.
MAX_HOLDOUT_SHARE = Decimal("0.5")
SCALAR_FIELDS = ("name", "objective", "channel", "start_date", "end_date", "budget", "offer", "holdout_share", "seed")
TARGET_FIELDS = ("target_personas", "target_segments", "exclude_personas", "exclude_segments")
# Fixed by the launch: changing them would make the frozen audience lie about its targets.
AUDIENCE_FIELDS = ("target_personas", "target_segments", "exclude_personas", "exclude_segments", "holdout_share", "seed")
LAUNCHED_STATUSES = (Campaign.Status.SCHEDULED, Campaign.Status.ACTIVE, Campaign.Status.COMPLETED)


def _user(by):
    return by if by is not None and getattr(by, "is_authenticated", False) else None


def _add(errors: dict, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _check_targets(fields: dict, errors: dict, *, run) -> None:
    personas, segments = list(fields["target_personas"]), list(fields["target_segments"])
    if not personas and not segments:
        _add(errors, "target_personas", "Choose at least one persona or segment to target.")
    if run is None:
        _add(errors, "__all__", "No segmentation run is published yet. An Analyst publishes one; then a "
                                "campaign can target its personas and segments.")
        return
    for segment in segments:
        if segment.run_id != run.pk:
            _add(errors, "target_segments", f"{segment.display_name} belongs to run #{segment.run_id}, which is not "
                                            f"the published run (#{run.pk}). Target segments of the published run.")
    for field in ("target_personas", "exclude_personas"):
        for persona in fields[field]:
            link = current_link(persona)
            if link is None or link.run_id != run.pk:
                _add(errors, field, f"Persona “{persona.name}” does not follow a segment of the published run "
                                    f"(run #{run.pk}); settle its review on the persona card first.")
    targeted = {p.pk for p in personas}
    both = [p.name for p in fields["exclude_personas"] if p.pk in targeted]
    if both:
        _add(errors, "exclude_personas", f"{', '.join(both)}: a persona cannot be both targeted and excluded.")


def _clean(fields: dict, *, campaign: Campaign | None = None) -> dict:
    """Check and normalise campaign fields; raise ValidationError with a message per field.
    For an update, `fields` are the changed fields; checks that span fields read the
    others from `campaign`."""
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    merged = {name: getattr(campaign, name) for name in SCALAR_FIELDS} if campaign else {}
    if campaign is not None:
        merged.update({name: list(getattr(campaign, name).all()) for name in TARGET_FIELDS})
    merged.update(fields)
    for name in TARGET_FIELDS:
        merged.setdefault(name, [])

    if campaign is not None and campaign.is_launched:
        for name in AUDIENCE_FIELDS:
            if name not in fields:
                continue
            current = getattr(campaign, name)
            now = {o.pk for o in current.all()} if name in TARGET_FIELDS else current
            new = {o.pk for o in fields[name]} if name in TARGET_FIELDS else fields[name]
            if name == "holdout_share" and new is not None:
                new = Decimal(str(new))
            if new != now:
                _add(errors, name, "The audience was frozen at launch: targets, exclusions, holdout share and "
                                   "seed cannot change. Create a new campaign instead.")
    if "name" in fields:
        name = " ".join(str(fields["name"] or "").split())
        cleaned["name"] = name
        if not name:
            _add(errors, "name", "Give the campaign a name.")
        elif len(name) > Campaign._meta.get_field("name").max_length:
            _add(errors, "name", "Keep the name under 200 characters.")
    if "channel" in fields and fields["channel"] not in Campaign.Channel.values:
        _add(errors, "channel", f"Choose a channel: {', '.join(Campaign.Channel.values)}.")
    start, end = merged.get("start_date"), merged.get("end_date")
    if start and end and end < start:
        _add(errors, "end_date", f"The campaign ends ({format_day(end)}) before it starts ({format_day(start)}): "
                                 f"choose an end date on or after the start date.")
    if "holdout_share" in fields:
        try:
            share = Decimal(str(fields["holdout_share"]))
        except (InvalidOperation, ValueError):
            share = None
        if share is None or not share.is_finite() or not (0 <= share <= MAX_HOLDOUT_SHARE):
            _add(errors, "holdout_share", f"The holdout share must be between 0 and {MAX_HOLDOUT_SHARE} (0 % to 50 % "
                                          f"of each persona kept as a control group); got {fields['holdout_share']}.")
        else:
            cleaned["holdout_share"] = share.quantize(Decimal("0.0001"))
    if "budget" in fields and fields["budget"] is not None and Decimal(str(fields["budget"])) < 0:
        _add(errors, "budget", "The budget cannot be negative.")
    if "seed" in fields and (fields["seed"] is None or int(fields["seed"]) < 0):
        _add(errors, "seed", "The seed is a whole number of 0 or more.")
    for text in ("objective", "offer"):
        if text in fields:
            cleaned[text] = str(fields[text] or "").strip()
    if campaign is None or not campaign.is_launched:
        if campaign is None or any(name in fields for name in TARGET_FIELDS):
            _check_targets(merged, errors, run=published_run())
    if errors:
        raise ValidationError(errors)
    return cleaned


def campaign_check(*, fields: dict, campaign: Campaign | None = None) -> None:
    """The checks campaign_create (campaign None) or campaign_update makes of `fields`,
    without saving anything: raises ValidationError with every problem at once. Forms run
    it next to their own field checks, so one submit reports all of them."""
    _clean(fields, campaign=campaign)


def _save_targets(campaign: Campaign, fields: dict) -> None:
    for name in TARGET_FIELDS:
        if name in fields:
            getattr(campaign, name).set(fields[name])


@transaction.atomic
def campaign_create(*, name: str, created_by=None, target_personas: Iterable[Persona] = (),
                    target_segments: Iterable[Segment] = (), exclude_personas: Iterable[Persona] = (),
                    exclude_segments: Iterable[Segment] = (), **fields) -> Campaign:
    """A draft campaign. Targets are personas (their segment of the published run) and/or
    segments of the published run."""
    unknown = set(fields) - set(SCALAR_FIELDS)
    if unknown:
        raise TypeError(f"campaign_create got unexpected fields {sorted(unknown)}")
    cleaned = _clean({"name": name, "target_personas": list(target_personas), "target_segments": list(target_segments),
                      "exclude_personas": list(exclude_personas), "exclude_segments": list(exclude_segments),
                      **fields})
    campaign = Campaign.objects.create(created_by=_user(created_by),
                                       **{k: v for k, v in cleaned.items() if k in SCALAR_FIELDS})
    _save_targets(campaign, cleaned)
    logger.info("campaigns.campaign_created campaign_id=%s", campaign.pk)
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, by=None, **fields) -> Campaign:
    """Change a campaign. Before launch anything can change; after it, the audience
    (targets, exclusions, holdout, seed) is fixed, and the status moves between
    scheduled, active and completed."""
    unknown = set(fields) - set(SCALAR_FIELDS) - set(TARGET_FIELDS) - {"status"}
    if unknown:
        raise TypeError(f"campaign_update got unexpected fields {sorted(unknown)}")
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    status = fields.pop("status", None)
    cleaned = _clean(fields, campaign=campaign)
    if status is not None and status != campaign.status:
        if not campaign.is_launched:
            raise ValidationError({"status": ["A draft campaign gets its status by being launched: use Launch."]})
        if status not in LAUNCHED_STATUSES:
            raise ValidationError({"status": ["A launched campaign cannot go back to draft; its audience is frozen. "
                                              "Choose scheduled, active or completed."]})
        cleaned["status"] = status
    for name, value in cleaned.items():
        if name in SCALAR_FIELDS or name == "status":
            setattr(campaign, name, value)
    campaign.save()
    _save_targets(campaign, cleaned)
    logger.info("campaigns.campaign_updated campaign_id=%s by=%s", campaign.pk, getattr(_user(by), "pk", None))
    return campaign


def _audience_insert(*, campaign: Campaign, run, targets: dict[int, int | None], excluded: set[int]) -> None:
    """One INSERT ... SELECT from the run's memberships: ranks each stratum (target segment)
    by md5(seed:customer id) and marks the first round(share x n) as control (see the
    module docstring). Nothing passes through Python but the statement."""
    table = connection.ops.quote_name
    persona_case = " ".join("WHEN %s THEN %s" for _ in targets)
    persona_params = [value for segment, persona in targets.items() for value in (segment, persona)]
    segment_list = ", ".join(["%s"] * len(targets))
    exclusion = ""
    exclusion_params: list[int] = []
    if excluded:
        exclusion = (f"AND NOT EXISTS (SELECT 1 FROM {table('segments_membership')} x "
                     f"WHERE x.customer_id = m.customer_id AND x.segment_id IN ({', '.join(['%s'] * len(excluded))}))")
        exclusion_params = sorted(excluded)
    sql = f"""
        INSERT INTO {table(CampaignMember._meta.db_table)} (campaign_id, customer_id, via_persona_id, via_segment_id, is_control)
        SELECT %s, ranked.customer_id, ranked.via_persona_id, ranked.segment_id,
               ranked.position <= (ranked.stratum_size * %s + %s) / %s
        FROM (
            SELECT m.customer_id, m.segment_id,
                   -- typed: with only segment targets every branch is NULL, which PostgreSQL reads as text
                   CAST(CASE m.segment_id {persona_case} ELSE NULL END AS BIGINT) AS via_persona_id,
                   ROW_NUMBER() OVER (PARTITION BY m.segment_id
                                      ORDER BY MD5(%s || CAST(m.customer_id AS TEXT)), m.customer_id) AS position,
                   COUNT(*) OVER (PARTITION BY m.segment_id) AS stratum_size
            FROM {table('segments_membership')} m
            WHERE m.run_id = %s AND m.segment_id IN ({segment_list}) {exclusion}
        ) ranked
    """
    params = [campaign.pk, stats.share_basis_points(campaign.holdout_share), stats.BASIS_POINTS // 2,
              stats.BASIS_POINTS, *persona_params, f"{campaign.seed}:", run.pk, *targets.keys(), *exclusion_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@transaction.atomic
def campaign_launch(*, campaign: Campaign, by=None) -> Campaign:
    """Freeze the audience from the published run's memberships, split off the holdout,
    and make the campaign scheduled (start date ahead) or active. Launching twice is refused."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.is_launched:
        raise ValidationError({"__all__": [f"The campaign was launched on {format_when(campaign.launched_at)}; "
                                           f"its audience is frozen."]})
    run = published_run()
    _clean({name: list(getattr(campaign, name).all()) for name in TARGET_FIELDS})
    targets, excluded = launch_targets(campaign=campaign, run=run)
    _audience_insert(campaign=campaign, run=run, targets=targets, excluded=excluded)
    counts = dict(CampaignMember.objects.filter(campaign=campaign).values_list("is_control")
                  .annotate(n=Count("id")).values_list("is_control", "n"))
    campaign.run = run
    campaign.launched_at = timezone.now()
    campaign.launched_by = _user(by)
    campaign.treated_count, campaign.control_count = counts.get(False, 0), counts.get(True, 0)
    today = timezone.localdate()
    campaign.status = (Campaign.Status.SCHEDULED if campaign.start_date and campaign.start_date > today
                       else Campaign.Status.ACTIVE)
    campaign.save()
    logger.info("campaigns.campaign_launched campaign_id=%s run_id=%s treated=%s control=%s",
                campaign.pk, run.pk, campaign.treated_count, campaign.control_count)
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign, by) -> None:
    """Delete a campaign that was never launched, with its targets. A launched one is
    refused: its frozen audience and outcomes are the record of who was contacted and what
    it achieved. The row is locked first, so a launch at the same moment either finishes
    before (and the delete is refused) or waits and finds the campaign gone."""
    locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    if locked is None:  # deleted meanwhile: nothing left to do
        return
    if locked.is_launched:
        raise ValidationError({"__all__": [
            f"“{locked.name}” was launched on {format_when(locked.launched_at)}: a launched campaign is kept, "
            f"with its audience and outcomes. Set its status to completed instead."]})
    locked.delete()
    logger.info("campaigns.campaign_deleted campaign_id=%s by=%s", campaign.pk, getattr(_user(by), "pk", None))
