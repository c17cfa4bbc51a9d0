import re

import pytest
from django.urls import reverse

from segments.models import SegmentationRun
from tests.customers.factories import planted_customers
from tests.segments.factories import RunFactory, finished_run

pytestmark = pytest.mark.django_db

FORM = {"features": ["recency", "frequency", "monetary"], "k": "3", "seed": "0", "name": ""}


@pytest.mark.parametrize("url_name", ["home", "segments:run-list", "segments:run-create"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sign_in_page_signs_in(client, analyst):
    response = client.post(reverse("login"), {"username": "ana", "password": "pw-for-tests-1"}, follow=True)
    assert response.status_code == 200
    assert b"Overview" in response.content and b"ana" in response.content


def test_analyst_starts_a_run_and_lands_on_its_progress(client, analyst, django_capture_on_commit_callbacks):
    planted_customers(per_group=5)
    client.force_login(analyst)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("segments:run-create"), FORM)
    run = SegmentationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("segments:run-detail", args=[run.pk])
    assert len(callbacks) == 1  # the job is enqueued once the row is committed
    page = client.get(response["Location"])
    assert b'role="progressbar"' in page.content and b"js/job_progress.js" in page.content
    assert run.created_by == analyst and run.config["k"] == 3


def test_one_submit_reports_every_problem_of_the_run_form(client, analyst):
    # given a run form without features and with k = 1
    planted_customers(per_group=5)
    client.force_login(analyst)
    response = client.post(reverse("segments:run-create"), {**FORM, "features": [], "k": "1"})
    # then both are reported at once, and no run starts
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"features", "k"}
    assert b"This field is required" in response.content and b"k must be between 2 and 50" in response.content
    # and checks that span options, or the data, come with another option's typo
    response = client.post(reverse("segments:run-create"),
                           {**FORM, "features": [], "k": "auto", "k_min": "6", "k_max": "3", "seed": "x"})
    assert set(response.context["form"].errors) == {"features", "k_max", "seed"}
    response = client.post(reverse("segments:run-create"), {**FORM, "k": "16", "seed": "x"})
    assert set(response.context["form"].errors) == {"k", "seed"} and b"more than the 15 customers" in response.content
    assert SegmentationRun.objects.count() == 0


@pytest.mark.parametrize(
    "data, message",
    [
        ({"k": "1"}, b"k must be between 2 and 50"),
        ({"k": "auto", "k_min": "6", "k_max": "3"}, b"is below the smallest"),
        ({"k": "3", "scaling": "zscore"}, b"Select a valid choice"),
        ({"k": "16"}, b"more than the 15 customers"),
        ({"features": []}, b"This field is required"),
        ({"features": ["shoe_size"]}, b"Select a valid choice"),
    ],
)
def test_bad_form_input_shows_a_message_and_starts_nothing(client, analyst, data, message):
    planted_customers(per_group=5)
    client.force_login(analyst)
    response = client.post(reverse("segments:run-create"), {**FORM, **data})
    assert response.status_code == 400
    assert message in response.content
    assert SegmentationRun.objects.count() == 0


def test_empty_database_form_says_what_to_do(client, analyst):
    client.force_login(analyst)
    page = client.get(reverse("segments:run-create"))
    assert b"No customers to segment" in page.content
    response = client.post(reverse("segments:run-create"), FORM)
    assert response.status_code == 400 and b"no customers yet" in response.content
    assert SegmentationRun.objects.count() == 0


@pytest.mark.parametrize("role", ["manager", "marketer", "nobody"])
def test_other_roles_cannot_start_or_publish(client, request, role):
    planted_customers(per_group=5)
    run = finished_run()
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("segments:run-create")).status_code == 403
    assert client.post(reverse("segments:run-create"), FORM).status_code == 403
    assert client.post(reverse("segments:run-publish", args=[run.pk])).status_code == 403
    assert SegmentationRun.objects.count() == 1
    run.refresh_from_db()
    assert not run.published


def test_manager_reads_the_result_page_without_action_buttons(client, manager):
    planted_customers(per_group=5)
    run = finished_run()
    client.force_login(manager)
    page = client.get(reverse("segments:run-detail", args=[run.pk]))
    content = page.content.decode()
    assert page.status_code == 200
    assert "silhouette" in content and "vendor/plotly/plotly.min.js" in content
    assert 'id="scatter-chart"' in content and 'id="sizes-chart"' in content
    assert ">Publish<" not in content and "New segmentation" not in content


