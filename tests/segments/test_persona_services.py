"""Personas: created from a segment, edited with their history, and carried across runs.

Runs are written directly with factories (tests.segments.factories.segmented_run) rather
than computed by the engine, which is being rewritten on another branch."""

import pytest
from django.core.exceptions import ValidationError

from segments import services
from segments.models import Persona, PersonaLink, RunPublication
from segments.personas import matching, selectors
from segments.personas.services import persona_create, persona_link, persona_update
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db

Z_BIG = {"monetary": 1.5, "recency": -1.0}
Z_LAPSED = {"monetary": -0.8, "recency": 1.2}


@pytest.fixture
def customers():
    return CustomerFactory.create_batch(40)


@pytest.fixture
def first_run(customers, analyst):
    # big spenders are customers 0-19, lapsed 20-39
    return segmented_run(groups={0: customers[:20], 1: customers[20:]}, zscores={0: Z_BIG, 1: Z_LAPSED},
                         publish=True, by=analyst)


def big_spenders(first_run, marketer, **fields):
    segment = first_run.segments.get(index=0)
    return persona_create(segment=segment, name=fields.pop("name", "Big spenders"), by=marketer, **fields)


def test_creating_a_persona_links_it_to_the_segment_and_records_who(first_run, marketer):
    persona = big_spenders(first_run, marketer, channels=["sms", "email", "sms"], goals="Buy the best")
    link = PersonaLink.objects.get(persona=persona)
    assert link.segment.index == 0 and link.unlinked_at is None and link.how == "created" and link.size == 20
    assert persona.owner == marketer and persona.status == "draft"
    assert persona.channels == ["email", "sms"]  # once each, in the usual order
    record = persona.history.get()
    assert record.history_type == "+" and record.history_user == marketer


def test_editing_records_each_change_with_who_made_it(first_run, marketer, manager):
    persona = big_spenders(first_run, marketer)
    persona_update(persona=persona, by=manager, status="approved", pain_points="Delivery is slow")
    entries = selectors.persona_history(persona=persona)
    latest = entries[0]
    assert latest["record"].history_user == manager
    assert {(c["field"], c["old"], c["new"]) for c in latest["changes"]} == {
        ("status", "draft", "approved"), ("pain points", "", "Delivery is slow")}
    assert entries[1]["record"].history_user == marketer


def test_saving_without_changes_adds_no_history(first_run, marketer):
    persona = big_spenders(first_run, marketer)
    persona_update(persona=persona, by=marketer, name="Big spenders")
    assert persona.history.count() == 1


@pytest.mark.parametrize("fields, field, message", [
    ({"name": "big SPENDERS"}, "name", "already exists"),
    ({"name": "  "}, "name", "Give the persona a name"),
    ({"colour": "red"}, "colour", "not a colour"),
    ({"channels": ["fax"]}, "channels", "Unknown channel"),
    ({"status": "final"}, "status", "Status must be one of"),
])
def test_bad_input_is_refused_with_a_message_per_field(first_run, marketer, fields, field, message):
    persona = big_spenders(first_run, marketer)
    other = persona_create(segment=first_run.segments.get(index=1), name="Lapsed", by=marketer)
    with pytest.raises(ValidationError) as error:
        persona_update(persona=other, by=marketer, **fields)
    assert message in " ".join(error.value.message_dict[field])
    assert persona.history.count() == 1 and other.history.count() == 1


def test_a_persona_is_created_only_from_a_segment_of_the_published_run(first_run, customers, marketer):
    unpublished = segmented_run(groups={0: customers})
    with pytest.raises(ValidationError) as error:
        persona_create(segment=unpublished.segments.get(), name="Everyone", by=marketer)
    assert "not the published run" in error.value.message_dict["segment"][0]
    assert not Persona.objects.exists()


