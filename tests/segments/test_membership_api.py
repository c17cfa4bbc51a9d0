"""The membership API: members of personas and segments, pages pinned to a run, delta
and as-of, fields, CSV export (its own operation), cursors that keep their query."""

import csv
import io
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

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
    # any Accept: the CSV operation has one media type (a generated client sends its own)
    for headers in ({}, {"HTTP_ACCEPT": "text/csv"}, {"HTTP_ACCEPT": "application/json"}):
        response = client.get(f"/api/v1/personas/{history['persona'].pk}/members/csv/",
                              {"fields": "external_id,city,distance"}, **headers)
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


def test_csv_is_its_own_operation_and_the_json_one_says_where_it_is(scoped_client, manager, history, customers):
    client = scoped_client(manager, "membership:read")
    url = f"/api/v1/personas/{history['persona'].pk}/members/"
    # given a client still asking the JSON operation for CSV
    for params, headers in (({"format": "csv"}, {}), ({}, {"HTTP_ACCEPT": "text/csv"})):
        response = client.get(url, params, **headers)
        # then a JSON 400 on `format` that names the CSV path
        assert response.status_code == 400 and response["Content-Type"] == "application/json"
        error = response.json()["error"]
        assert "format" in error["fields"] and f"{url}csv/" in error["message"]
    # the CSV operation takes the delta too, and its errors are JSON
    delta = client.get(f"{url}csv/", {"changed_since": history["a"].pk, "fields": "external_id"})
    rows = list(csv.reader(io.StringIO(b"".join(delta.streaming_content).decode())))
    assert rows[0] == ["external_id", "change"] and len(rows) == 1 + 8
    for params, status, field in (({"as_of": "12"}, 400, "as_of"), ({"fields": "salary"}, 400, "fields")):
        response = client.get(f"{url}csv/", params)
        assert response.status_code == status and response["Content-Type"] == "application/json"
        assert field in response.json()["error"]["fields"]
    missing = client.get("/api/v1/personas/999999/members/csv/")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["error"]["status"] == 404


def test_member_operations_have_their_own_ids_and_one_media_type_each():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for owner, kind, noun in (("personas", "persona", "members"), ("segments", "segment", "members"),
                              ("campaigns", "campaign", "audience")):
        page = paths[f"/api/v1/{owner}/{{id}}/members/"]["get"]
        export = paths[f"/api/v1/{owner}/{{id}}/members/csv/"]["get"]
        list_id = f"list_{kind}_{noun}"
        export_id = f"export_{kind}_{noun}_csv" if noun == "members" else "export_campaign_audience_csv"
        assert (page["operationId"], export["operationId"]) == (list_id, export_id)
        assert list(page["responses"]["200"]["content"]) == ["application/json"]
        assert "format" not in {p["name"] for p in page["parameters"]}
        assert export["responses"]["200"]["content"] == {"text/csv": {"schema": {"type": "string"}}}
        assert {p["name"] for p in export["parameters"]} >= {"fields"}
        assert not {p["name"] for p in export["parameters"]} & {"cursor", "page_size"}
        for status in ("400", "403", "404"):
            assert list(export["responses"][status]["content"]) == ["application/json"]


def follow_cursors(client, url, **params):
    """Every page, the first with `params`, the others with nothing but ?cursor=."""
    body = client.get(url, params).json()
    pages = [body]
    while body["cursor"]:
        link = urlsplit(body["next"])
        assert link.scheme == "http" and parse_qs(link.query)["cursor"] == [body["cursor"]]
        response = client.get(url, {"cursor": body["cursor"]})
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body)
    assert body["next"] is None
    return pages


def test_a_cursor_alone_keeps_fields_page_size_and_the_delta(scoped_client, manager, history, customers):
    client = scoped_client(manager, "membership:read")
    url = f"/api/v1/personas/{history['persona'].pk}/members/"
    # when a pull follows only the cursor after a first page with fields, page_size and changed_since
    pages = follow_cursors(client, url, fields="external_id,age", page_size=3, changed_since=history["a"].pk)
    items = [item for page in pages for item in page["results"]]
    # then every page kept them: 8 changes (4 joined, 4 left), 3 a page, each member once
    assert [len(page["results"]) for page in pages] == [3, 3, 2]
    assert all(page["fields"] == ["external_id", "age", "change"] for page in pages)
    assert all(set(item) == {"external_id", "age", "change"} for item in items)
    assert len(items) == len({item["external_id"] for item in items}) == 8
    assert sorted(i["external_id"] for i in items if i["change"] == "left") == sorted(c.external_id for c in customers[:4])
    # and the same with as_of on a segment
    segment = history["a"].segments.get(index=0)
    pages = follow_cursors(client, f"/api/v1/segments/{segment.pk}/members/", fields="external_id,segment",
                           page_size=5, as_of=history["between"].isoformat())
    assert [len(page["results"]) for page in pages] == [5, 5, 2]
    assert all(page["fields"] == ["external_id", "segment"] and page["as_of"] for page in pages)


