"""Campaign services: validation, launch (frozen audience, stratified deterministic holdout,
exclusions) and outcome imports."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from campaigns import selectors, services, stats
from campaigns.importing.outcomes import OutcomeFileError
from campaigns.models import CampaignMember, CampaignOutcome, OutcomeImport
from campaigns.services import outcome_imports
from tests.campaigns.factories import campaign, import_outcomes, outcomes_file, world
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db


def control_ids(c):
    return set(CampaignMember.objects.filter(campaign=c, is_control=True).values_list("customer_id", flat=True))


def test_holdout_share_holds_per_persona_within_rounding(marketer):
    w = world(sizes=(45, 31, 20))
    c = campaign(w, by=marketer, holdout_share=Decimal("0.1"), segments=[w.run.segments.get(index=2)])
    c = services.campaign_launch(campaign=c, by=marketer)
    strata = {s.label: (s.treated, s.control) for s in selectors.audience(campaign=c)}
    # 45 x 0.1 = 4.5 -> 5; 31 x 0.1 = 3.1 -> 3; 20 x 0.1 = 2
    assert strata == {"Big spenders": (40, 5), "Lapsed": (28, 3), "Segment 3": (18, 2)}
    assert (c.treated_count, c.control_count, c.status) == (86, 10, "active")


def test_a_campaign_of_segments_alone_is_stratified_by_segment(marketer):
    w = world(sizes=(10, 10, 30))
    c = campaign(w, by=marketer, personas=[], segments=list(w.run.segments.filter(index__in=[1, 2])))
    c = services.campaign_launch(campaign=c)
    assert {(s.label, s.treated, s.control) for s in selectors.audience(campaign=c)} == {
        ("Segment 2", 9, 1), ("Segment 3", 27, 3)}
    assert not CampaignMember.objects.filter(campaign=c, via_persona__isnull=False).exists()


def test_same_seed_same_control_set_different_seed_different(marketer):
    w = world(sizes=(60, 40, 10))
    first = campaign(w, by=marketer, name="A", seed=7, holdout_share=Decimal("0.25"))
    again = campaign(w, by=marketer, name="B", seed=7, holdout_share=Decimal("0.25"))
    other = campaign(w, by=marketer, name="C", seed=8, holdout_share=Decimal("0.25"))
    for c in (first, again, other):
        services.campaign_launch(campaign=c, by=marketer)
    assert len(control_ids(first)) == 25  # 15 + 10
    assert control_ids(first) == control_ids(again)
    assert control_ids(first) != control_ids(other)


def test_holdout_is_not_simply_the_first_customers_by_id(marketer):
    w = world(sizes=(100, 10, 10))
    c = campaign(w, by=marketer, personas=[w.big], holdout_share=Decimal("0.2"))
    services.campaign_launch(campaign=c, by=marketer)
    ids = sorted(m.pk for m in w.customers[:100])
    controls = control_ids(c)
    assert len(controls) == 20 and controls != set(ids[:20]) and controls != set(ids[-20:])


def test_audience_is_frozen_at_launch(marketer, analyst):
    w = world(sizes=(30, 20, 10))
    c = campaign(w, by=marketer)
    services.campaign_launch(campaign=c, by=marketer)
    before = set(CampaignMember.objects.filter(campaign=c).values_list("customer_id", "is_control"))
    # when a new run putting everyone in one segment is published (personas re-link to it)
    segmented_run(groups={0: w.customers}, publish=True, by=analyst)
    # then the campaign's audience is what it was
    assert set(CampaignMember.objects.filter(campaign=c).values_list("customer_id", "is_control")) == before
    assert len(before) == 50
    # and its targets can no longer change
    with pytest.raises(ValidationError) as error:
        services.campaign_update(campaign=c, holdout_share=Decimal("0.2"))
    assert "frozen at launch" in str(error.value)
    with pytest.raises(ValidationError):
        services.campaign_launch(campaign=c)


def test_exclusions_leave_customers_out(marketer):
    w = world(sizes=(30, 20, 10))
    # an older run's segment holding five customers of Big spenders and five of Lapsed
    old = segmented_run(groups={0: w.customers[:5] + w.customers[30:35], 1: w.customers[5:30] + w.customers[35:]})
    c = campaign(w, by=marketer, exclude_segments=[old.segments.get(index=0)], holdout_share=Decimal("0"))
    services.campaign_launch(campaign=c, by=marketer)
    members = set(CampaignMember.objects.filter(campaign=c).values_list("customer_id", flat=True))
    assert len(members) == 40
    assert not members & {x.pk for x in w.customers[:5] + w.customers[30:35]}
    # excluding a persona drops its segment even when the segment is targeted
    d = campaign(w, by=marketer, name="D", personas=[w.big], segments=[w.run.segments.get(index=1)],
                 exclude_personas=[w.lapsed])
    d = services.campaign_launch(campaign=d, by=marketer)
    assert {s.label for s in selectors.audience(campaign=d)} == {"Big spenders"}


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"start_date": date(2026, 5, 2), "end_date": date(2026, 5, 1)}, "end_date", "before it starts"),
    ({"holdout_share": Decimal("0.6")}, "holdout_share", "between 0 and 0.5"),
    ({"holdout_share": Decimal("-0.1")}, "holdout_share", "between 0 and 0.5"),
    ({"holdout_share": "a tenth"}, "holdout_share", "between 0 and 0.5"),
    ({"personas": []}, "target_personas", "at least one persona or segment"),
])
def test_invalid_campaigns_are_refused_with_a_message(marketer, fields, field, message):
    w = world(sizes=(5, 5, 5))
    with pytest.raises(ValidationError) as error:
        campaign(w, by=marketer, **fields)
    assert any(message in m for m in error.value.message_dict[field])


def test_no_published_run_is_refused(marketer):
    with pytest.raises(ValidationError) as error:
        services.campaign_create(name="x", target_segments=[])
    assert "No segmentation run is published" in " ".join(error.value.messages)


def test_segments_of_another_run_cannot_be_targeted(marketer):
    w = world(sizes=(5, 5, 5))
    old = segmented_run(groups={0: w.customers})
    with pytest.raises(ValidationError) as error:
        campaign(w, by=marketer, personas=[], segments=[old.segments.get()])
    assert "not the published run" in error.value.message_dict["target_segments"][0]


def test_outcome_import_accounts_for_every_row_and_rejects_bad_rows_with_reasons(marketer, tmp_path):
    w = world(sizes=(10, 10, 5))
    c = campaign(w, by=marketer, personas=[w.big])
    services.campaign_launch(campaign=c, by=marketer)
    stranger = CustomerFactory()
    member, outsider = w.customers[0].external_id, w.customers[15].external_id
    path = outcomes_file(tmp_path, (
        "customer_id,event,revenue,timestamp\n"
        f"{member},converted,19.90,2026-03-01T10:00:00Z\n"
        f"{member},opened,,2026-03-01T09:00:00Z\n"
        "NOPE,opened,,2026-03-01\n"
        f"{outsider},opened,,2026-03-01\n"
        f"{member},converted,12;50,2026-03-02\n"
        f"{member},converted,1.999,2026-03-02\n"
        f"{member},converted,5,yesterday\n"
        f"{member},bought,5,2026-03-02\n"
        f"{stranger.external_id},clicked,,2026-03-02\n"
        f"{member},clicked,3,2026-03-02\n"
        f"{member},converted,19.90,2026-03-01T10:00:00Z\n"  # the same event twice in the file
    ))
    report = import_outcomes(c, path, by=marketer)
    assert report.status == "succeeded"
    assert (report.rows, report.added, report.duplicates, report.rejected) == (11, 2, 1, 8)
    assert report.rows == report.added + report.duplicates + report.rejected
    reasons = {r.line: r.reason for r in report.rejected_rows.all()}
    assert reasons[4].startswith("unknown customer")
    assert reasons[5].startswith("not in the campaign audience")
    assert reasons[6].startswith("bad revenue") and reasons[7].startswith("bad revenue")
    assert reasons[8].startswith("bad timestamp")
    assert reasons[9].startswith("unknown event type")
    assert reasons[10].startswith("not in the campaign audience")
    assert reasons[11].startswith("bad revenue")  # a click carries no revenue
    assert report.reasons == {"bad revenue": 3, "not in the campaign audience": 2,
                              "unknown customer": 1, "bad timestamp": 1, "unknown event type": 1}
    assert CampaignOutcome.objects.filter(campaign=c).count() == 2

    # when the same file comes again, nothing is added
    again = import_outcomes(c, outcomes_file(tmp_path, path.read_bytes(), "again.csv"))
    assert (again.added, again.duplicates, again.rejected) == (0, 3, 8)
    assert CampaignOutcome.objects.filter(campaign=c).count() == 2


def test_a_file_without_the_required_columns_changes_nothing(marketer, tmp_path):
    w = world(sizes=(5, 5, 5))
    c = campaign(w, by=marketer)
    services.campaign_launch(campaign=c)
    with pytest.raises(OutcomeFileError) as error:
        import_outcomes(c, outcomes_file(tmp_path, "who,what\nA,opened\n"))
    assert "no customer, event, timestamp column" in str(error.value)
    assert not CampaignOutcome.objects.exists() and not OutcomeImport.objects.exists()


def test_outcomes_need_a_launched_campaign(marketer, tmp_path):
    w = world(sizes=(5, 5, 5))
    c = campaign(w, by=marketer)
    with pytest.raises(ValidationError, match="Launch the campaign first"):
        import_outcomes(c, outcomes_file(tmp_path, "customer,event,timestamp\nA,opened,2026-03-01\n"))
    with pytest.raises(ValidationError, match="Launch the campaign first"):
        outcome_imports.outcome_import_json(campaign=c, rows=[{"customer": "A"}])
    assert not OutcomeImport.objects.exists()


def test_results_per_campaign_and_persona_with_lift(marketer):
    w = world(sizes=(40, 20, 5))
    c = campaign(w, by=marketer, holdout_share=Decimal("0.25"))
    c = services.campaign_launch(campaign=c)
    members = {m.customer_id: m for m in CampaignMember.objects.filter(campaign=c, via_persona=w.big)}
    treated = [m for m in members.values() if not m.is_control]
    control = [m for m in members.values() if m.is_control]
    assert (len(treated), len(control)) == (30, 10)
    external = {x.pk: x.external_id for x in w.customers}
    # 9 of 30 treated convert (two orders of 50 for the first), 1 of 10 controls converts
    rows = [{"customer": external[m.customer_id], "event": "converted", "revenue": "50",
             "timestamp": "2026-03-01T10:00:00Z"} for m in treated[:9] + control[:1]]
    rows.append({"customer": external[treated[0].customer_id], "event": "converted", "revenue": "50",
                 "timestamp": "2026-03-02T10:00:00Z"})
    rows += [{"customer": external[m.customer_id], "event": "clicked", "timestamp": "2026-03-01"} for m in treated[:15]]
    outcome_imports.outcome_import_json(campaign=c, rows=rows)
    results = selectors.campaign_results(campaign=c)
    big = next(r for r in results.strata if r.label == "Big spenders")
    assert big.reach == 30
    assert big.treated.conversion.rate == pytest.approx(0.3) and big.control.conversion.rate == pytest.approx(0.1)
    assert big.treated.response.rate == pytest.approx(0.5)  # 15 clicked, the 9 converters among them
    assert big.treated.revenue == Decimal("500") and big.treated.average_order_value == Decimal("50.00")
    assert big.conversion_lift.difference == pytest.approx(stats.lift(9, 30, 1, 10).difference)
    assert results.total.treated.members == 45 and results.total.control.members == 15
    assert results.total.treated.converters == 9
    [on_card] = selectors.persona_campaign_results(persona=w.big)
    assert on_card.campaign == c and on_card.treated.converters == 9 and on_card.control.converters == 1