def test_user_without_role_cannot_read_runs(client, nobody):
    client.force_login(nobody)
    assert client.get(reverse("segments:run-list")).status_code == 403


def test_result_page_shows_sizes_and_centres(client, analyst):
    planted_customers(per_group=5)
    run = finished_run()
    client.force_login(analyst)
    content = client.get(reverse("segments:run-detail", args=[run.pk])).content.decode()
    for segment in run.segments.all():
        assert segment.display_name in content
        assert reverse("segments:segment-detail", args=[segment.pk]) in content
    assert ">Publish…<" in content  # to the confirmation that says what publishing will do
    # three features: the scatter is a PCA, and the page says what its axes are made of
    assert "What the axes are made of" in content and "Net spend" in content
    assert 'data-figure="heatmap-chart"' in content and "In words:" in content


def test_publish_from_the_page_shows_on_the_overview(client, analyst):
    planted_customers(per_group=5)
    run = finished_run()
    client.force_login(analyst)
    response = client.post(reverse("segments:run-publish", args=[run.pk]), follow=True)
    assert b"is now the published segmentation" in response.content
    overview = client.get(reverse("home")).content.decode()
    assert f"#{run.pk} · {run.name}" in overview and "Published segments" in overview


def test_failed_run_page_shows_the_error(client, analyst):
    run = RunFactory(status="failed", error="k = 9 is more than the 3 customers there are to segment.")
    client.force_login(analyst)
    page = client.get(reverse("segments:run-detail", args=[run.pk]))
    assert b"This run failed" in page.content and b"more than the 3 customers" in page.content


def test_segment_page_lists_members_a_page_at_a_time(client, manager, django_assert_max_num_queries):
    planted_customers(per_group=60)
    run = finished_run()
    segment = run.segments.get(index=0)
    members = list(segment.memberships.order_by("customer_id").values_list("customer__external_id", flat=True))
    client.force_login(manager)
    # session, user, 2 permission reads, 2 group reads (navigation), segment, the page of
    # members, snapshot + attribute catalogue (feature labels), segment names, the segment's
    # personas: fixed, not per member
    with django_assert_max_num_queries(12):
        page = client.get(reverse("segments:segment-detail", args=[segment.pk]))
    assert page.status_code == 200 and b"50 of 60 members shown" in page.content
    assert b'data-figure="profile-chart"' in page.content and b"In words" in page.content
    assert members[0].encode() in page.content and members[49].encode() in page.content
    assert members[50].encode() not in page.content
    next_link = re.search(rb'href="(\?[^"]*after=[^"]+)">next', page.content).group(1).decode().replace("&amp;", "&")
    second = client.get(reverse("segments:segment-detail", args=[segment.pk]) + next_link)
    assert members[50].encode() in second.content and members[59].encode() in second.content
    assert members[49].encode() not in second.content and b"next" not in second.content


def test_segment_members_sorted_from_most_typical_page_through_every_member_once(client, manager):
    planted_customers(per_group=60)
    run = finished_run()
    segment = run.segments.get(index=0)
    expected = list(segment.memberships.order_by("distance", "customer_id").values_list("customer__external_id", flat=True))
    client.force_login(manager)
    seen, url = [], reverse("segments:segment-detail", args=[segment.pk]) + "?order=typical"
    for _ in range(5):
        page = client.get(url).content.decode()
        seen += re.findall(r'<td><a href="/customers/[^"]+/">([^<]+)</a></td>', page)
        link = re.search(r'href="(\?[^"]*after=[^"]+)">next', page)
        if not link:
            break
        url = reverse("segments:segment-detail", args=[segment.pk]) + link.group(1).replace("&amp;", "&")
    assert seen == expected


def test_segment_member_search_by_external_id_prefix(client, manager):
    planted_customers(per_group=10)
    run = finished_run()
    member = run.memberships.select_related("customer", "segment").first()
    client.force_login(manager)
    page = client.get(reverse("segments:segment-detail", args=[member.segment_id]), {"q": member.customer.external_id})
    assert member.customer.external_id.encode() in page.content and b"1 of" in page.content
    empty = client.get(reverse("segments:segment-detail", args=[member.segment_id]), {"q": "no-such-id"})
    assert b"No member's external id starts with" in empty.content