def test_a_request_that_contradicts_its_cursor_is_refused_naming_the_parameter(scoped_client, manager, history):
    client = scoped_client(manager, "membership:read")
    url = f"/api/v1/personas/{history['persona'].pk}/members/"
    first = client.get(url, {"fields": "external_id,age", "page_size": 4}).json()
    cursor = first["cursor"]
    # the same values (as the next link carries them) are fine
    assert client.get(first["next"]).status_code == 200
    assert client.get(url, {"cursor": cursor, "fields": "external_id,age", "page_size": "4"}).status_code == 200
    for params, field, said in (({"fields": "external_id"}, "fields", "fields=external_id,age"),
                                ({"page_size": 10}, "page_size", "page_size=4"),
                                ({"changed_since": history["a"].pk}, "changed_since", "without changed_since"),
                                ({"as_of": history["between"].isoformat()}, "as_of", "without as_of")):
        response = client.get(url, {"cursor": cursor, **params})
        assert response.status_code == 400, params
        error = response.json()["error"]
        assert list(error["fields"]) == [field] and said in error["message"]
    # a delta's cursor keeps its changed_since: the same run is fine, another is refused
    delta = client.get(url, {"changed_since": history["a"].pk, "page_size": 3}).json()
    assert client.get(url, {"cursor": delta["cursor"], "changed_since": history["a"].pk}).status_code == 200
    other = client.get(url, {"cursor": delta["cursor"], "changed_since": history["b"].pk})
    assert other.status_code == 400 and f"changed_since={history['a'].pk}" in other.json()["error"]["message"]
    # and an as_of cursor takes the same moment written with another offset
    moment = history["between"].astimezone(timezone.get_fixed_timezone(120))
    dated = client.get(url, {"as_of": history["between"].isoformat(), "page_size": 3}).json()
    assert client.get(url, {"cursor": dated["cursor"], "as_of": moment.isoformat()}).status_code == 200
    later = client.get(url, {"cursor": dated["cursor"], "as_of": (moment + timedelta(seconds=1)).isoformat()})
    assert later.status_code == 400 and "as_of" in later.json()["error"]["fields"]


def test_a_cursor_from_before_it_kept_its_query_still_works(scoped_client, manager, history, customers):
    from django.core import signing

    from segments.api.membership import CURSOR_SALT

    client = scoped_client(manager, "membership:read")
    url = f"/api/v1/personas/{history['persona'].pk}/members/"
    first = client.get(url, {"page_size": 5, "fields": "external_id,age"}).json()
    # given a cursor of the earlier format (no kept query), as a pull under way at the upgrade has
    state = signing.loads(first["cursor"], salt=CURSOR_SALT)
    del state["q"]
    old = signing.dumps(state, salt=CURSOR_SALT, compress=True)
    # then its next link's parameters are read from the request, as before
    body = client.get(url, {"cursor": old, "page_size": 5, "fields": "external_id,age"}).json()
    assert len(body["results"]) == 5 and body["fields"] == ["external_id", "age"]
    rest = [item for page in follow_cursors(client, url, cursor=body["cursor"]) for item in page["results"]]
    seen = [i["external_id"] for i in first["results"] + body["results"] + rest]
    assert sorted(seen) == sorted(c.external_id for c in customers[4:16])


def test_as_of_and_changed_since_say_what_each_takes(scoped_client, manager, history):
    client = scoped_client(manager, "membership:read")
    url = f"/api/v1/personas/{history['persona'].pk}/members/"
    as_of = client.get(url, {"as_of": "last week"}).json()["error"]["fields"]["as_of"][0]
    assert "ISO 8601 timestamp" in as_of and "run id" not in as_of
    as_of_run = client.get(url, {"as_of": str(history["a"].pk)}).json()["error"]["fields"]["as_of"][0]
    assert "not a run id" in as_of_run
    since = client.get(url, {"changed_since": "last week"}).json()["error"]["fields"]["changed_since"][0]
    assert since.startswith("Give a run id or an ISO 8601 timestamp")


def test_a_number_that_is_not_ascii_digits_is_a_400_or_404_not_a_server_error(scoped_client, manager, history):
    # "²" passes str.isdigit() but int() refuses it: each of these was a 500 (an HTML page)
    client = scoped_client(manager, "membership:read")
    url = f"/api/v1/personas/{history['persona'].pk}/members/"
    for path, params, field in ((url, {"page_size": "\u00b2"}, "page_size"),
                                (url, {"changed_since": "\u00b2"}, "changed_since"),
                                (url + "csv/", {"changed_since": "\u00b2"}, "changed_since"),
                                ("/api/v1/segments/", {"run": "\u00b2"}, "run")):
        response = client.get(path, params)
        assert response.status_code == 400, (path, params)
        assert list(response.json()["error"]["fields"]) == [field]
    as_of = client.get(url, {"as_of": "\u00b2"})
    assert as_of.status_code == 400 and "as_of" in as_of.json()["error"]["fields"]
    for path in ("/api/v1/personas/\u00b2/members/", "/api/v1/personas/\u00b2/members/csv/"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
