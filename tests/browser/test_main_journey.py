"""The main journey in a real browser: an analyst signs in, imports customers, runs a
segmentation and watches its progress, publishes it; a marketer names a persona after one
of its segments and sees it on the overview. Plus the form's errors and a manager's limits."""

import random
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.customers.factories import planted_customers

# Plotly's bundle is 4.6 MB: on a busy two-core machine it can take more than the default
# 5 s to arrive and run after the text of the page is already there.
CHART_TIMEOUT_MS = 30_000
# Customers per planted group in the imported file: enough for k = auto to tell three
# groups apart and for the run to last a few progress polls, small enough to stay quick.
JOURNEY_PER_GROUP = 300

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")


def customers_csv(per_group: int) -> str:
    """Mall-Customers-like rows from three planted groups (income in k$, spending score)."""
    rng = random.Random(0)
    centres = [(25, 30, 80), (45, 90, 20), (60, 55, 50)]  # age, income k$, score
    lines = ["CustomerID,Genre,Age,Annual Income (k$),Spending Score (1-100)"]
    for group, (age, income, score) in enumerate(centres):
        for i in range(per_group):
            lines.append(f"{group * per_group + i + 1},{rng.choice(['Male', 'Female'])},"
                         f"{age + rng.randint(-4, 4)},{income + rng.randint(-6, 6)},{score + rng.randint(-8, 8)}")
    return "\n".join(lines) + "\n"


def watch_progress(page):
    """Every value the progress bar shows, across the reload into the result, in order:
    an observer logs each aria-valuenow change to the console, which Python collects."""
    seen = []
    page.on("console", lambda message: seen.append(int(message.text.split()[1]))
            if message.type == "log" and message.text.startswith("progress ") else None)
    page.add_init_script("""
        document.addEventListener("DOMContentLoaded", function () {
          var meter = document.querySelector("[role=progressbar]");
          if (!meter) { return; }
          console.log("progress " + meter.getAttribute("aria-valuenow"));
          new MutationObserver(function () { console.log("progress " + meter.getAttribute("aria-valuenow")); })
            .observe(meter, { attributes: true, attributeFilter: ["aria-valuenow"] });
        });
    """)
    return seen


def sign_out(page):
    page.click("text=Sign out")
    expect(page.locator("#id_username")).to_be_visible()


