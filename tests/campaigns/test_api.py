"""Campaigns API: create, change, launch, members (paged, CSV, holdout left out), outcomes
(a JSON list at once, a file in the background: follow, cancel, rejected rows), results;
roles enforced."""

import io
from decimal import Decimal

import pytest

from campaigns import services
from campaigns.models import CampaignMember, CampaignOutcome, OutcomeImport
from campaigns.services import outcome_imports
from tests.campaigns.factories import campaign, world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(analyst):
    return world(sizes=(40, 20, 10), by=analyst)


def test_marketer_creates_changes_and_launches_a_campaign(api_client, marketer, w):
    api = api_client(marketer)
    created = api.post("/api/v1/campaigns/", {
        "name": "Spring", "channel": "push", "target_personas": [w.big.pk], "holdout_share": "0.25", "seed": 5,
    }, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft" and body["holdout_share"] == "0.2500" and body["created_by"] == "mark"
    changed = api.patch(f"/api/v1/campaigns/{body['id']}/", {"target_segments": [w.run.segments.get(index=2).pk]},
                        format="json")
    assert changed.status_code == 200 and len(changed.json()["target_segments"]) == 1
    launched = api.post(f"/api/v1/campaigns/{body['id']}/launch/").json()
    # 40 x 0.25 = 10 and 10 x 0.25 = 2.5 -> 3 held out
    assert launched["status"] == "active" and (launched["treated_count"], launched["control_count"]) == (37, 13)
    again = api.post(f"/api/v1/campaigns/{body['id']}/launch/")
    assert again.status_code == 400 and "frozen" in again.json()["error"]["message"]
    frozen = api.patch(f"/api/v1/campaigns/{body['id']}/", {"seed": 6}, format="json")
    assert frozen.status_code == 400 and "frozen at launch" in frozen.json()["error"]["fields"]["seed"][0]


def test_invalid_campaign_gets_field_messages(api_client, marketer, w):
    response = api_client(marketer).post("/api/v1/campaigns/", {
        "name": "x", "start_date": "2026-05-02", "end_date": "2026-05-01", "holdout_share": "0.9"}, format="json")
    fields = response.json()["error"]["fields"]
    assert response.status_code == 400
    assert set(fields) >= {"end_date", "holdout_share", "target_personas"}


def test_members_are_paged_by_customer_id_without_the_holdout(api_client, manager, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0.1")))
    api = api_client(manager)
    seen, url = [], f"/api/v1/campaigns/{c.pk}/members/?page_size=7"
    while url:
        page = api.get(url).json()
        seen += page["results"]
        url = page["next"]
    ids = [m["external_id"] for m in seen]
    treated = CampaignMember.objects.filter(campaign=c, is_control=False).order_by("customer_id")
    assert ids == list(treated.values_list("customer__external_id", flat=True)) and len(set(ids)) == 54
    assert not any(m["is_control"] for m in seen)
    everyone = api.get(f"/api/v1/campaigns/{c.pk}/members/?include_control=true&page_size=10000").json()["results"]
    assert len(everyone) == 60 and sum(m["is_control"] is True for m in everyone) == 6
    assert {m["persona_name"] for m in everyone} == {"Big spenders", "Lapsed"}


def test_include_control_that_contradicts_the_cursor_is_refused(api_client, manager, marketer, w):
    # given a pull of the audience without the holdout, on its first page
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0.1")))
    api = api_client(manager)
    url = f"/api/v1/campaigns/{c.pk}/members/"
    cursor = api.get(url, {"page_size": 7}).json()["cursor"]
    # when the next page asks for the holdout too, it is refused naming include_control (it was
    # silently left out: the cursor's choice won)
    contradicted = api.get(url, {"cursor": cursor, "include_control": "true"})
    assert contradicted.status_code == 400
    assert list(contradicted.json()["error"]["fields"]) == ["include_control"]
    assert "include_control=false" in contradicted.json()["error"]["message"]
    # the same value, or none, follows the cursor
    assert api.get(url, {"cursor": cursor, "include_control": "false"}).status_code == 200
    # and a pull with the holdout is not turned into one without it: a client asking for no
    # holdout got holdout rows, people who must not be contacted
    with_holdout = api.get(url, {"page_size": 7, "include_control": "true"}).json()["cursor"]
    refused = api.get(url, {"cursor": with_holdout, "include_control": "false"})
    assert refused.status_code == 400 and list(refused.json()["error"]["fields"]) == ["include_control"]
    assert api.get(url, {"cursor": with_holdout}).json()["include_control"] is True


def test_audience_fields_are_selectable_and_a_frozen_audience_has_no_delta(api_client, manager, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0.1")))
    api = api_client(manager)
    page = api.get(f"/api/v1/campaigns/{c.pk}/members/?fields=external_id,age,is_control&include_control=true")
    assert page.status_code == 200
    body = page.json()
    assert body["fields"] == ["external_id", "age", "is_control"] and body["include_control"] is True
    assert set(body["results"][0]) == {"external_id", "age", "is_control"}
    assert {(m["external_id"], m["age"]) for m in body["results"]} == {(m.external_id, m.age) for m in w.customers[:60]}
    bad = api.get(f"/api/v1/campaigns/{c.pk}/members/?fields=external_id,salary")
    assert bad.status_code == 400 and "salary" in str(bad.json())
    frozen = api.get(f"/api/v1/campaigns/{c.pk}/members/?changed_since=2026-01-01")
    assert frozen.status_code == 400 and "frozen" in str(frozen.json())
    # an error asked for as CSV is still the JSON error, and says so
    csv_error = api.get(f"/api/v1/campaigns/{c.pk}/members/csv/?fields=salary")
    assert csv_error.status_code == 400 and csv_error["Content-Type"] == "application/json"
    assert "salary" in csv_error.json()["error"]["message"]
    assert api.get("/api/v1/campaigns/abc/members/").status_code == 404


def test_members_csv_export_excludes_the_holdout_and_neutralises_formulas(api_client, manager, marketer, w):
    w.customers[0].external_id = "=HYPERLINK(\"x\")"
    w.customers[0].save()
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0")))
    response = api_client(manager).get(f"/api/v1/campaigns/{c.pk}/members/csv/")
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0] == "external_id,persona,persona_name,segment,is_control"
    assert len(text.splitlines()) == 61 and "'=HYPERLINK" in text
    assert all(line.endswith(",false") for line in text.splitlines()[1:])


def test_outcomes_by_json_and_csv_account_for_every_row(api_client, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer))
    member = CampaignMember.objects.filter(campaign=c).select_related("customer").first()
    api = api_client(marketer)
    rows = [{"customer": member.customer.external_id, "event": "converted", "revenue": "10.5",
             "timestamp": "2026-03-01T10:00:00Z"},
            {"customer": member.customer.external_id, "event": "exploded", "timestamp": "2026-03-01"},
            "not an object"]
    # a short JSON list is imported at once: 201 with the report
    response = api.post(f"/api/v1/campaigns/{c.pk}/outcomes/", rows, format="json")
    report = response.json()
    assert response.status_code == 201 and report["status"] == "succeeded"
    assert (report["rows"], report["added"], report["rejected"]) == (3, 1, 2)
    assert [r["line"] for r in report["rejections"]] == [2, 3]
    assert report["rejections"][0]["cells"] == [member.customer.external_id, "exploded", "", "2026-03-01"]
    # a file is accepted (202) and imported in the background
    upload = io.BytesIO(f"customer_id;event;revenue;timestamp\n{member.customer.external_id};converted;10.5;"
                        f"2026-03-01T10:00:00Z\n".encode())
    upload.name = "again.csv"
    accepted = api.post(f"/api/v1/campaigns/{c.pk}/outcomes/", {"file": upload}, format="multipart")
    body = accepted.json()
    assert accepted.status_code == 202 and body["status"] == "pending" and accepted["Location"] == body["url"]
    outcome_imports.outcome_import_execute(import_id=body["id"])  # the worker's part
    report = api.get(body["url"]).json()
    assert report["status"] == "succeeded" and report["progress"] == 100
    assert (report["rows"], report["added"], report["duplicates"]) == (1, 0, 1)
    assert CampaignOutcome.objects.count() == 1


def test_a_long_json_list_is_refused_with_a_pointer_to_the_file_upload(api_client, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer))
    rows = [{"customer": "x", "event": "opened", "timestamp": "2026-03-01"}] * (outcome_imports.JSON_MAX_ROWS + 1)
    response = api_client(marketer).post(f"/api/v1/campaigns/{c.pk}/outcomes/", rows, format="json")
    assert response.status_code == 400 and "Upload them as a CSV file" in response.json()["error"]["message"]
    empty = api_client(marketer).post(f"/api/v1/campaigns/{c.pk}/outcomes/", [], format="json")
    assert empty.status_code == 400 and "The list is empty" in empty.json()["error"]["message"]
    assert not OutcomeImport.objects.exists()