def test_segment_csv_export_streams_every_member_with_formula_cells_neutralised(client, manager):
    from customers.models import Customer

    planted_customers(per_group=10)
    Customer.objects.filter(pk=Customer.objects.order_by("pk").first().pk).update(country="=HYPERLINK(1)")
    run = finished_run()
    client.force_login(manager)
    lines_total = 0
    for segment in run.segments.all():
        response = client.get(reverse("segments:segment-export", args=[segment.pk]))
        assert response.status_code == 200 and response.streaming
        body = b"".join(response.streaming_content).decode()
        lines = body.strip().splitlines()
        assert lines[0].startswith("external_id,segment,distance_to_centre")
        lines_total += len(lines) - 1
        assert "=HYPERLINK" not in body.replace("'=HYPERLINK", "")
    assert lines_total == 30


def test_run_list_is_paginated_with_a_fixed_number_of_queries(client, manager, django_assert_max_num_queries):
    RunFactory.create_batch(30)
    client.force_login(manager)
    # one more than before for the imported attributes' display names: fixed, not per run
    with django_assert_max_num_queries(9):
        page = client.get(reverse("segments:run-list"))
    assert page.status_code == 200 and b"page 1 of 2" in page.content


def test_empty_states_say_what_to_do(client, analyst):
    client.force_login(analyst)
    assert b"demo_data" in client.get(reverse("home")).content
    assert b"Start the first one" in client.get(reverse("segments:run-list")).content


def test_a_user_without_a_role_sees_no_segments_on_the_overview(client, nobody):
    planted_customers(per_group=5)
    from segments.services import run_publish

    run_publish(run=finished_run())
    client.force_login(nobody)
    content = client.get(reverse("home")).content.decode()
    assert "Your account has no role yet" in content
    assert "Published segments" not in content and "Recent runs" not in content


@pytest.mark.parametrize(
    "url_name, method",
    [("segments:run-publish", "post"), ("segments:run-cancel", "post"), ("segments:run-detail", "get"), ("segments:segment-detail", "get")],
)
def test_anonymous_actions_are_refused(client, url_name, method):
    run = RunFactory()
    response = getattr(client, method)(reverse(url_name, args=[run.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    run.refresh_from_db()
    assert run.status == "pending" and not run.published


def test_analyst_cancels_a_pending_run_from_its_page(client, analyst):
    run = RunFactory()
    client.force_login(analyst)
    response = client.post(reverse("segments:run-cancel", args=[run.pk]), follow=True)
    assert b"was cancelled" in response.content and b"This run was cancelled" in response.content
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_manager_cannot_cancel(client, manager):
    run = RunFactory()
    client.force_login(manager)
    assert client.post(reverse("segments:run-cancel", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == "pending"



def test_a_run_made_before_the_feature_treatment_table_still_shows_its_skew(client, analyst):
    # runs saved before each feature's treatment was kept have only the skew map and the
    # suggestion: their page says them, in display names
    from tests.customers.factories import CustomerFactory
    from tests.segments.factories import segmented_run

    customers = CustomerFactory.create_batch(6)
    run = segmented_run(groups={0: customers[:3], 1: customers[3:]}, preprocessing={
        "skew": {"monetary": 3.25, "recency": 0.4}, "skew_threshold": 1.0, "log_suggested": ["monetary"],
        "scaling": "standard"})
    client.force_login(analyst)
    page = client.get(reverse("segments:run-detail", args=[run.pk])).content.decode()
    assert "Net spend 3.25" in page and "Days since last order 0.40" in page
    assert "log transform suggested: Net spend" in page


def test_an_id_in_other_digits_is_a_clear_answer_not_a_server_error(client, analyst, marketer):
    # "²" passes str.isdigit() and int() refuses it: pages read ids with isdecimal()
    planted_customers(per_group=5)
    run = finished_run()
    client.force_login(analyst)
    response = client.get(reverse("segments:run-compare", args=[run.pk]), {"other": "²"})
    assert response.status_code == 400 and "Choose two finished runs to compare." in response.content.decode()
    client.force_login(marketer)
    assert client.get(reverse("segments:persona-create"), {"segment": "²"}).status_code == 200  # choose one
