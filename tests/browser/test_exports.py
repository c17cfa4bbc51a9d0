"""Member exports in a real browser, on a phone and a wide screen: the segment and campaign
pages' download forms fit the screen, and ticking "Email address" gives a file with it."""

from decimal import Decimal

import pytest

from campaigns import services
from customers.models import Customer
from tests.browser.conftest import screenshot
from tests.browser.test_main_journey import sign_in
from tests.campaigns.factories import campaign, world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [375, 1280])
def test_download_forms_fit_the_screen_and_add_the_email_when_ticked(page, live_server, analyst, marketer, manager,
                                                                     width):
    w = world(sizes=(12, 8, 4), by=analyst)
    for number, customer in enumerate(w.customers):
        customer.email = f"buyer{number}@example.com"
    Customer.objects.bulk_update(w.customers, ["email"])
    c = services.campaign_launch(campaign=campaign(w, by=marketer, holdout_share=Decimal("0.25")))
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, manager.username)
    for name, url, header in (("segment", f"/segments/{w.run.segments.get(index=0).pk}/", "external_id,email,segment,"),
                              ("campaign", f"/campaigns/{c.pk}/", "external_id,email,persona,")):
        page.goto(live_server.url + url)
        screenshot(page, f"export-{name}-{width}")
        form = page.locator("form.export-form")
        # every choice and the button are on screen, none cut off at the right
        for box in (item.bounding_box() for item in form.locator("label, button").all()):
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
        form.get_by_label("Email address").check()
        with page.expect_download() as download:
            form.get_by_role("button").click()
        text = open(download.value.path(), encoding="utf-8").read()
        assert text.startswith(header) and "@example.com" in text
