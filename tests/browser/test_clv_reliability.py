"""The 'not reliable for this data' notes read at phone width (issue 14, item 2)."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_main_journey import sign_in
from tests.customers.analytics.conftest import no_dropout_transactions
from tests.customers.test_clv_reliability import DAYS, START, compute, long_silent_repeat_customer, store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_not_reliable_notes_fit_a_phone(page, live_server, manager):
    store(no_dropout_transactions(customers=500, days=DAYS, seed=3, start=START))
    customer = long_silent_repeat_customer(compute())
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, live_server, "manny")

    page.goto(f"{live_server.url}/customers/{customer.external_id}/")
    expect(page.locator("#p-alive")).to_have_text("not reliable for this data")
    note = page.locator("#p-alive-note")
    expect(note).to_be_visible()
    assert note.bounding_box()["x"] + note.bounding_box()["width"] <= 375
    screenshot(page, "clv-not-reliable-customer-375")
    note.get_by_role("link", name="Why").click()
    verdict = page.locator("#clv-reliability")
    expect(verdict).to_contain_text("not reliable for this data")
    assert verdict.bounding_box()["x"] + verdict.bounding_box()["width"] <= 375
    screenshot(page, "clv-not-reliable-features-375")
