"""One date format on every page: "2 Dec 2026 13:20" for a moment, "2 Dec 2026" for a day,
the relative time on hover, moments in the reader's time zone (the `tz` cookie)."""

import datetime
import re
import zoneinfo
from pathlib import Path

import pytest
from django.conf import settings

from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.segments.factories import RunFactory

TEMPLATES = Path(settings.BASE_DIR, "templates")
ONE_FORMAT = re.compile(r"^\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}( \d\d:\d\d)?$")
TIME_TAG = re.compile(r'<time datetime="([^"]+)"(?: title="([^"]*)")?>([^<]*)</time>')


def expected(moment: datetime.datetime, zone: str) -> str:
    """The format written out independently of custseg_site.dates (strftime, not Django)."""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local.day} {local:%b %Y %H:%M}"


def test_no_template_formats_a_date_its_own_way():
    # Given every template, when they are read, then none uses Django's other date filters
    # (each date goes through |when or |day) nor prints a raw timestamp in a title
    others = re.compile(r"\|\s*(date|time|naturaltime|naturalday|timesince|timeuntil)\b")
    raw_titles = re.compile(r'title="\{\{ *[\w.]*(_at|_date|timestamp) *\}\}"')
    found = []
    for path in TEMPLATES.rglob("*.html"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if others.search(line) or raw_titles.search(line):
                found.append(f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()[:120]}")
    assert found == []


def test_no_python_code_formats_a_date_for_people_its_own_way():
    # strftime-style formats in f-strings ("{when:%d %b %Y}") in the apps' code for pages and
    # messages; the numeric code, imports' parsing and charts' axes keep ISO dates
    pattern = re.compile(r"\{[^{}]*:%[a-zA-Z][^{}]*\}")
    skip = ("/ml/", "/migrations/", "charts.py", "/importing/", "/api/")
    found = []
    for app in ("customers", "segments", "campaigns", "integrations", "custseg_site"):
        for path in Path(settings.BASE_DIR, app).rglob("*.py"):
            if any(part in str(path) for part in skip):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(settings.BASE_DIR)}:{number}: {line.strip()[:120]}")
    assert found == []


@pytest.mark.django_db
def test_a_customers_page_shows_purchases_in_the_readers_time_zone(client, manager):
    # Given a purchase late in the evening (UTC) and a customer who signed up on a day
    bought = datetime.datetime(2026, 3, 5, 23, 30, tzinfo=datetime.UTC)
    customer = CustomerFactory(signup_date=datetime.date(2025, 11, 2))
    TransactionFactory(customer=customer, timestamp=bought)
    client.force_login(manager)

    # When a reader in Tokyo opens the customer's page (the browser said so in the cookie)
    client.cookies["tz"] = "Asia/Tokyo"
    html = client.get(f"/customers/{customer.external_id}/").content.decode()

    # then the purchase shows at Tokyo's time (the next morning), the signup day as a day
    moments = {text: (iso, title) for iso, title, text in TIME_TAG.findall(html)}
    assert expected(bought, "Asia/Tokyo") in moments  # 6 Mar 2026 08:30
    assert "2 Nov 2025" in moments
    iso, title = moments[expected(bought, "Asia/Tokyo")]
    assert datetime.datetime.fromisoformat(iso) == bought
    assert "ago" in title and "Asia/Tokyo" in title
    assert all(ONE_FORMAT.match(text) for text in moments), list(moments)


@pytest.mark.django_db
@pytest.mark.parametrize("cookie", [None, "Mars/Olympus_Mons", "<script>"])
def test_without_a_known_zone_pages_use_the_servers(client, analyst, cookie):
    # Given a run created at a known moment
    created = datetime.datetime(2026, 12, 2, 13, 20, tzinfo=datetime.UTC)
    run = RunFactory(created_by=analyst)
    type(run).objects.filter(pk=run.pk).update(created_at=created)
    client.force_login(analyst)
    if cookie:
        client.cookies["tz"] = cookie

    # When the run list and the run's page are read
    for url in ("/runs/", f"/runs/{run.pk}/"):
        response = client.get(url)

        # then the moment is in the server's zone (UTC), in the one format, and the page works
        assert response.status_code == 200
        texts = [text for _, _, text in TIME_TAG.findall(response.content.decode())]
        assert expected(created, settings.TIME_ZONE) in texts, (url, texts)
        assert all(ONE_FORMAT.match(text) for text in texts), texts


def test_the_filters_leave_missing_values_empty():
    from django.template import Context, Template

    template = Template('{% load custseg %}[{{ a|when|default:"never" }}][{{ b|day }}][{{ c|stat }}]')
    assert template.render(Context({"a": None, "b": "", "c": "2026-05-18"})) == (
        '[never][][<time datetime="2026-05-18">18 May 2026</time>]')
