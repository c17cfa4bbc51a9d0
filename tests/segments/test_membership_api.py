"""The membership API: members of personas and segments, pages pinned to a run, delta
and as-of, fields, CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from segments import services
from segments.models import PersonaLink, RunPublication, SegmentationRun
from segments.personas.services import persona_create
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db


def pull_all(client, url, **params):
    """Every page of a pull: (items, first page's body, pages)."""
    items, first, pages = [], None, 0
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        first = first or body
        items += body["results"]
        pages += 1
        if not body["next"]:
            return items, first, pages
        response = client.get(body["next"])


@pytest.fixture
def customers():
    return CustomerFactory.create_batch(30)


@pytest.fixture
def history(customers, analyst, marketer):
    """Run A published with a persona on segment 0 (customers 0-11), then run B whose
    segment 0 (customers 4-15) continues it: 4 left, 4 joined. Publications are moved to
    fixed moments so that as_of can land between them."""
    run_a = segmented_run(groups={0: customers[:12], 1: customers[12:]}, zscores={0: {"monetary": 1.0}, 1: {"monetary": -1.0}},
                          publish=True, by=analyst)
    persona = persona_create(segment=run_a.segments.get(index=0), name="Big spenders", by=marketer)
    run_b = segmented_run(groups={0: customers[4:16], 1: customers[:4] + customers[16:]},
                          zscores={0: {"monetary": 1.0}, 1: {"monetary": -1.0}})
    services.run_publish(run=run_b, by=analyst)
    assert persona.links.get(unlinked_at__isnull=True).run_id == run_b.pk  # re-linked
    base = timezone.now() - timedelta(days=10)
    published_a, created, published_b = base, base + timedelta(hours=1), base + timedelta(days=5)
    RunPublication.objects.filter(run=run_a).update(published_at=published_a, unpublished_at=published_b)
    RunPublication.objects.filter(run=run_b).update(published_at=published_b)
    SegmentationRun.objects.filter(pk__in=[run_a.pk, run_b.pk]).update(finished_at=base - timedelta(hours=1))
    PersonaLink.objects.filter(persona=persona, run=run_a).update(linked_at=created, unlinked_at=published_b)
    PersonaLink.objects.filter(persona=persona, run=run_b).update(linked_at=published_b)
    return {"a": run_a, "b": run_b, "persona": persona, "between": base + timedelta(days=2),
            "before": base - timedelta(days=1)}


def ids(items):
    return sorted(item["external_id"] for item in items)


def test_persona_members_are_its_current_segment_every_member_once(scoped_client, manager, history, customers):
    client = scoped_client(manager, "membership:read")
    items, first, pages = pull_all(client, f"/api/v1/personas/{history['persona'].pk}/members/", page_size=5)
    assert ids(items) == sorted(c.external_id for c in customers[4:16])
    assert pages == 3 and first["run"] == history["b"].pk and first["run_published"] is True


def test_a_pull_continues_on_its_run_when_a_new_run_is_published_mid_pull(scoped_client, manager, analyst, history, customers):
    # given a pull of the persona that has read its first page on run B
    client = scoped_client(manager, "membership:read")
    response = client.get(f"/api/v1/personas/{history['persona'].pk}/members/", {"page_size": 5})
    body = response.json()
    seen = [item["external_id"] for item in body["results"]]
    # when run C, where the persona's customers are 6-17, is published between two pages
    run_c = segmented_run(groups={0: customers[6:18], 1: customers[:6] + customers[18:]},
                          zscores={0: {"monetary": 1.0}, 1: {"monetary": -1.0}})
    services.run_publish(run=run_c, by=analyst)
    assert history["persona"].links.get(unlinked_at__isnull=True).run_id == run_c.pk
    next_url = body["next"]
    while next_url:
        body = client.get(next_url).json()
        assert body["run"] == history["b"].pk
        seen += [item["external_id"] for item in body["results"]]
        next_url = body["next"]
    # then the pull returned run B's members, each exactly once
    assert sorted(seen) == sorted(c.external_id for c in customers[4:16]) and len(seen) == len(set(seen))
    # and a new pull reads run C
    items, first, _ = pull_all(client, f"/api/v1/personas/{history['persona'].pk}/members/", page_size=7)
    assert first["run"] == run_c.pk and ids(items) == sorted(c.external_id for c in customers[6:18])


def test_delta_since_a_run_lists_who_joined_and_who_left(scoped_client, manager, history, customers):
    client = scoped_client(manager, "membership:read")
    url = f"/api/v1/personas/{history['persona'].pk}/members/"
    for since in (history["a"].pk, history["between"].isoformat()):
        items, first, _ = pull_all(client, url, changed_since=since, page_size=3, fields="external_id,segment")
        joined = sorted(i["external_id"] for i in items if i["change"] == "joined")
        left = sorted(i["external_id"] for i in items if i["change"] == "left")
        assert joined == sorted(c.external_id for c in customers[12:16])
        assert left == sorted(c.external_id for c in customers[:4])
        assert first["changed_since"]["run"] == history["a"].pk
        # a customer who left shows the segment they left
        assert {i["segment"] for i in items if i["change"] == "left"} == {history["a"].segments.get(index=0).pk}
    # nothing changed since the current run
    items, _, _ = pull_all(client, url, changed_since=history["b"].pk)
    assert items == []


def test_as_of_gives_the_membership_as_it_was(scoped_client, manager, history, customers):
    client = scoped_client(manager, "membership:read")
    url = f"/api/v1/personas/{history['persona'].pk}/members/"
    items, first, _ = pull_all(client, url, as_of=history["between"].isoformat())
    assert ids(items) == sorted(c.external_id for c in customers[:12]) and first["run"] == history["a"].pk
    # a timestamp pasted into the URL unencoded ("+00:00" arrives as " 00:00") reads the same
    raw = client.get(f"{url}?as_of={history['between'].isoformat()}").json()
    assert raw["run"] == history["a"].pk and len(raw["results"]) == 12
    items, first, _ = pull_all(client, url, as_of=history["before"].isoformat())
    assert items == [] and first["run"] is None  # the persona did not exist yet
    # and a delta from before the persona existed: everyone of then joined
    items, _, _ = pull_all(client, url, as_of=history["between"].isoformat(), changed_since=history["before"].isoformat())
    assert {i["change"] for i in items} == {"joined"} and len(items) == 12


def test_segment_members_with_fields_delta_and_as_of(scoped_client, manager, history, customers):
    client = scoped_client(manager, "membership:read")
    segment_b = history["b"].segments.get(index=0)
    url = f"/api/v1/segments/{segment_b.pk}/members/"
    items, first, _ = pull_all(client, url, fields="external_id,country,distance,segment", page_size=4)
    assert ids(items) == sorted(c.external_id for c in customers[4:16])
    assert items[0] == {"external_id": items[0]["external_id"], "country": "United Kingdom", "distance": 0.5,
                        "segment": segment_b.pk}
    # compared with its predecessor in run A (segment 0, which shares 8 customers)
    items, first, _ = pull_all(client, url, changed_since=history["a"].pk)
    assert first["changed_since"]["segment"] == history["a"].segments.get(index=0).pk
    assert sorted(i["external_id"] for i in items if i["change"] == "joined") == sorted(c.external_id for c in customers[12:16])
    items, _, _ = pull_all(client, url, as_of=history["before"].isoformat())
    assert items == []


def test_member_parameters_are_checked_with_readable_errors(scoped_client, manager, history):
    client = scoped_client(manager, "membership:read")
    url = f"/api/v1/personas/{history['persona'].pk}/members/"
    for params, field in [({"fields": "external_id,password"}, "fields"), ({"page_size": 10_001}, "page_size"),
                          ({"cursor": "forged"}, "cursor"), ({"changed_since": "yesterday"}, "changed_since"),
                          ({"changed_since": "999999"}, "changed_since"), ({"as_of": "12"}, "as_of")]:
        response = client.get(url, params)
        assert response.status_code == 400, params
        assert field in response.json()["error"]["fields"]


def test_csv_export_streams_every_member_with_formula_cells_neutralised(scoped_client, manager, history, customers):
    from customers.models import Customer

    members = customers[4:16]
    Customer.objects.filter(pk=members[0].pk).update(city="=HYPERLINK(\"http://evil\")")
    Customer.objects.filter(pk=members[1].pk).update(city="+49 30 1234")
    Customer.objects.filter(pk=members[2].pk).update(city="-5")  # a plain number: stays a number
    Customer.objects.filter(pk=members[3].pk).update(city="@SUM(A1)")
    Customer.objects.filter(pk=members[4].pk).update(city="-2+3")
    client = scoped_client(manager, "membership:read")
    for params in ({"format": "csv"}, {}):
        headers = {} if params else {"HTTP_ACCEPT": "text/csv"}
        response = client.get(f"/api/v1/personas/{history['persona'].pk}/members/",
                              {**params, "fields": "external_id,city,distance"}, **headers)
        assert response.status_code == 200 and response.streaming
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert rows[0] == ["external_id", "city", "distance"] and len(rows) == 13
        cities = {row[0]: row[1] for row in rows[1:]}
        assert cities[members[0].external_id] == "'=HYPERLINK(\"http://evil\")"
        assert cities[members[1].external_id] == "'+49 30 1234"
        assert cities[members[2].external_id] == "-5"
        assert cities[members[3].external_id] == "'@SUM(A1)"
        assert cities[members[4].external_id] == "'-2+3"
        assert {row[2] for row in rows[1:]} == {"0.5"}


def test_neutralise_keeps_numbers_and_prefixes_formula_text():
    from decimal import Decimal

    from custseg_site.csv_export import neutralise

    assert neutralise(-5) == -5 and neutralise(-0.25) == -0.25 and neutralise(Decimal("-3.10")) == Decimal("-3.10")
    assert [neutralise(v) for v in ("-5", "+3.5", "-1e3", "Anna", "", None)] == ["-5", "+3.5", "-1e3", "Anna", "", ""]
    assert [neutralise(v) for v in ("=1+1", "-2+3", "+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "\r=1", "- 5")] == [
        "'=1+1", "'-2+3", "'+cmd|' /C calc'!A0", "'@SUM(A1)", "'\t=1", "'\r=1", "'- 5"]


def test_a_cursor_works_only_on_its_own_list_and_odd_ids_survive_json(scoped_client, manager, history, customers):
    from customers.models import Customer

    Customer.objects.filter(pk=customers[5].pk).update(external_id='x","y\\",')
    client = scoped_client(manager, "membership:read")
    body = client.get(f"/api/v1/personas/{history['persona'].pk}/members/", {"page_size": 3}).json()
    segment = history["b"].segments.get(index=0)
    cursor = body["next"].split("cursor=")[1]
    response = client.get(f"/api/v1/segments/{segment.pk}/members/?cursor={cursor}")
    assert response.status_code == 400 and "cursor" in response.json()["error"]["fields"]
    items, _, _ = pull_all(client, f"/api/v1/personas/{history['persona'].pk}/members/", page_size=4)
    assert 'x","y\\",' in [item["external_id"] for item in items]
