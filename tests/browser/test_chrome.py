"""The page chrome at phone, tablet and laptop widths: the header's links, search and
sign-out stay inside the dark bar (behind a Menu button on narrow screens, which the
keyboard opens and Escape closes), and no page scrolls sideways."""

import re

import pytest
from playwright.sync_api import expect

from segments.personas.services import persona_create
from tests.browser.conftest import screenshot
from tests.browser.layout import assert_inside, assert_no_horizontal_overflow
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE, TABLET, LAPTOP = 375, 800, 1280
# What each role's header holds besides its links: the customer search and who is signed in.
HEADER_ITEMS = ".topbar nav a, .topbar .search input, .topbar .user .who, .topbar .user button"


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Overview")


@pytest.mark.parametrize("role", ["analyst", "marketer", "manager"])
def test_header_fits_every_width_for_each_role(page, live_server, role, request):
    # Given a user of the role, named as make run's demo users are ("analyst · Analyst"), signed in
    user = request.getfixturevalue(role)
    user.username = role
    user.save()
    sign_in(page, live_server, user.get_username())
    links = page.locator(".topbar nav a")
    assert links.count() >= 6

    # When the window is a laptop's, the whole header is one line inside the bar, no menu button
    page.set_viewport_size({"width": LAPTOP, "height": 800})
    expect(page.locator(".menu-toggle")).to_be_hidden()
    assert_inside(page, HEADER_ITEMS, ".topbar")
    tops = {round(links.nth(i).bounding_box()["y"]) for i in range(links.count())}
    assert len(tops) == 1, f"the {role}'s links wrap onto {len(tops)} lines at {LAPTOP} px"
    bar = page.locator(".topbar").bounding_box()
    assert bar["height"] < 70, f"the header is {bar['height']} px tall at {LAPTOP} px: it wraps"
    assert_no_horizontal_overflow(page)
    screenshot(page, f"chrome-{role}-{LAPTOP}")

    for width in (TABLET, PHONE):
        # When the window is a tablet's or a phone's, the links hide behind the Menu button
        page.set_viewport_size({"width": width, "height": 800})
        toggle = page.get_by_role("button", name="Menu")
        expect(toggle).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(links.first).to_be_hidden()
        assert_inside(page, ".topbar .brand, .menu-toggle", ".topbar")
        assert_no_horizontal_overflow(page)

        # and the keyboard opens it: every item shows inside the bar, nothing sticks out
        toggle.focus()
        page.keyboard.press("Enter")
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(links.last).to_be_visible()
        assert_inside(page, HEADER_ITEMS, ".topbar")
        assert_no_horizontal_overflow(page)
        screenshot(page, f"chrome-{role}-{width}-open")

        # and Escape closes it again, the focus back on the button
        page.keyboard.press("Escape")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(links.first).to_be_hidden()
        expect(toggle).to_be_focused()


def test_the_menu_stays_open_without_scripts(browser, live_server, analyst):
    # Given a browser with JavaScript off, at a phone's width
    context = browser.new_context(viewport={"width": PHONE, "height": 800}, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, "ana")
        # then the links show in a column inside the bar (there is no script to open a menu)
        expect(page.locator(".menu-toggle")).to_be_hidden()
        assert_inside(page, HEADER_ITEMS, ".topbar")
        assert_no_horizontal_overflow(page)
    finally:
        context.close()


def test_a_long_avatar_stays_inside_its_card(page, live_server, marketer):
    # Given a persona whose avatar is 8 wide letters, the longest allowed
    customers = CustomerFactory.create_batch(4)
    run = segmented_run(groups={0: customers[:2], 1: customers[2:]}, publish=True, by=marketer)
    persona = persona_create(segment=run.segments.get(index=0), name="Weekend bargain hunters",
                             avatar="WWWWWWWW", by=marketer)
    sign_in(page, live_server, "mark")

    for width in (PHONE, LAPTOP):
        page.set_viewport_size({"width": width, "height": 800})
        # When the marketer opens the persona list and the persona's page
        page.goto(f"{live_server.url}/personas/")
        # then the whole avatar is drawn inside its card, and the card inside the window
        expect(page.locator(".persona-card .avatar")).to_have_text("WWWWWWWW")
        assert_inside(page, ".persona-card .avatar", ".persona-card")
        avatar = page.locator(".persona-card .avatar").evaluate("e => e.scrollWidth <= e.clientWidth")
        assert avatar, "the avatar's letters are cut off"
        assert_no_horizontal_overflow(page)
        page.goto(f"{live_server.url}/personas/{persona.pk}/")
        expect(page.locator("h1")).to_contain_text(re.compile("Weekend bargain hunters"))
        assert page.locator(".avatar.large").evaluate("e => e.scrollWidth <= e.clientWidth")
        assert_no_horizontal_overflow(page)
        screenshot(page, f"chrome-avatar-{width}")


def test_dates_show_in_the_browsers_time_zone(browser, live_server, analyst):
    import datetime

    from tests.segments.factories import RunFactory
    from tests.test_dates import expected

    # Given a run created at 13:20 UTC, and an analyst whose browser is set to New York
    created = datetime.datetime(2026, 12, 2, 13, 20, tzinfo=datetime.UTC)
    run = RunFactory(created_by=analyst)
    type(run).objects.filter(pk=run.pk).update(created_at=created)
    context = browser.new_context(viewport={"width": LAPTOP, "height": 800}, timezone_id="America/New_York")
    page = context.new_page()
    try:
        # When they sign in (the sign-in page tells the server the zone) and open the runs
        sign_in(page, live_server, "ana")
        page.goto(f"{live_server.url}/runs/")
        # then the run's time is New York's, with how long ago on hover
        moment = page.locator(f"time[datetime='{created.isoformat()}']")
        expect(moment).to_have_text(expected(created, "America/New_York"))  # 2 Dec 2026 08:20
        expect(moment).to_have_attribute("title", re.compile(r"ago · America/New_York time$"))
    finally:
        context.close()


# What a marketer should never have to read: the code's names for algorithms, columns and
# features, and a rule that is one value in disguise; and any date not in the one format.
MACHINE_NAMES = re.compile(r"\b(kmeans|gmm|annual_income|attr_\w+|p_alive|demo_group)\b|label -1|>= ?([\d.]+) and <= ?\2\b")
OTHER_DATES = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}\b"
                         r"|\b\d+\s(minute|hour|day|week)s? ago\b|\b[ap]\.m\.")


@pytest.mark.parametrize("role", ["analyst", "marketer", "manager"])
def test_every_page_in_the_menu_fits_a_phone(page, live_server, role, request):
    # Given a user of the role on a phone, and a customer with a custom attribute
    user = request.getfixturevalue(role)
    CustomerFactory(external_id="C-walk", attributes={"demo_group": "B"})
    page.set_viewport_size({"width": PHONE, "height": 800})
    sign_in(page, live_server, user.get_username())
    urls = page.locator(".topbar nav a").evaluate_all("links => links.map(link => link.href)")
    urls += [f"{live_server.url}/customers/?q=nobody", f"{live_server.url}/customers/C-walk/"]
    for url in urls:
        # When they open each page the menu offers
        page.goto(url)
        # then none scrolls sideways
        assert_no_horizontal_overflow(page)
        # and none shows a machine name or a date in another format than "2 Dec 2026 13:20"
        text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
        names = MACHINE_NAMES.search(text)
        assert not names, f"{url} shows {names.group(0)!r} to the {role}"
        other = OTHER_DATES.search(text)
        assert not other, f"{url} shows the date {other.group(0)!r} to the {role}"