def test_a_bad_file_is_a_400_and_stores_nothing(api_client, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer))
    upload = io.BytesIO(b"who,what\nA,opened\n")
    upload.name = "bad.csv"
    response = api_client(marketer).post(f"/api/v1/campaigns/{c.pk}/outcomes/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "no customer, event, timestamp column" in response.json()["error"]["fields"]["file"][0]
    assert not OutcomeImport.objects.exists()
    assert list(outcome_imports.outcome_dir().iterdir()) == []  # the upload was not kept


def test_an_import_is_followed_cancelled_and_its_rejected_rows_downloaded(api_client, marketer, manager, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer))
    api = api_client(marketer)
    upload = io.BytesIO(b"customer,event,timestamp\nNOPE,opened,2026-03-01\n")
    upload.name = "o.csv"
    pending = api.post(f"/api/v1/campaigns/{c.pk}/outcomes/", {"file": upload}, format="multipart").json()
    # a Manager reads it but may not cancel it
    assert api_client(manager).get(pending["url"]).json()["status"] == "pending"
    assert api_client(manager).post(pending["cancel_url"]).status_code == 403
    cancelled = api.post(pending["cancel_url"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.post(pending["cancel_url"])
    assert again.status_code == 400 and "already finished (cancelled)" in again.json()["error"]["message"]
    outcome_imports.outcome_import_execute(import_id=pending["id"])  # a worker that gets it afterwards leaves it alone
    assert api.get(pending["url"]).json()["status"] == "cancelled"

    upload = io.BytesIO(b"customer,event,timestamp\nNOPE,opened,2026-03-01\n")
    upload.name = "o.csv"
    done = api.post(f"/api/v1/campaigns/{c.pk}/outcomes/", {"file": upload}, format="multipart").json()
    outcome_imports.outcome_import_execute(import_id=done["id"])
    report = api_client(manager).get(done["url"]).json()
    assert report["rejected"] == 1 and report["reasons"] == {"unknown customer": 1}
    response = api_client(manager).get(report["rejected_rows_url"])
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert b"".join(response.streaming_content).decode().splitlines() == [
        "line,reason,customer,event,timestamp", "2,unknown customer “NOPE”,NOPE,opened,2026-03-01"]


def test_results_give_lift_per_persona(api_client, manager, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0.25")))
    treated = CampaignMember.objects.filter(campaign=c, via_persona=w.big, is_control=False).select_related("customer")
    outcome_imports.outcome_import_json(campaign=c, rows=[
        {"customer": m.customer.external_id, "event": "converted", "revenue": "20", "timestamp": "2026-03-01"}
        for m in treated[:15]])
    body = api_client(manager).get(f"/api/v1/campaigns/{c.pk}/results/").json()
    big = next(p for p in body["personas"] if p["label"] == "Big spenders")
    assert big["reach"] == 30 and big["treated"]["conversion_rate"]["rate"] == pytest.approx(0.5)
    assert big["conversion_lift"]["difference"] == pytest.approx(0.5)
    assert big["conversion_lift"]["p_value"] < 0.01
    assert big["conversion_lift"]["significant"] and big["conversion_lift"]["difference_low"] > 0
    assert big["conversion_lift"]["method"] == "score method"
    assert body["total"]["treated"]["revenue"] == "300.00"


def test_results_before_any_outcome_give_no_lift(api_client, manager, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer))
    body = api_client(manager).get(f"/api/v1/campaigns/{c.pk}/results/").json()
    # no measured lift of 0 with a [0, 0] interval: no lift at all until outcomes come
    assert body["total"]["conversion_lift"] is None and body["total"]["response_lift"] is None
    assert all(p["conversion_lift"] is None for p in body["personas"])


def test_a_draft_is_deleted_a_launched_campaign_is_refused_and_kept(api_client, manager, marketer, w):
    draft, launched = campaign(w, by=marketer, name="Draft"), services.campaign_launch(
        campaign=campaign(w, by=marketer, name="Sent"))
    api = api_client(marketer)
    assert api_client(manager).delete(f"/api/v1/campaigns/{draft.pk}/").status_code == 403
    assert api.delete(f"/api/v1/campaigns/{draft.pk}/").status_code == 204
    assert api.get(f"/api/v1/campaigns/{draft.pk}/").status_code == 404
    refused = api.delete(f"/api/v1/campaigns/{launched.pk}/")
    assert refused.status_code == 400
    assert "a launched campaign is kept, with its audience and outcomes" in refused.json()["error"]["message"]
    assert api.get(f"/api/v1/campaigns/{launched.pk}/").json()["treated_count"] == launched.treated_count


def test_deleting_takes_a_campaigns_write_token(scoped_client, marketer, w):
    draft = campaign(w, by=marketer)
    assert scoped_client(marketer, "campaigns:read").delete(f"/api/v1/campaigns/{draft.pk}/").status_code == 403
    assert scoped_client(marketer, "campaigns:write").delete(f"/api/v1/campaigns/{draft.pk}/").status_code == 204


def test_manager_reads_but_cannot_write(api_client, manager, marketer, w):
    c = campaign(w, by=marketer)
    api = api_client(manager)
    assert api.get("/api/v1/campaigns/").status_code == 200
    assert api.get(f"/api/v1/campaigns/{c.pk}/").status_code == 200
    assert api.post("/api/v1/campaigns/", {"name": "x"}, format="json").status_code == 403
    assert api.patch(f"/api/v1/campaigns/{c.pk}/", {"name": "y"}, format="json").status_code == 403
    assert api.post(f"/api/v1/campaigns/{c.pk}/launch/").status_code == 403
    assert api.post(f"/api/v1/campaigns/{c.pk}/outcomes/", [], format="json").status_code == 403
    assert api_client(None).get("/api/v1/campaigns/").status_code in (401, 403)


def test_campaign_list_query_count_does_not_grow(api_client, manager, marketer, w, django_assert_max_num_queries):
    for n in range(5):
        campaign(w, by=marketer, name=f"c{n}")
    # token, user, permissions, the page and one query per many-to-many field: none per campaign
    with django_assert_max_num_queries(12):
        assert len(api_client(manager).get("/api/v1/campaigns/").json()["results"]) == 5


def test_a_membership_token_pulls_a_campaign_audience_but_cannot_change_the_campaign(scoped_client, manager, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0.1")))
    client = scoped_client(manager, "membership:read")
    members = client.get(f"/api/v1/campaigns/{c.pk}/members/?page_size=10000")
    assert members.status_code == 200 and len(members.json()["results"]) == 54
    assert client.get(f"/api/v1/campaigns/{c.pk}/").status_code == 403
    assert client.get(f"/api/v1/campaigns/{c.pk}/results/").status_code == 403