def test_publishing_relinks_to_the_segment_with_most_shared_customers_and_records_the_score(
        first_run, customers, marketer, analyst):
    persona = big_spenders(first_run, marketer)
    # given a new run whose segment 1 holds 18 of the 20 big spenders (indices swapped)
    new_run = segmented_run(groups={0: customers[18:], 1: customers[:18]}, zscores={0: Z_LAPSED, 1: Z_BIG})
    # when it is published
    services.run_publish(run=new_run, by=analyst)
    # then the persona follows the big spenders to segment 1, with the match recorded
    link = PersonaLink.objects.get(persona=persona, unlinked_at__isnull=True)
    assert (link.run_id, link.segment.index, link.how, link.by) == (new_run.pk, 1, "relinked", analyst)
    assert link.jaccard == pytest.approx(18 / 20)
    assert link.centroid_similarity == pytest.approx(1.0)
    assert link.score == pytest.approx(0.7 * 0.9 + 0.3 * 1.0)
    assert link.size == 18
    persona.refresh_from_db()
    assert not persona.needs_review
    old = PersonaLink.objects.get(persona=persona, run=first_run)
    assert old.unlinked_at == link.linked_at


def test_low_overlap_flags_the_persona_for_review_instead_of_relinking(first_run, customers, marketer, analyst):
    persona = big_spenders(first_run, marketer)
    # given a new run that splits everyone in four: no segment holds more than half the big spenders
    new_run = segmented_run(
        groups={0: customers[:7] + customers[20:25], 1: customers[7:14] + customers[25:30],
                2: customers[14:20] + customers[30:35], 3: customers[35:]},
        zscores={0: {"monetary": 0.3}, 1: {"monetary": 0.2}, 2: {"recency": 0.5}, 3: Z_LAPSED},
    )
    services.run_publish(run=new_run, by=analyst)
    persona.refresh_from_db()
    assert persona.needs_review
    assert persona.review["run"] == new_run.pk
    best = persona.review["candidates"][0]
    assert best["score"] < matching.RELINK_THRESHOLD and best["jaccard"] == pytest.approx(7 / 25)
    # the persona still describes its old segment, and says so
    link = PersonaLink.objects.get(persona=persona, unlinked_at__isnull=True)
    assert link.run_id == first_run.pk
    assert persona.history.latest().history_user == analyst

    # when a marketer settles the review by hand
    persona_link(persona=persona, segment=new_run.segments.get(pk=best["segment"]), by=marketer)
    persona.refresh_from_db()
    assert not persona.needs_review
    assert PersonaLink.objects.get(persona=persona, unlinked_at__isnull=True).how == "manual"


def test_republishing_an_earlier_run_links_back_to_its_segment(first_run, customers, marketer, analyst):
    persona = big_spenders(first_run, marketer)
    new_run = segmented_run(groups={0: customers[18:], 1: customers[:18]}, zscores={0: Z_LAPSED, 1: Z_BIG})
    services.run_publish(run=new_run, by=analyst)
    # when the first run is published again
    services.run_publish(run=first_run, by=analyst)
    # then the persona is back on its first segment, and the publication history shows all three periods
    link = PersonaLink.objects.get(persona=persona, unlinked_at__isnull=True)
    assert (link.run_id, link.segment.index, link.how) == (first_run.pk, 0, "relinked")
    periods = list(RunPublication.objects.order_by("published_at", "id").values_list("run_id", "unpublished_at"))
    assert [run for run, _ in periods] == [first_run.pk, new_run.pk, first_run.pk]
    assert [until is None for _, until in periods] == [False, False, True]
    assert [link.run_id for link in selectors.persona_link_history(persona=persona)] == [first_run.pk, new_run.pk, first_run.pk]


def test_a_failed_publish_relinks_nothing(first_run, customers, marketer):
    persona = big_spenders(first_run, marketer)
    running = segmented_run(groups={0: customers}, status="running")
    with pytest.raises(services.PublishError):
        services.run_publish(run=running)
    assert PersonaLink.objects.filter(persona=persona).count() == 1
    assert RunPublication.objects.count() == 1


def test_a_customers_segments_and_personas_over_publications(first_run, customers, marketer, analyst):
    persona = big_spenders(first_run, marketer)
    new_run = segmented_run(groups={0: customers[18:], 1: customers[:18]}, zscores={0: Z_LAPSED, 1: Z_BIG})
    services.run_publish(run=new_run, by=analyst)
    # customer 19 was a big spender, then moved to the lapsed segment
    history = selectors.customer_history(customer_id=customers[19].pk)
    assert [(h["run"].pk, h["segment"].index, h["personas"]) for h in history] == [
        (new_run.pk, 0, []), (first_run.pk, 0, [persona.name])]
    assert selectors.publication_at(when=history[1]["published_at"]).run == first_run
