"""Persona pages: list, card, create from a segment, edit, history; roles enforced."""

import pytest
from django.urls import reverse

from segments import charts, services
from segments.models import Persona
from segments.personas import selectors
from segments.personas.services import persona_create
from tests.customers.factories import CustomerFactory
from tests.segments.factories import feature_snapshot, segmented_run

pytestmark = pytest.mark.django_db

Z_BIG = {"monetary": 1.5, "recency": -1.0}
Z_LAPSED = {"monetary": -0.8, "recency": 1.2}


@pytest.fixture
def customers():
    return CustomerFactory.create_batch(30)


@pytest.fixture
def run(customers, analyst):
    return segmented_run(groups={0: customers[:10], 1: customers[10:]}, zscores={0: Z_BIG, 1: Z_LAPSED},
                         revenue={0: 0.7, 1: 0.3}, publish=True, by=analyst)


@pytest.fixture
def persona(run, marketer):
    return persona_create(segment=run.segments.get(index=0), name="Big spenders", by=marketer)


def test_empty_persona_list_says_to_publish_a_run_first(client, marketer):
    client.force_login(marketer)
    response = client.get(reverse("segments:persona-list"))
    assert response.status_code == 200
    assert b"Publish a run, then create a persona from one of its segments" in response.content


def test_persona_list_shows_size_shares_segment_and_review_flag(client, manager, persona, django_assert_max_num_queries):
    Persona.objects.filter(pk=persona.pk).update(needs_review=True)
    client.force_login(manager)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("segments:persona-list"))
    page = response.content.decode()
    assert "Big spenders" in page and "needs review" in page
    assert "10 (33% of all)" in page and "70%" in page  # size, share of customers, share of revenue
    assert 'href="/personas/"' in page  # the top navigation


def test_segment_page_offers_a_marketer_to_create_a_persona(client, marketer, manager, run):
    segment = run.segments.get(index=0)
    client.force_login(marketer)
    assert b"Create a persona from this segment" in client.get(reverse("segments:segment-detail", args=[segment.pk])).content
    client.force_login(manager)
    assert b"Create a persona from this segment" not in client.get(reverse("segments:segment-detail", args=[segment.pk])).content


def test_marketer_creates_a_persona_from_a_suggested_name(client, marketer, run):
    segment = run.segments.get(index=0)
    client.force_login(marketer)
    form = client.get(reverse("segments:persona-create") + f"?segment={segment.pk}")
    assert form.status_code == 200
    suggested = form.context["form"].initial["name"]
    assert suggested == "Recent big spenders"
    response = client.post(reverse("segments:persona-create"), {
        "segment": segment.pk, "name": suggested, "colour": "#4e79a7", "status": "draft", "channels": ["email", "push"],
    })
    persona = Persona.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("segments:persona-detail", args=[persona.pk])
    assert persona.channels == ["email", "push"] and persona.history.get().history_user == marketer


def test_bad_form_input_shows_clear_messages_and_creates_nothing(client, marketer, run, persona):
    client.force_login(marketer)
    response = client.post(reverse("segments:persona-create"), {
        "segment": run.segments.get(index=1).pk, "name": "big spenders", "colour": "blue", "status": "draft",
    })
    assert response.status_code == 400
    assert "A persona named “big spenders” already exists" in response.content.decode()
    assert "“blue” is not a colour" in response.content.decode()
    assert Persona.objects.count() == 1


def test_one_submit_reports_every_problem_of_the_persona_form(client, marketer, run, persona):
    # given a persona form without a name and with a colour that is none
    client.force_login(marketer)
    data = {"segment": run.segments.get(index=1).pk, "name": "", "colour": "blue", "status": "draft"}
    response = client.post(reverse("segments:persona-create"), data)
    # then both are reported at once, and nothing is created
    assert response.status_code == 400 and set(response.context["form"].errors) == {"name", "colour"}
    assert "“blue” is not a colour" in response.content.decode()
    assert Persona.objects.count() == 1
    # and editing: a name too long for the field and a bad colour, at once, changing nothing
    response = client.post(reverse("segments:persona-edit", args=[persona.pk]),
                           {"name": "x" * 121, "colour": "blue", "status": "draft"})
    assert response.status_code == 400 and set(response.context["form"].errors) == {"name", "colour"}
    persona.refresh_from_db()
    assert persona.colour != "blue"


def test_edit_and_history_page_show_who_changed_what(client, marketer, persona):
    client.force_login(marketer)
    response = client.post(reverse("segments:persona-edit", args=[persona.pk]), {
        "name": "Big spenders", "colour": "#e15759", "status": "approved", "goals": "Early access",
    })
    assert response.status_code == 302
    history = client.get(reverse("segments:persona-history", args=[persona.pk])).content.decode()
    assert "approved" in history and "Early access" in history and "mark" in history


