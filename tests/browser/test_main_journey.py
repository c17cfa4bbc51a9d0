"""The thin slice in a real browser: sign in, start a run, watch it, see it, publish it."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.customers.factories import planted_customers

# Plotly's bundle is large; see the first chart assertion below.
CHART_TIMEOUT_MS = 30_000

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")


def test_analyst_segments_watches_progress_and_publishes(page, live_server, celery_worker_later, analyst):
    planted_customers(per_group=30)
    sign_in(page, live_server, "ana")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.get_by_text("No published segmentation yet")).to_be_visible()
    screenshot(page, "01-overview-empty")

    page.click("text=New segmentation")
    expect(page.locator("h1")).to_have_text("New segmentation")
    page.check("input[value=recency]")
    page.check("input[value=frequency]")
    page.check("input[value=monetary]")
    page.fill("#id_k", "3")
    screenshot(page, "02-new-run-form")
    page.click("text=Start segmentation")

    # The page that follows shows live progress; no worker is running yet, so it waits.
    expect(page.locator("h1")).to_contain_text("Run #")
    expect(page.get_by_role("progressbar")).to_be_visible()
    expect(page.locator(".progress-stage")).to_have_text("Waiting for a worker")
    screenshot(page, "03-run-waiting")
    # Once a worker picks the job up, the page follows it and turns into the result.
    with celery_worker_later():
        expect(page.get_by_text("Segment centres")).to_be_visible(timeout=60_000)
    screenshot(page, "04-run-result")
    # Plotly's bundle is 4.6 MB: on a busy two-core machine it can take more than the
    # default 5 s to arrive and run after the text of the page is already there.
    expect(page.locator("[data-figure=scatter-chart] .main-svg").first).to_be_visible(timeout=CHART_TIMEOUT_MS)
    assert page.locator("table.centroids tbody tr").count() == 3
    expect(page.get_by_text("silhouette", exact=True)).to_be_visible()

    page.click("button:has-text('Publish')")
    expect(page.get_by_text("is now the published segmentation")).to_be_visible()
    page.click("text=Overview")
    expect(page.get_by_role("heading", name=re.compile("Published segments"))).to_be_visible()
    expect(page.locator("[data-figure=sizes-chart] .main-svg").first).to_be_visible(timeout=CHART_TIMEOUT_MS)
    screenshot(page, "05-overview-published")

    page.locator(".segment-list a").first.click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    assert page.locator("table").nth(1).locator("tbody tr").count() == 30
    screenshot(page, "06-segment")


def test_bad_input_shows_a_message_in_the_page(page, live_server, analyst):
    planted_customers(per_group=2)
    sign_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/runs/new/")
    page.fill("#id_k", "7")
    page.click("text=Start segmentation")
    expect(page.get_by_role("alert")).to_contain_text("more than the 6 customers")
    screenshot(page, "07-form-error")


def test_manager_sees_no_start_button_and_is_refused(page, live_server, manager):
    sign_in(page, live_server, "manny")
    expect(page.locator("nav")).not_to_contain_text("New segmentation")
    response = page.goto(f"{live_server.url}/runs/new/")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Your role can't do this")
