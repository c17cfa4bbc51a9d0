"""The overview dashboard: what it shows at each stage, what it says to do next, and a
fixed number of queries however many customers, runs and personas there are."""

import json
import re

import pytest
from django.urls import reverse

from segments.personas.services import persona_create, persona_update
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db

# Session, user, groups and permissions; the two counts (exact below 100,000 rows, and on
# PostgreSQL each first reads the planner's estimate: two more); publication with run and
# publisher; segments; snapshot; personas, owners and links; link history; recent runs;
# imported attributes (the display names of the runs' features):
# 16 on SQLite, 18 on PostgreSQL, the same with 1 persona and 8, with 1 run and 3.
OVERVIEW_QUERIES = 18


def figure(page: str, element_id: str) -> dict:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S)
    assert found, f"no figure {element_id}"
    return json.loads(found.group(1))


def snapshot_with_rfm(counts: dict[str, int]):
    from django.utils import timezone

    from customers.models import FeatureSnapshot

    return FeatureSnapshot.objects.create(
        status="succeeded", progress=100, as_of=timezone.now(), finished_at=timezone.now(),
        customers=sum(counts.values()), summary={"rfm_segments": counts})


def test_empty_database_says_to_import_or_load_demo_data(client, analyst):
    client.force_login(analyst)
    page = client.get(reverse("home")).content.decode()
    assert "No customers yet" in page
    assert reverse("customers:import-create") in page and "demo_data" in page
    # nothing further is asked for before there are customers
    assert "No customer features yet" not in page and "No published segmentation yet" not in page


def test_customers_without_features_or_run_say_what_comes_next_per_role(client, analyst, manager):
    CustomerFactory.create_batch(3)
    client.force_login(analyst)
    page = client.get(reverse("home")).content.decode()
    assert "No customer features yet" in page and "Compute features now" in page
    assert "No published segmentation yet" in page and reverse("segments:run-create") in page
    client.force_login(manager)
    page = client.get(reverse("home")).content.decode()
    assert "No customer features yet" in page and "Compute features now" not in page
    assert "An Analyst has not published a segmentation yet" in page


def test_published_run_without_personas_asks_a_marketer_to_create_one(client, marketer, analyst):
    customers = CustomerFactory.create_batch(6)
    run = segmented_run(groups={0: customers[:2], 1: customers[2:]}, publish=True, by=analyst)
    client.force_login(marketer)
    page = client.get(reverse("home")).content.decode()
    assert "No personas yet" in page and "Create a persona from this segment" in page
    assert f"#{run.pk} · {run.name}" in page and "published" in page and "by ana" in page
    assert "No published segmentation yet" not in page
    for segment in run.segments.all():
        assert reverse("segments:segment-detail", args=[segment.pk]) in page
    assert figure(page, "sizes-chart")["data"][0]["x"] == [2, 4]


def test_overview_shows_personas_with_shares_review_flags_and_sizes_over_runs(client, manager, marketer, analyst):
    customers = CustomerFactory.create_batch(10)
    first = segmented_run(groups={0: customers[:4], 1: customers[4:]}, revenue={0: 0.75, 1: 0.25},
                          zscores={0: {"monetary": 1.5}, 1: {"monetary": -0.8}}, publish=True, by=analyst)
    persona = persona_create(segment=first.segments.get(index=0), name="Big spenders", by=marketer)
    persona_update(persona=persona, by=marketer, colour="#aa3377")
    # a second publish re-links the persona to the segment that continues it (same members, plus one)
    second = segmented_run(groups={0: customers[:5], 1: customers[5:]}, revenue={0: 0.8, 1: 0.2},
                           zscores={0: {"monetary": 1.4}, 1: {"monetary": -0.9}}, publish=True, by=analyst)
    snapshot_with_rfm({"Champions": 3, "Lost": 6, "No purchases": 1})

    client.force_login(manager)
    page = client.get(reverse("home")).content.decode()

    assert "Big spenders" in page and reverse("segments:persona-detail", args=[persona.pk]) in page
    assert "5 customers" in page and "width: 50.0%; background: #aa3377" in page  # share of customers
    assert "width: 80.0%; background: #aa3377" in page  # share of revenue
    assert f"#{second.pk} · {second.name}" in page
    sizes = figure(page, "persona-sizes-chart")["data"]
    assert [s["name"] for s in sizes] == ["Big spenders"]
    assert sizes[0]["y"] == [4, 5, 5]  # linked at 4, re-linked at 5, still 5 now
    assert sizes[0]["line"]["color"] == "#aa3377"
    rfm = figure(page, "rfm-chart")["data"][0]
    assert dict(zip(rfm["y"], rfm["x"])) == {"Champions": 3, "Lost": 6, "No purchases": 1}
    assert "plotly.min.js" in page and "cdn" not in page.lower()


def test_a_persona_needing_review_is_flagged_on_the_overview(client, manager, marketer, analyst):
    customers = CustomerFactory.create_batch(10)
    run = segmented_run(groups={0: customers[:4], 1: customers[4:]}, publish=True, by=analyst)
    persona = persona_create(segment=run.segments.get(index=0), name="Lapsed", by=marketer)
    type(persona).objects.filter(pk=persona.pk).update(needs_review=True)
    client.force_login(manager)
    page = client.get(reverse("home")).content.decode()
    assert "needs review" in page and "1 to review" in page


def test_overview_queries_do_not_grow_with_customers_runs_or_personas(
        client, manager, marketer, analyst, django_assert_max_num_queries):
    def grow(customers: int, personas: int):
        people = CustomerFactory.create_batch(customers)
        half = len(people) // 2
        run = segmented_run(groups={0: people[:half], 1: people[half:]}, publish=True, by=analyst)
        for index in range(personas):
            # several personas per segment on purpose (confirmed): the count is what grows here
            persona_create(segment=run.segments.get(index=index % 2), name=f"Persona {run.pk}-{index}", by=marketer,
                           confirm_shared=True)
        snapshot_with_rfm({"Champions": customers})

    client.force_login(manager)
    grow(customers=4, personas=1)
    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        assert client.get(reverse("home")).status_code == 200
    grow(customers=40, personas=4)  # a second run published, the first persona re-linked
    grow(customers=60, personas=3)
    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        page = client.get(reverse("home")).content.decode()
    assert page.count('class="persona-summary"') == 8
