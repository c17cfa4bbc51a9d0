"""Personas tell the truth about the segment they hold: no two on one segment without a
person's say-so, approval withdrawn when the customers change, a description that follows
the numbers; and the pages say what a publish or a link will do before it is done."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import services as campaign_services
from integrations.services import webhooks
from segments import services
from segments.models import Persona, PersonaLink
from segments.personas import selectors
from segments.personas.services import (
    SegmentHeldError,
    persona_create,
    persona_description_settle,
    persona_link,
    persona_update,
)
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db

Z_BIG = {"monetary": 1.5, "recency": -1.0}
Z_LAPSED = {"monetary": -0.8, "recency": 1.2}


@pytest.fixture
def customers():
    return CustomerFactory.create_batch(40)


@pytest.fixture
def run(customers, analyst):
    # big spenders are customers 0-19, lapsed 20-39: each half of everyone
    return segmented_run(groups={0: customers[:20], 1: customers[20:]}, zscores={0: Z_BIG, 1: Z_LAPSED},
                         publish=True, by=analyst)


def suggested(segment, marketer, name, **fields):
    """A persona created as the page does: with the description suggested from the segment."""
    suggestion = selectors.persona_suggestion(segment=segment)
    return persona_create(segment=segment, name=name, by=marketer, description=suggestion.description, **fields)


@pytest.fixture
def big(run, marketer):
    return suggested(run.segments.get(index=0), marketer, "Big spenders")


def jaccard(a, b) -> float:
    a, b = {c.pk for c in a}, {c.pk for c in b}
    return len(a & b) / len(a | b)


def current_segment(persona):
    return PersonaLink.objects.get(persona=persona, unlinked_at__isnull=True).segment


# --- one segment, one persona unless someone confirms -------------------------------------

def test_creating_a_persona_on_a_segment_another_holds_is_refused_naming_it(run, big, marketer):
    segment = run.segments.get(index=0)
    with pytest.raises(SegmentHeldError) as refused:
        persona_create(segment=segment, name="Whales", by=marketer)
    assert "“Big spenders”" in refused.value.messages[0] and "20 customers" in refused.value.messages[0]
    assert list(Persona.objects.values_list("name", flat=True)) == ["Big spenders"]  # nothing written
    # when the person confirms, both describe the segment
    persona_create(segment=segment, name="Whales", by=marketer, confirm_shared=True)
    assert [p.name for p in selectors.segment_personas(segment=segment)] == ["Big spenders", "Whales"]


def test_linking_by_hand_to_a_held_segment_needs_confirmation(run, big, marketer):
    lapsed = suggested(run.segments.get(index=1), marketer, "Lapsed")
    with pytest.raises(SegmentHeldError, match="Big spenders"):
        persona_link(persona=lapsed, segment=run.segments.get(index=0), by=marketer)
    assert current_segment(lapsed).index == 1
    persona_link(persona=lapsed, segment=run.segments.get(index=0), by=marketer, confirm_shared=True)
    assert current_segment(lapsed).index == 0


def test_the_api_answers_409_with_the_other_persona_unless_the_client_confirms(run, big, marketer, api_client):
    client = api_client(marketer)
    segment = run.segments.get(index=0)
    response = client.post("/api/v1/personas/", {"name": "Whales", "segment": segment.pk}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "segment_held" and "Big spenders" in error["message"]
    assert "confirm_shared_segment" in error["message"]
    assert Persona.objects.count() == 1
    response = client.post("/api/v1/personas/", {"name": "Whales", "segment": segment.pk,
                                                 "confirm_shared_segment": True}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["current_link"]["segment"] == segment.pk
    assert "confirm_shared_segment" not in response.json()  # write-only


def test_the_schema_documents_the_409_and_the_confirmation_field(client, analyst):
    client.force_login(analyst)
    schema = client.get("/api/schema/?format=json").json()
    create = schema["paths"]["/api/v1/personas/"]["post"]
    assert "409" in create["responses"]
    preview = schema["paths"]["/api/v1/runs/{id}/publish-preview/"]["get"]
    assert "200" in preview["responses"]
    # request bodies have their own components (COMPONENT_SPLIT_REQUEST): the confirmation is
    # a field of what a client sends, not of the persona it reads back
    persona = schema["components"]["schemas"]["Persona"]["properties"]
    sent = schema["components"]["schemas"]["PersonaRequest"]["properties"]
    assert sent["confirm_shared_segment"]["writeOnly"] is True and "confirm_shared_segment" not in persona
    assert persona["description_stale"]["readOnly"] is True and persona["suggested_description"]["readOnly"] is True


def test_two_segments_merging_go_to_one_persona_and_the_other_to_review(customers, analyst, marketer):
    # given two personas on two look-alike segments
    same = {"monetary": 1.0}
    first = segmented_run(groups={0: customers[:20], 1: customers[20:35], 2: customers[35:]},
                          zscores={0: same, 1: same, 2: {"monetary": -1.0}}, publish=True, by=analyst)
    big = suggested(first.segments.get(index=0), marketer, "Big spenders")
    also = suggested(first.segments.get(index=1), marketer, "Also big")
    # when a run merges them into one segment
    merged = segmented_run(groups={0: customers[:35], 1: customers[35:]}, zscores={0: same, 1: {"monetary": -1.0}})
    services.run_publish(run=merged, by=analyst)
    # then the closer one follows it; the other keeps its segment and waits for a person
    big.refresh_from_db(), also.refresh_from_db()
    assert jaccard(customers[:20], customers[:35]) > jaccard(customers[20:35], customers[:35])
    assert current_segment(big) == merged.segments.get(index=0) and not big.needs_review
    assert current_segment(also).run_id == first.pk and also.needs_review
    assert also.review["held_by"] == "Big spenders"


# --- approval and description follow the customers -----------------------------------------

def test_an_approved_persona_goes_back_to_draft_when_a_publish_changes_its_customers(customers, run, big, marketer,
                                                                                      analyst):
    persona_update(persona=big, by=marketer, status="approved")
    # a run where 12 of the 20 big spenders stay together
    moved = segmented_run(groups={0: customers[:12], 1: customers[12:]}, zscores={0: Z_BIG, 1: Z_LAPSED})
    services.run_publish(run=moved, by=analyst)
    big.refresh_from_db()
    link = PersonaLink.objects.get(persona=big, unlinked_at__isnull=True)
    assert link.segment.index == 0 and link.jaccard == pytest.approx(jaccard(customers[:20], customers[:12]))
    assert big.status == "draft"
    assert "back to draft" in big.history.first().history_change_reason


def test_an_approved_persona_stays_approved_when_its_customers_barely_change(customers, run, big, marketer, analyst):
    persona_update(persona=big, by=marketer, status="approved")
    # one big spender of twenty moves
    steady = segmented_run(groups={0: customers[:19], 1: customers[19:]}, zscores={0: Z_BIG, 1: Z_LAPSED})
    services.run_publish(run=steady, by=analyst)
    big.refresh_from_db()
    assert current_segment(big).run_id == steady.pk and big.status == "approved"


def test_an_approved_persona_linked_by_hand_elsewhere_goes_back_to_draft(run, big, marketer):
    persona_update(persona=big, by=marketer, status="approved")
    persona_link(persona=big, segment=run.segments.get(index=1), by=marketer)
    big.refresh_from_db()
    assert big.status == "draft"


def test_a_generated_description_follows_the_new_share(customers, run, big, analyst, client, manager):
    assert "50%" in big.description  # 20 of 40
    # a run where the persona's segment holds 12 of the 40 customers
    smaller = segmented_run(groups={0: customers[:12], 1: customers[12:]}, zscores={0: Z_BIG, 1: Z_LAPSED})
    services.run_publish(run=smaller, by=analyst)
    big.refresh_from_db()
    share = f"{12 / 40:.0%}"
    assert share in big.description and "50%" not in big.description and not big.description_stale
    client.force_login(manager)
    page = client.get(reverse("segments:persona-detail", args=[big.pk])).content.decode()
    assert share in page


def test_a_written_description_is_kept_marked_stale_and_can_take_the_suggestion(customers, run, big, marketer,
                                                                                 analyst, client):
    persona_update(persona=big, by=marketer, description="Half of our customers, and they spend.")
    smaller = segmented_run(groups={0: customers[:12], 1: customers[12:]}, zscores={0: Z_BIG, 1: Z_LAPSED})
    services.run_publish(run=smaller, by=analyst)
    big.refresh_from_db()
    assert big.description == "Half of our customers, and they spend." and big.description_stale
    client.force_login(marketer)
    page = client.get(reverse("segments:persona-detail", args=[big.pk])).content.decode()
    assert "was written for the segment the persona followed before" in page and f"{12 / 40:.0%}" in page
    # when the marketer takes the suggestion
    client.post(reverse("segments:persona-description", args=[big.pk]), {"use": "suggestion"})
    big.refresh_from_db()
    assert f"{12 / 40:.0%}" in big.description and not big.description_stale


def test_keeping_a_written_description_clears_the_warning(customers, run, big, marketer, analyst):
    persona_update(persona=big, by=marketer, description="Our best.")
    services.run_publish(run=segmented_run(groups={0: customers[:12], 1: customers[12:]},
                                           zscores={0: Z_BIG, 1: Z_LAPSED}), by=analyst)
    persona_description_settle(persona=big, by=marketer, use_suggestion=False)
    big.refresh_from_db()
    assert big.description == "Our best." and not big.description_stale


# --- pages: New persona, and confirmations that say what will happen ------------------------

def test_the_personas_page_offers_new_persona_to_those_who_may_create_one(run, big, client, marketer, manager):
    client.force_login(marketer)
    page = client.get(reverse("segments:persona-list")).content.decode()
    assert "New persona" in page
    chooser = client.get(reverse("segments:persona-create")).content.decode()
    for segment in run.segments.all():
        assert f"?segment={segment.pk}" in chooser
    assert "Big spenders" in chooser and "no persona yet" in chooser
    client.force_login(manager)
    assert "New persona" not in client.get(reverse("segments:persona-list")).content.decode()


def test_the_create_form_warns_that_another_persona_holds_the_segment(run, big, client, marketer):
    client.force_login(marketer)
    url = reverse("segments:persona-create") + f"?segment={run.segments.get(index=0).pk}"
    form = client.get(url).content.decode()
    assert "already described by" in form and "Big spenders" in form
    data = {"segment": run.segments.get(index=0).pk, "name": "Whales", "colour": "#112233", "status": "draft"}
    refused = client.post(url, data)
    assert refused.status_code == 400 and Persona.objects.count() == 1
    assert client.post(url, {**data, "confirm_shared": "1"}).status_code == 302
    assert Persona.objects.count() == 2


def test_publish_confirmation_lists_relinks_reviews_webhooks_and_campaigns_and_changes_nothing(
        customers, run, big, marketer, analyst, client):
    lapsed = suggested(run.segments.get(index=1), marketer, "Lapsed")
    persona_update(persona=big, by=marketer, status="approved")
    webhooks.webhook_endpoint_create(name="CRM sync", url="https://crm.example.invalid/hooks", by=analyst)
    webhooks.webhook_endpoint_create(name="Lapsed only", url="https://crm.example.invalid/lapsed", persona=lapsed,
                                     by=analyst)
    campaign = campaign_services.campaign_create(name="Spring sale", created_by=marketer, target_personas=[big])
    campaign_services.campaign_launch(campaign=campaign, by=marketer)
    # a run that keeps 12 big spenders together and scatters the lapsed ones
    nxt = segmented_run(groups={0: customers[:12], 1: customers[12:30], 2: customers[30:]},
                        zscores={0: Z_BIG, 1: {"frequency": 1.0}, 2: {"tenure": -1.0}})
    client.force_login(analyst)
    response = client.get(reverse("segments:run-publish", args=[nxt.pk]))
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [(d.persona.name, d.target.index) for d in preview.relinked] == [("Big spenders", 0)]
    assert [d.persona.name for d in preview.review] == ["Lapsed"]
    assert [d.persona.name for d in preview.back_to_draft] == ["Big spenders"]
    # the endpoint for every persona hears of Big spenders; the one for Lapsed hears nothing (not re-linked)
    assert [e.name for e in preview.consequences.webhooks] == ["CRM sync"]
    assert [c.name for c in preview.consequences.campaigns] == ["Spring sale"]
    page = response.content.decode()
    for text in ("Big spenders", "Lapsed", "CRM sync", "Spring sale", "back to draft",
                 f"{preview.relinked[0].best.score:.2f}"):
        assert text in page
    nxt.refresh_from_db()
    assert not nxt.published and current_segment(big).run_id == run.pk  # nothing happened yet
    # when the analyst confirms, what happens is what the page said
    client.post(reverse("segments:run-publish", args=[nxt.pk]))
    nxt.refresh_from_db()
    big.refresh_from_db(), lapsed.refresh_from_db()
    assert nxt.published and current_segment(big) == nxt.segments.get(index=0) and lapsed.needs_review
    assert big.status == "draft"


def test_link_confirmation_names_the_other_persona_and_what_changes(run, big, marketer, client):
    lapsed = suggested(run.segments.get(index=1), marketer, "Lapsed")
    persona_update(persona=lapsed, by=marketer, status="approved")
    draft = campaign_services.campaign_create(name="Win back", created_by=marketer, target_personas=[lapsed])
    client.force_login(marketer)
    url = reverse("segments:persona-link", args=[lapsed.pk])
    target = run.segments.get(index=0)
    page = client.get(url, {"segment": target.pk}).content.decode()
    assert "“Big spenders”" in page and "already describe" in page
    assert "back to <strong>draft</strong>" in page and draft.name in page
    # a POST without the confirmation shows the same page and links nothing
    client.post(url, {"segment": target.pk})
    assert current_segment(lapsed).index == 1
    # a confirmation that did not name the persona holding the segment (it took it since,
    # or the form was forged) shows the page again instead of linking
    page = client.post(url, {"segment": target.pk, "confirm": "1"}).content.decode()
    assert "“Big spenders”" in page and current_segment(lapsed).index == 1
    client.post(url, {"segment": target.pk, "confirm": "1", "shared_with": str(big.pk)})
    lapsed.refresh_from_db()
    assert current_segment(lapsed) == target and lapsed.status == "draft"


def test_the_api_previews_a_publish_with_the_plan_it_then_applies(customers, run, big, marketer, analyst, manager,
                                                                  api_client):
    lapsed = suggested(run.segments.get(index=1), marketer, "Lapsed")
    webhooks.webhook_endpoint_create(name="CRM sync", url="https://crm.example.invalid/hooks", by=analyst)
    draft = campaign_services.campaign_create(name="Win back", created_by=marketer, target_personas=[lapsed])
    nxt = segmented_run(groups={0: customers[:12], 1: customers[12:30], 2: customers[30:]},
                        zscores={0: Z_BIG, 1: {"frequency": 1.0}, 2: {"tenure": -1.0}})
    url = f"/api/v1/runs/{nxt.pk}/publish-preview/"
    assert api_client(manager).get(url).status_code == 403
    response = api_client(analyst).get(url)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(r["persona_name"], r["to_segment"]) for r in body["relinked"]] == [
        ("Big spenders", nxt.segments.get(index=0).pk)]
    assert body["relinked"][0]["jaccard"] == pytest.approx(jaccard(customers[:20], customers[:12]))
    assert [(r["persona_name"], r["held_by"]) for r in body["review"]] == [("Lapsed", None)]
    assert [w["name"] for w in body["webhooks"]] == ["CRM sync"]
    assert [(c["name"], c["status"]) for c in body["campaigns"]] == [(draft.name, "draft")]
    assert body["previous_run"] == run.pk and not type(nxt).objects.get(pk=nxt.pk).published
    # the publish does what the preview said
    api_client(analyst).post(f"/api/v1/runs/{nxt.pk}/publish/")
    assert current_segment(big).pk == body["relinked"][0]["to_segment"]
    assert Persona.objects.get(pk=lapsed.pk).needs_review
    assert api_client(analyst).get(url).status_code == 400  # published already: nothing to preview


def test_the_publish_confirmation_reads_the_same_few_queries_however_many_personas(analyst, marketer, client):
    people = CustomerFactory.create_batch(80)
    groups = {i: people[10 * i:10 * i + 10] for i in range(8)}
    zscores = {i: {"monetary": i - 3.5, "recency": 3.5 - i} for i in range(8)}
    first = segmented_run(groups=groups, zscores=zscores, publish=True, by=analyst)
    nxt = segmented_run(groups={i: members[1:] + groups[(i + 1) % 8][:1] for i, members in groups.items()},
                        zscores=zscores)
    client.force_login(analyst)
    url = reverse("segments:run-publish", args=[nxt.pk])

    def queries(personas: int) -> int:
        for i in range(personas):
            suggested(first.segments.get(index=i), marketer, f"Persona {i}")
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    with_two = queries(2)
    Persona.objects.all().delete()
    assert queries(8) == with_two