def test_main_journey_import_segment_publish_name_a_persona_see_it_on_the_overview(
        page, live_server, celery_worker_later, analyst, marketer, tmp_path):
    # Given an analyst and an empty database
    path = tmp_path / "customers.csv"
    path.write_text(customers_csv(per_group=JOURNEY_PER_GROUP))
    progress = watch_progress(page)
    sign_in(page, live_server, "ana")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.get_by_text("No customers yet")).to_be_visible()
    screenshot(page, "01-overview-empty")

    # When they import a customers file through the Imports page
    page.get_by_role("link", name="Import customers or transactions").click()
    page.check("input[value=customers]")
    page.set_input_files("input[type=file]", str(path))
    page.click("text=Upload and check columns")
    expect(page.locator("h1")).to_have_text("Check the columns of customers.csv")
    screenshot(page, "02-import-columns")
    page.click("text=Start the import")
    customers = 3 * JOURNEY_PER_GROUP
    with celery_worker_later():
        expect(page.locator("#row-sum")).to_have_text(
            f"{customers} rows read = {customers} accepted + 0 rejected.", timeout=60_000)
    screenshot(page, "03-import-report")

    # and start a segmentation from the form: k = auto by default, no bootstrap refits
    page.click("nav >> text=New segmentation")
    expect(page.locator("h1")).to_have_text("New segmentation")
    expect(page.locator("#id_k")).to_have_value("auto")
    # the file has no purchases: who the customers are, not the default RFM features
    for feature in ("recency", "frequency", "monetary"):
        page.uncheck(f"input[value={feature}]")
    for feature in ("age", "annual_income", "attr_spending_score_1_100"):
        page.check(f"input[value={feature}]")
    page.click("text=More options")
    page.fill("#id_stability_resamples", "0")
    # leave the number field before clicking: a click on the submit button while it had
    # the focus (in headless Chromium, right after a full-page screenshot) submitted nothing
    page.press("#id_stability_resamples", "Tab")
    screenshot(page, "04-new-run-form")
    progress.clear()  # the import page had a bar too
    page.get_by_role("button", name="Start segmentation").click()

    # then the run page waits for a worker, and its bar advances once one runs the job
    expect(page.locator("h1")).to_contain_text("Run #")
    expect(page.locator(".progress-stage")).to_have_text("Waiting for a worker")
    screenshot(page, "05-run-waiting")
    with celery_worker_later():
        expect(page.get_by_text("Segment centres")).to_be_visible(timeout=90_000)
    assert progress[0] == 0 and progress[-1] == 100, progress
    assert progress == sorted(progress), f"the bar went backwards: {progress}"
    expect(page.locator("[data-figure=scatter-chart] .main-svg").first).to_be_visible(timeout=CHART_TIMEOUT_MS)
    expect(page.locator("table.centroids tbody tr")).to_have_count(3)  # k = auto found the three groups
    # features by their display names, the algorithm in words, nowhere a column name
    expect(page.locator("table.centroids thead")).to_contain_text("Spending score (1-100)")
    expect(page.locator("main")).to_contain_text("k-means")
    for machine_name in ("attr_spending", "annual_income", "kmeans"):
        expect(page.locator("main")).not_to_contain_text(machine_name)
    screenshot(page, "06-run-result")

    # and the analyst publishes it
    page.click("a:has-text('Publish…')")
    expect(page.get_by_role("heading", name=re.compile(r"Personas that will follow a new segment"))).to_be_visible()
    page.click("button:has-text('Publish run')")
    expect(page.get_by_text("is now the published segmentation")).to_be_visible()
    sign_out(page)

    # When a marketer opens a segment from the overview and names a persona after it
    sign_in(page, live_server, "mark")
    expect(page.get_by_text("No personas yet")).to_be_visible()
    expect(page.locator("[data-figure=sizes-chart] .main-svg").first).to_be_visible(timeout=CHART_TIMEOUT_MS)
    screenshot(page, "07-overview-published")
    page.locator(".segment-list a").first.click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    screenshot(page, "08-segment")
    page.click("text=Create a persona from this segment")
    expect(page.locator("#id_name")).not_to_have_value("")  # a suggested name
    screenshot(page, "09-persona-form")
    page.fill("#id_name", "Weekend bargain hunters")
    page.click("button:has-text('Create persona')")
    expect(page.locator("h1")).to_contain_text("Weekend bargain hunters")
    screenshot(page, "10-persona")

    # Then the overview shows the persona, its share and its size over runs
    page.click("nav >> text=Overview")
    card = page.locator(".persona-summary", has_text="Weekend bargain hunters")
    expect(card).to_be_visible()
    expect(card.locator(".share-bar").first).to_contain_text("%")
    expect(page.locator("[data-figure=persona-sizes-chart] .main-svg").first).to_be_visible(timeout=CHART_TIMEOUT_MS)
    # the file had no purchases: the features computed after the import say so
    expect(page.locator("[data-figure=rfm-chart] .main-svg").first).to_be_visible(timeout=CHART_TIMEOUT_MS)
    screenshot(page, "11-overview-persona")


def test_bad_input_shows_a_message_in_the_page(page, live_server, analyst):
    planted_customers(per_group=2)
    sign_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/runs/new/")
    page.fill("#id_k", "7")
    page.click("text=Start segmentation")
    expect(page.get_by_role("alert")).to_contain_text("more than the 6 customers")
    screenshot(page, "20-form-error")


def test_manager_sees_no_start_button_and_is_refused(page, live_server, manager):
    sign_in(page, live_server, "manny")
    expect(page.locator("nav")).not_to_contain_text("New segmentation")
    response = page.goto(f"{live_server.url}/runs/new/")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Your role can't do this")
