"""GET/POST /api/v1/personas/, GET/PATCH /api/v1/personas/{id}/."""

import pytest

from segments import services
from segments.models import Persona
from segments.personas.services import persona_create
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db

URL = "/api/v1/personas/"


@pytest.fixture
def customers():
    return CustomerFactory.create_batch(20)


@pytest.fixture
def run(customers, analyst):
    return segmented_run(groups={0: customers[:10], 1: customers[10:]},
                         zscores={0: {"monetary": 1.2}, 1: {"monetary": -1.2}}, publish=True, by=analyst)


@pytest.fixture
def persona(run, marketer):
    return persona_create(segment=run.segments.get(index=0), name="Big spenders", by=marketer)


def test_list_gives_each_persona_with_its_current_link_and_match_score(api_client, manager, marketer, persona, run, customers,
                                                                      analyst, django_assert_max_num_queries):
    second = segmented_run(groups={0: customers[:9], 1: customers[9:]}, zscores={0: {"monetary": 1.1}, 1: {"monetary": -1.0}})
    services.run_publish(run=second, by=analyst)
    persona_create(segment=second.segments.get(index=1), name="Thrifty", by=marketer)
    with django_assert_max_num_queries(10):
        response = api_client(manager).get(URL)
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["results"]}
    link = rows["Big spenders"]["current_link"]
    assert (link["run"], link["segment_index"], link["how"], link["size"]) == (second.pk, 0, "relinked", 9)
    assert link["jaccard"] == pytest.approx(0.9) and link["score"] > 0.55
    assert rows["Big spenders"]["needs_review"] is False and rows["Big spenders"]["review"] is None


def test_marketer_creates_a_persona_from_a_segment(api_client, marketer, run):
    response = api_client(marketer).post(URL, {
        "segment": run.segments.get(index=1).pk, "name": "Thrifty", "colour": "#59A14F", "channels": ["email", "ads"],
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["colour"] == "#59a14f" and body["owner"] == "mark" and body["status"] == "draft"
    assert body["current_link"]["segment_index"] == 1 and body["current_link"]["how"] == "created"
    assert Persona.objects.get().history.get().history_user == marketer


def test_marketer_patches_a_persona_and_the_change_is_in_its_history(api_client, marketer, persona):
    response = api_client(marketer).patch(f"{URL}{persona.pk}/", {"status": "approved", "notes": "Q3 focus"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    latest = persona.history.latest()
    assert latest.history_user == marketer and latest.notes == "Q3 focus"


@pytest.mark.parametrize("body, field, message", [
    ({"name": "BIG spenders"}, "name", "already exists"),
    ({"colour": "#12345"}, "colour", "not a colour"),
    ({"channels": ["fax"]}, "channels", "not a valid choice"),
    ({"segment": 999999}, "segment", "does not exist"),
])
def test_bad_input_gets_400_with_the_field_and_creates_nothing(api_client, marketer, persona, run, body, field, message):
    data = {"segment": run.segments.get(index=1).pk, "name": "Thrifty", **body}
    response = api_client(marketer).post(URL, data, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in " ".join(error["fields"][field])
    assert Persona.objects.count() == 1


def test_patch_with_a_bad_colour_gets_400_and_changes_nothing(api_client, marketer, persona):
    response = api_client(marketer).patch(f"{URL}{persona.pk}/", {"colour": "red", "notes": "x"}, format="json")
    assert response.status_code == 400 and "colour" in response.json()["error"]["fields"]
    persona.refresh_from_db()
    assert persona.colour == "#4c78a8" and persona.notes == ""


def test_a_segment_outside_the_published_run_is_refused(api_client, marketer, run, customers):
    other = segmented_run(groups={0: customers})
    response = api_client(marketer).post(URL, {"segment": other.segments.get().pk, "name": "Everyone"}, format="json")
    assert response.status_code == 400
    assert "not the published run" in response.json()["error"]["fields"]["segment"][0]


def test_managers_and_analysts_read_but_cannot_write(api_client, manager, analyst, persona, run):
    for user in (manager, analyst):
        client = api_client(user)
        assert client.get(f"{URL}{persona.pk}/").status_code == 200
        assert client.post(URL, {"segment": run.segments.get(index=1).pk, "name": "X"}, format="json").status_code == 403
        assert client.patch(f"{URL}{persona.pk}/", {"name": "Renamed"}, format="json").status_code == 403
    assert api_client().get(URL).status_code in (401, 403)
    persona.refresh_from_db()
    assert persona.name == "Big spenders" and Persona.objects.count() == 1


def test_put_is_not_offered(api_client, marketer, persona):
    assert api_client(marketer).put(f"{URL}{persona.pk}/", {"name": "X"}, format="json").status_code == 405
