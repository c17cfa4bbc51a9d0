"""The run form's unscaled-features warning and the run page's coverage and feature table,
in a real browser, on a phone-sized and a wide screen."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_main_journey import sign_in
from tests.customers.factories import CustomerFactory, planted_customers
from tests.segments.factories import finished_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_form_warns_when_unscaled_features_are_in_different_units(page, live_server, analyst):
    planted_customers(per_group=2)
    sign_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/runs/new/")
    warning = page.locator("#unscaled-warning")
    expect(warning).to_be_hidden()
    page.select_option("select[name=scaling]", "none")
    # recency (days), frequency (purchases) and monetary (currency) are checked by default
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("days, purchases, currency")
    screenshot(page, "30-form-unscaled-warning")
    page.select_option("select[name=scaling]", "standard")
    expect(warning).to_be_hidden()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_run_page_counts_who_was_left_out_and_fits_the_screen(page, live_server, analyst, width):
    planted_customers(per_group=10)
    CustomerFactory.create_batch(5)  # never bought
    run = finished_run(k=3, log_features="auto")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(page.locator("#stat-segmented")).to_contain_text("30")
    expect(page.locator("#stat-left-out")).to_contain_text("5 with no purchases")
    page.get_by_text("How the data was prepared").click()
    expect(page.locator("#feature-treatment")).to_contain_text("Net spend")
    # the feature table scrolls within its box rather than widening the page
    assert page.locator("#feature-treatment").evaluate("t => t.parentElement.getBoundingClientRect().right") <= width
    screenshot(page, f"31-run-coverage-{width}")
