"""Campaign pages: list, form messages, detail with audience and results, launch,
outcome upload (the import's page: progress, report, cancel), CSV export, persona card
section; roles enforced."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns import services
from campaigns.models import Campaign, CampaignMember, CampaignOutcome, OutcomeImport
from campaigns.services import outcome_imports
from customers.models import Customer
from tests.campaigns.factories import campaign, world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(analyst):
    return world(sizes=(40, 20, 10), by=analyst)


def test_empty_campaign_list_says_what_to_do_next(client, marketer):
    client.force_login(marketer)
    page = client.get(reverse("campaigns:campaign-list")).content.decode()
    assert "No campaigns yet" in page and "An Analyst publishes a run first" in page
    assert 'href="/campaigns/"' in page  # the top navigation


def test_empty_list_with_a_published_run_offers_to_create_one(client, marketer, w):
    client.force_login(marketer)
    page = client.get(reverse("campaigns:campaign-list")).content.decode()
    assert "then launch it to freeze its audience" in page and reverse("campaigns:campaign-create") in page


def test_create_form_shows_clear_messages(client, marketer, w):
    client.force_login(marketer)
    response = client.post(reverse("campaigns:campaign-create"), {
        "name": "Spring", "channel": "email", "start_date": "2026-05-02", "end_date": "2026-05-01",
        "holdout_percent": "60", "seed": "0",
    })
    page = response.content.decode()
    assert response.status_code == 400
    assert "before it starts" in page
    assert "Give the holdout in percent, from 0 to 50 (10 means 10 % of each persona); got 60." in page
    assert "Choose at least one persona or segment to target." in page
    assert not Campaign.objects.exists()


def test_one_submit_reports_every_problem_of_the_campaign_form(client, marketer, w):
    # given a campaign with a negative budget, a holdout of 75 % and an end before its start
    client.force_login(marketer)
    data = {"name": "Spring", "channel": "email", "target_personas": [w.big.pk], "budget": "-5",
            "holdout_percent": "75", "start_date": "2026-05-02", "end_date": "2026-05-01", "seed": "0"}
    response = client.post(reverse("campaigns:campaign-create"), data)
    # then the one answer names all three, each on its field, and nothing is saved
    form = response.context["form"]
    assert response.status_code == 400
    assert set(form.errors) == {"budget", "holdout_percent", "end_date"}
    page = response.content.decode()
    assert "before it starts" in page and "got 75" in page and "greater than or equal to 0" in page
    assert not Campaign.objects.exists()
    # and editing a draft reports them all at once too, changing nothing
    c = campaign(w, by=marketer)
    response = client.post(reverse("campaigns:campaign-edit", args=[c.pk]), data)
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"budget", "holdout_percent", "end_date"}
    c.refresh_from_db()
    assert (c.name, c.budget, c.end_date) == ("Spring sale", None, None)


def test_a_holdout_under_one_percent_is_saved_with_a_warning_about_the_unit(client, marketer, w):
    client.force_login(marketer)
    response = client.post(reverse("campaigns:campaign-create"), {
        "name": "Spring", "channel": "email", "target_personas": [w.big.pk], "holdout_percent": "0.9", "seed": "0"},
        follow=True)
    assert Campaign.objects.get().holdout_share == Decimal("0.009")
    assert "This field takes percent: for 90 % write 90." in response.content.decode()


def test_create_form_without_a_published_run_says_so(client, marketer):
    client.force_login(marketer)
    response = client.post(reverse("campaigns:campaign-create"), {
        "name": "Spring", "channel": "email", "holdout_percent": "10", "seed": "0"})
    assert "No segmentation run is published yet" in response.content.decode()


def test_marketer_creates_launches_and_uploads_outcomes(client, marketer, w):
    client.force_login(marketer)
    response = client.post(reverse("campaigns:campaign-create"), {
        "name": "Spring", "channel": "sms", "target_personas": [w.big.pk, w.lapsed.pk], "holdout_percent": "10",
        "seed": "3", "start_date": "2026-01-01", "end_date": "2026-12-31",
    })
    c = Campaign.objects.get()
    assert response.status_code == 302 and c.holdout_share == Decimal("0.1") and c.seed == 3
    confirm = client.get(reverse("campaigns:campaign-launch", args=[c.pk])).content.decode()
    assert "<strong>54</strong> customers to contact and <strong>6</strong> held out" in confirm
    client.post(reverse("campaigns:campaign-launch", args=[c.pk]))
    c.refresh_from_db()
    assert c.is_launched and (c.treated_count, c.control_count) == (54, 6)
    member = CampaignMember.objects.filter(campaign=c, is_control=False).select_related("customer").first()
    upload = SimpleUploadedFile("outcomes.csv", (
        "customer,event,revenue,timestamp\n"
        f"{member.customer.external_id},converted,25.00,2026-02-01T10:00:00Z\n"
        "UNKNOWN,converted,25.00,2026-02-01\n").encode())
    response = client.post(reverse("campaigns:campaign-outcomes", args=[c.pk]), {"file": upload})
    job = OutcomeImport.objects.get()
    # the upload goes to the import's page, which shows its progress until the worker is done
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:outcome-import", args=[c.pk, job.pk])
    waiting = client.get(response["Location"]).content.decode()
    assert f'data-progress-url="/api/v1/outcome-imports/{job.pk}/"' in waiting and "Cancel the import" in waiting
    assert "started; it runs in the background" in waiting
    outcome_imports.outcome_import_execute(import_id=job.pk)  # the worker's part
    report = client.get(response["Location"]).content.decode()
    assert "2 rows read = 1 added + 0 already recorded + 1 rejected." in report
    assert '<td class="num">3</td><td>unknown customer “UNKNOWN”</td>' in report
    assert reverse("campaigns:outcome-import-rejected", args=[c.pk, job.pk]) in report
    page = client.get(reverse("campaigns:campaign-detail", args=[c.pk])).content.decode()
    assert reverse("campaigns:outcome-import", args=[c.pk, job.pk]) in page and "Succeeded" in page
    assert "Big spenders" in page and 'data-figure="rates-chart"' in page


def test_the_launch_preview_and_the_campaign_page_total_the_audience(client, marketer, w):
    c = campaign(w, by=marketer, holdout_share=Decimal("0.1"))  # Big spenders 36 + 4, Lapsed 18 + 2
    client.force_login(marketer)
    total = '<tfoot><tr><th colspan="2">Total</th><th class="num">54</th><th class="num">6</th><th class="num">60</th></tr></tfoot>'
    assert total in client.get(reverse("campaigns:campaign-launch", args=[c.pk])).content.decode()
    assert total in client.get(reverse("campaigns:campaign-detail", args=[c.pk])).content.decode()


def test_a_launched_campaign_without_imports_says_how_outcomes_come(client, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer))
    client.force_login(marketer)
    page = client.get(reverse("campaigns:campaign-detail", args=[c.pk])).content.decode()
    assert "No outcomes imported yet." in page


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The submitted file is empty."),
    (b"who,what\nA,opened\n", "The file has no customer, event, timestamp column."),
    (b"customer,event,timestamp\n", "The file has a header and no rows"),
])
def test_an_unusable_upload_gets_a_message_and_changes_nothing(client, marketer, w, content, message):
    c = services.campaign_launch(campaign=campaign(w, by=marketer))
    client.force_login(marketer)
    response = client.post(reverse("campaigns:campaign-outcomes", args=[c.pk]),
                           {"file": SimpleUploadedFile("o.csv", content)}, follow=True)
    page = response.content.decode()
    assert message in page and "Nothing was imported." in page
    assert not OutcomeImport.objects.exists()


def test_the_import_report_says_plainly_what_is_missing_or_wrong(client, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer))
    member = CampaignMember.objects.filter(campaign=c, is_control=False).select_related("customer").first()
    who = member.customer.external_id
    client.force_login(marketer)
    client.post(reverse("campaigns:campaign-outcomes", args=[c.pk]), {"file": SimpleUploadedFile("o.csv", (
        "customer,event,revenue,timestamp\n"
        f"{who},,,2026-03-01\n"
        f"{who},opened,,\n"
        f"{who},opened,3,2026-03-01\n"
        f"{who},clicked,3,2026-03-01\n"
        f"{who},converted,12;50,2026-03-01\n"
        f"{who},converted,-5,2026-03-01\n").encode())})
    job = OutcomeImport.objects.get()
    outcome_imports.outcome_import_execute(import_id=job.pk)
    page = client.get(reverse("campaigns:outcome-import", args=[c.pk, job.pk])).content.decode()
    expected = "(expected one of delivered, opened, clicked, responded, converted)"
    amount = "(write a non-negative amount with at most two decimals, e.g. 19.90)"
    for line, reason in [
        (2, f"no event type {expected}"),
        (3, "no timestamp (write ISO 8601, e.g. 2026-03-01T14:30:00Z or 2026-03-01)"),
        (4, "bad revenue: an “opened” event carries no revenue (only conversions do)"),
        (5, "bad revenue: a “clicked” event carries no revenue (only conversions do)"),
        (6, f"bad revenue “12;50” {amount}"),
        (7, f"bad revenue “-5” {amount}"),
    ]:
        assert f'<td class="num">{line}</td><td>{reason}</td>' in page
    # and the counts group them by what went wrong
    job.refresh_from_db()
    assert job.reasons == {"bad revenue": 4, "no event type": 1, "no timestamp": 1}
    assert "<tr><td>no event type</td><td class=\"num\">1</td></tr>" in page


def test_an_import_is_cancelled_from_its_page_and_keeps_nothing(client, manager, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer))
    member = CampaignMember.objects.filter(campaign=c).select_related("customer").first()
    client.force_login(marketer)
    client.post(reverse("campaigns:campaign-outcomes", args=[c.pk]), {"file": SimpleUploadedFile(
        "o.csv", f"customer,event,timestamp\n{member.customer.external_id},opened,2026-03-01\n".encode())})
    job = OutcomeImport.objects.get()
    cancel = reverse("campaigns:outcome-import-cancel", args=[c.pk, job.pk])
    client.force_login(manager)
    assert "Cancel the import" not in client.get(reverse("campaigns:outcome-import", args=[c.pk, job.pk])).content.decode()
    assert client.post(cancel).status_code == 403
    client.force_login(marketer)
    page = client.post(cancel, follow=True).content.decode()
    assert "was cancelled. Nothing from it was kept." in page and "This import was cancelled" in page
    outcome_imports.outcome_import_execute(import_id=job.pk)  # a worker that gets it afterwards leaves it alone
    job.refresh_from_db()
    assert job.status == "cancelled" and not CampaignOutcome.objects.exists()
    assert "had already finished (cancelled)" in client.post(cancel, follow=True).content.decode()
    # an import is found only under its own campaign
    other = services.campaign_launch(campaign=campaign(w, by=marketer, name="Other"))
    assert client.get(reverse("campaigns:outcome-import", args=[other.pk, job.pk])).status_code == 404


def test_audience_csv_leaves_the_holdout_out_unless_asked(client, manager, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0.2")))
    client.force_login(manager)
    response = client.get(reverse("campaigns:campaign-members-csv", args=[c.pk]))
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "external_id,persona,persona_name,segment,is_control"
    assert len(lines) - 1 == 48 and not any(line.endswith(",true") for line in lines)
    response = client.get(reverse("campaigns:campaign-members-csv", args=[c.pk]) + "?include_control=1")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) - 1 == 60 and sum(line.endswith(",true") for line in lines) == 12


def test_audience_csv_adds_email_and_name_when_asked_by_a_role_that_may_see_them(client, api_client, manager, reader,
                                                                                   marketer, w):
    for number, customer in enumerate(w.customers):
        customer.email, customer.name = f"buyer{number}@example.com", f"Buyer {number}"
    Customer.objects.bulk_update(w.customers, ["email", "name"])
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0.2")))
    url = reverse("campaigns:campaign-members-csv", args=[c.pk])
    client.force_login(manager)
    # given the campaign page: it offers the columns next to the control group choice
    page = client.get(reverse("campaigns:campaign-detail", args=[c.pk])).content.decode()
    assert 'name="fields" value="email"' in page and 'name="include_control"' in page
    # when both are ticked
    response = client.get(url, {"fields": ["email", "name"]})
    lines = b"".join(response.streaming_content).decode().splitlines()
    # then the id comes first, then email and name, for exactly the treated members
    assert lines[0] == "external_id,email,name,persona,persona_name,segment,is_control"
    expected = {(m.customer.external_id, m.customer.email, m.customer.name)
                for m in CampaignMember.objects.filter(campaign=c, is_control=False).select_related("customer")}
    assert {tuple(line.split(",")[:3]) for line in lines[1:]} == expected and len(expected) == 48
    # a role that may not see personal data gets no choice, and a forged one is refused
    client.force_login(reader)
    page = client.get(reverse("campaigns:campaign-detail", args=[c.pk])).content.decode()
    assert 'value="email"' not in page and 'name="include_control"' in page
    assert client.get(url).status_code == 200
    response = client.get(url, {"fields": "email"})
    assert response.status_code == 403 and b"@example.com" not in response.content
    assert api_client(reader).get(f"/api/v1/campaigns/{c.pk}/members/", {"fields": "email"}).status_code == 403


def test_persona_card_shows_campaign_results(client, manager, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer, name="Winter push"))
    client.force_login(manager)
    page = client.get(reverse("segments:persona-detail", args=[w.big.pk])).content.decode()
    assert "Campaign results" in page and "Winter push" in page
    assert reverse("campaigns:campaign-detail", args=[c.pk]) in page


def lift_cells(page: str) -> list[str]:
    """The "Lift, points" column of a results table, one entry per row, in order."""
    return [row.split('<td class="num">')[5].split("</td>")[0] for row in page.split("<tr>")[2:] if "<td" in row]


def test_results_before_outcomes_say_so_and_lifts_are_in_points(client, manager, marketer, w):
    # given a launched campaign (Big spenders 36 + 4 held out, Lapsed 18 + 2) without outcomes
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0.1")))
    client.force_login(manager)
    detail, card = reverse("campaigns:campaign-detail", args=[c.pk]), reverse("segments:persona-detail", args=[w.big.pk])
    for url, section in ((detail, 'id="results-title"'), (card, 'id="campaign-results-title"')):
        results = client.get(url).content.decode().split(section)[1].split("</table>")[0]
        # then no lift of zero is claimed, for the campaign nor per persona
        assert "+0.0" not in results and "[0.0" not in results
        assert set(lift_cells(results)) == {"– <span class=\"muted\">(no outcomes yet)</span>"}
        assert "Revenue (treated)" in results
    # when one held-out Big spender converts
    member = CampaignMember.objects.filter(campaign=c, via_persona=w.big, is_control=True).first()
    CampaignOutcome.objects.create(campaign=c, member=member, event="converted", revenue=Decimal("10"),
                                   occurred_at="2026-02-01T10:00:00Z")
    # then the lifts are percentage points, negatives with a minus sign; Lapsed still has none;
    # the intervals are the score test's (campaigns.stats, checked in test_stats), which
    # agree with its p-values (0.002 and 0.005), where a Wald interval reached above 0
    page = client.get(detail).content.decode()
    results = page.split('id="results-title"')[1].split("</table>")[0]
    assert "95% interval, score method" in results
    assert lift_cells(results) == [
        "−25.0 pts <span class=\"muted\">[−69.9, −4.6]</span>",  # Big spenders: 0/36 against 1/4
        "– <span class=\"muted\">(no outcomes yet)</span>",  # Lapsed
        "−16.7 pts <span class=\"muted\">[−56.4, −3.0]</span>",  # whole campaign: 0/54 against 1/6
    ]
    assert results.count("<strong>✓</strong>") == 2
    card_results = client.get(card).content.decode().split('id="campaign-results-title"')[1].split("</table>")[0]
    assert lift_cells(card_results) == ["−25.0 pts <span class=\"muted\">[−69.9, −4.6]</span>"]


def test_manager_reads_but_cannot_create_edit_launch_or_upload(client, manager, marketer, w):
    c = campaign(w, by=marketer)
    client.force_login(manager)
    assert client.get(reverse("campaigns:campaign-list")).status_code == 200
    detail = client.get(reverse("campaigns:campaign-detail", args=[c.pk]))
    assert detail.status_code == 200 and b"Launch" not in detail.content.split(b"<main>")[1].split(b"Audience")[0]
    assert client.get(reverse("campaigns:campaign-create")).status_code == 403
    assert client.get(reverse("campaigns:campaign-edit", args=[c.pk])).status_code == 403
    assert client.post(reverse("campaigns:campaign-launch", args=[c.pk])).status_code == 403
    assert client.post(reverse("campaigns:campaign-outcomes", args=[c.pk])).status_code == 403
    c.refresh_from_db()
    assert not c.is_launched


def test_a_marketer_deletes_a_draft_but_not_a_launched_campaign(client, manager, marketer, w):
    draft, launched = campaign(w, by=marketer, name="Draft"), services.campaign_launch(
        campaign=campaign(w, by=marketer, name="Sent"))
    client.force_login(marketer)
    # the Delete button, with its question, is on the draft's page only
    page = client.get(reverse("campaigns:campaign-detail", args=[draft.pk])).content.decode()
    assert reverse("campaigns:campaign-delete", args=[draft.pk]) in page
    assert "Delete the draft campaign “Draft”? Its targets and settings are lost" in page
    assert reverse("campaigns:campaign-delete", args=[launched.pk]) not in client.get(
        reverse("campaigns:campaign-detail", args=[launched.pk])).content.decode()
    # when the Marketer deletes the draft, it is gone, and the list says so
    response = client.post(reverse("campaigns:campaign-delete", args=[draft.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("campaigns:campaign-list")
    assert "The draft campaign “Draft” was deleted." in response.content.decode()
    assert not Campaign.objects.filter(pk=draft.pk).exists()
    # a launched campaign is refused with the reason, and kept with its audience
    response = client.post(reverse("campaigns:campaign-delete", args=[launched.pk]), follow=True)
    assert "“Sent” was launched on" in response.content.decode()
    assert "a launched campaign is kept, with its audience and outcomes" in response.content.decode()
    assert CampaignMember.objects.filter(campaign=launched).count() == launched.treated_count + launched.control_count
    # the delete takes a POST only
    assert client.get(reverse("campaigns:campaign-delete", args=[launched.pk])).status_code == 405


def test_a_manager_cannot_delete_a_draft(client, manager, marketer, w):
    draft = campaign(w, by=marketer)
    client.force_login(manager)
    assert reverse("campaigns:campaign-delete", args=[draft.pk]) not in client.get(
        reverse("campaigns:campaign-detail", args=[draft.pk])).content.decode()
    assert client.post(reverse("campaigns:campaign-delete", args=[draft.pk])).status_code == 403
    assert Campaign.objects.filter(pk=draft.pk).exists()


def test_people_without_a_role_cannot_see_campaigns(client, nobody):
    client.force_login(nobody)
    assert client.get(reverse("campaigns:campaign-list")).status_code == 403


def test_launched_campaign_edit_keeps_the_audience_and_changes_the_status(client, marketer, w):
    c = services.campaign_launch(campaign=campaign(w, by=marketer, start_date=date(2026, 1, 1)))
    client.force_login(marketer)
    response = client.post(reverse("campaigns:campaign-edit", args=[c.pk]), {
        "name": "Renamed", "channel": "email", "status": "completed", "holdout_percent": "30", "seed": "9"})
    assert response.status_code == 302
    c.refresh_from_db()
    assert (c.name, c.status, c.holdout_share, c.seed) == ("Renamed", "completed", Decimal("0.1"), 0)
