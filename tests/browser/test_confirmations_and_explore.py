"""In a real browser, at a phone's width, a small laptop's and a desktop's: the publish and
link confirmations say what will happen before it does, and the Explore page's
correlation numbers stay readable with every feature a run can use."""

import pytest
from playwright.sync_api import expect

from customers.models import CustomAttribute
from integrations.services import webhooks
from segments.personas.services import persona_create
from tests.browser.conftest import screenshot
from tests.browser.test_main_journey import CHART_TIMEOUT_MS, sign_in, sign_out
from tests.customers.factories import CustomerFactory
from tests.customers.test_features import buy, compute
from tests.segments.factories import segmented_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (375, 800, 1280)
Z_BIG = {"monetary": 1.5, "recency": -1.0}
Z_LAPSED = {"monetary": -0.8, "recency": 1.2}


def fits_the_screen(page) -> bool:
    """Nothing in the page's content sticks out sideways: wide tables and charts scroll
    inside their own box. (The site header is checked by its own tests.)"""
    return page.evaluate("""() => {
        const main = document.querySelector("main");
        return main.scrollWidth <= main.clientWidth + 1 && main.getBoundingClientRect().right <= window.innerWidth + 1;
    }""")


def test_publish_and_link_confirmations_say_what_will_happen(page, live_server, analyst, marketer):
    # given a published run with two personas, a webhook, and a new run that scatters the lapsed customers
    customers = CustomerFactory.create_batch(40)
    first = segmented_run(groups={0: customers[:20], 1: customers[20:]}, zscores={0: Z_BIG, 1: Z_LAPSED},
                          publish=True, by=analyst)
    persona_create(segment=first.segments.get(index=0), name="Big spenders", by=marketer)
    lapsed = persona_create(segment=first.segments.get(index=1), name="Lapsed", by=marketer)
    webhooks.webhook_endpoint_create(name="CRM sync", url="https://crm.example.invalid/hooks", by=analyst)
    nxt = segmented_run(groups={0: customers[:12], 1: customers[12:30], 2: customers[30:]},
                        zscores={0: Z_BIG, 1: {"frequency": 1.0}, 2: {"tenure": -1.0}})

    # when the analyst asks to publish it, at each width
    sign_in(page, live_server, "ana")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/runs/{nxt.pk}/")
        page.click("a:has-text('Publish…')")
        # then the page lists who follows which segment, who goes to review, and the webhook told
        expect(page.locator("#publish-relinked")).to_contain_text("Big spenders")
        expect(page.locator("#publish-relinked")).to_contain_text(nxt.segments.get(index=0).display_name)
        expect(page.locator("#publish-review")).to_contain_text("Lapsed")
        expect(page.locator("#publish-webhooks")).to_contain_text("CRM sync")
        assert fits_the_screen(page), f"the publish confirmation sticks out at {width}px"
        screenshot(page, f"publish-confirm-{width}")
    nxt.refresh_from_db()
    assert not nxt.published  # looking changed nothing
    page.click("button:has-text('Publish run')")
    expect(page.get_by_text("is now the published segmentation")).to_be_visible()
    sign_out(page)

    # when the marketer links the lapsed persona, now in review, to the segment Big spenders holds
    sign_in(page, live_server, "mark")
    held = nxt.segments.get(index=0)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/personas/{lapsed.pk}/")
        page.click(f"a[href$='?segment={held.pk}']")
        # then the confirmation names the persona that holds it
        expect(page.locator("#link-holders")).to_contain_text("Big spenders")
        assert fits_the_screen(page), f"the link confirmation sticks out at {width}px"
        screenshot(page, f"link-confirm-{width}")
    page.click("button:has-text('Link anyway')")
    expect(page.get_by_text("is now linked to")).to_be_visible()


def test_explore_shows_every_feature_with_readable_correlations(page, live_server, manager):
    # given customers with demographics, an imported number attribute, and purchases
    CustomAttribute.objects.create(key="Spending score", feature_name="attr_spending_score", type="number")
    for i in range(30):
        customer = CustomerFactory(attributes={"Spending score": (i * 37) % 100})
        for purchase in range(1 + i % 4):
            buy(customer, 3 + 17 * purchase + i, f"{10 + 7 * (i % 9)}.00", f"I{i}-{purchase}")
    compute()
    sign_in(page, live_server, "manny")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/features/explore/")
        summary = page.locator("#feature-summary")
        for label in ("Age", "Annual income", "Spending score"):
            expect(summary).to_contain_text(label)
        chart = page.locator("[data-figure=correlation-chart]")
        expect(chart.locator(".main-svg").first).to_be_visible(timeout=CHART_TIMEOUT_MS)
        measured = page.evaluate("""() => {
            const figure = JSON.parse(document.getElementById("correlation-chart").textContent);
            const names = figure.data[0].x;
            const box = document.querySelector("[data-figure=correlation-chart]");
            const numbers = [...box.querySelectorAll("text")].filter(t => /^[-\u2212]?\\d\\.\\d\\d$/.test(t.textContent.trim()));
            const area = box.querySelector(".nsewdrag").getBoundingClientRect();
            return {features: names.length, numbers: numbers.length, names,
                    smallestFont: Math.min(...numbers.map(t => parseFloat(getComputedStyle(t).fontSize))),
                    cellWidth: area.width / names.length, cellHeight: area.height / names.length};
        }""")
        assert {"Age", "Annual income", "Spending score"} <= set(measured["names"])
        assert measured["numbers"] == measured["features"] ** 2, measured
        assert measured["smallestFont"] >= 11, measured
        assert measured["cellWidth"] >= 32 and measured["cellHeight"] >= 32, (width, measured)
        assert fits_the_screen(page), f"Explore sticks out at {width}px"
        screenshot(page, f"explore-{width}")