@pytest.mark.parametrize("url_name, data", [
    ("segments:persona-create", {"name": "X", "colour": "#000000", "status": "draft"}),
    ("segments:persona-edit", {"name": "X", "colour": "#000000", "status": "draft"}),
    ("segments:persona-link", {}),
])
def test_managers_read_personas_but_cannot_change_them(client, manager, analyst, persona, run, url_name, data):
    args = [] if url_name == "segments:persona-create" else [persona.pk]
    data = {**data, "segment": run.segments.get(index=1).pk}
    for user in (manager, analyst):
        client.force_login(user)
        assert client.get(reverse("segments:persona-detail", args=[persona.pk])).status_code == 200
        assert client.post(reverse(url_name, args=args), data).status_code == 403
    persona.refresh_from_db()
    assert persona.name == "Big spenders" and persona.links.count() == 1 and Persona.objects.count() == 1


def test_persona_page_shows_size_revenue_clv_and_rfm_mix_in_few_queries(
        client, manager, persona, customers, django_assert_max_num_queries):
    # given a feature snapshot: the persona's 10 customers have CLV 100..190, 6 champions, 4 at risk
    feature_snapshot({c: (100.0 + 10 * i, "Champions" if i < 6 else "At risk") for i, c in enumerate(customers[:10])}
                     | {c: (1.0, "Lost") for c in customers[10:]})
    client.force_login(manager)
    with django_assert_max_num_queries(24):
        response = client.get(reverse("segments:persona-detail", args=[persona.pk]))
    card = response.context["card"]
    assert (card["size"], card["revenue_share"], card["avg_clv"]) == (10, 0.7, pytest.approx(145.0))
    assert card["rfm"] == {"Champions": 6, "At risk": 4}
    page = response.content.decode()
    assert "145" in page and "70%" in page and "Champions" in page
    assert f'/customers/{customers[0].external_id}/' in page  # example customers link to their page


def test_persona_page_query_count_does_not_grow_with_customers(client, manager, persona, customers,
                                                               django_assert_max_num_queries):
    feature_snapshot({c: (5.0, "Champions") for c in customers})
    client.force_login(manager)
    with django_assert_max_num_queries(24):
        client.get(reverse("segments:persona-detail", args=[persona.pk]))
    more = CustomerFactory.create_batch(200)
    segmented_run(groups={0: customers[:10] + more, 1: customers[10:]}, zscores={0: Z_BIG, 1: Z_LAPSED}, publish=True)
    with django_assert_max_num_queries(24):
        assert client.get(reverse("segments:persona-detail", args=[persona.pk])).status_code == 200


def test_sankey_flows_add_up_to_the_customers_in_both_runs(client, manager, persona, customers, run, analyst):
    # given a second run over 25 of the 30 customers, and 5 new ones only in it
    newcomers = CustomerFactory.create_batch(5)
    second = segmented_run(groups={0: customers[:12] + newcomers, 1: customers[12:25]},
                           zscores={0: Z_BIG, 1: Z_LAPSED})
    services.run_publish(run=second, by=analyst)
    client.force_login(manager)
    response = client.get(reverse("segments:persona-detail", args=[persona.pk]))
    assert (response.context["run_a"], response.context["run_b"]) == (run, second)
    data = charts.sankey_data(response.context["comparison"])
    assert sum(data["value"]) == 25 == response.context["comparison"]["customers_in_both"]
    sankey = response.context["sankey_chart"]["data"][0]
    assert sankey["type"] == "sankey" and sum(sankey["link"]["value"]) == 25
    assert b"25 customers in both runs" in response.content


def test_needs_review_page_offers_the_candidates_and_a_marketer_links_one(client, marketer, persona, customers, analyst):
    scattered = segmented_run(groups={0: customers[:4] + customers[10:20], 1: customers[4:7] + customers[20:25],
                                      2: customers[7:10] + customers[25:]},
                              zscores={0: {"monetary": 0.1}, 1: {"recency": 0.4}, 2: {"monetary": -0.2}})
    services.run_publish(run=scattered, by=analyst)
    client.force_login(marketer)
    page = client.get(reverse("segments:persona-detail", args=[persona.pk])).content.decode()
    assert "Needs review" in page and "Link to this segment" in page
    target = scattered.segments.get(index=1)
    client.post(reverse("segments:persona-link", args=[persona.pk]), {"segment": target.pk, "confirm": "1"})
    assert selectors.current_link(Persona.objects.get(pk=persona.pk)).segment == target


def test_customer_page_shows_the_segments_and_personas_over_publications(client, manager, persona, customers, run, analyst):
    # given customer 9 was a big spender in the first run and is in the other segment of the second
    second = segmented_run(groups={0: customers[:9], 1: customers[9:]}, zscores={0: Z_BIG, 1: Z_LAPSED})
    services.run_publish(run=second, by=analyst)
    client.force_login(manager)
    response = client.get(reverse("customers:customer-detail", args=[customers[9].external_id]))
    rows = [(h["run"].pk, h["segment"].index, h["personas"]) for h in response.context["segment_history"]]
    assert rows == [(second.pk, 1, []), (run.pk, 0, ["Big spenders"])]
    assert b"Segments and personas over time" in response.content
