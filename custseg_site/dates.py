"""One way to show dates and times on pages: "2 Dec 2026 13:20" for a moment, "2 Dec 2026"
for a day, with the relative time ("7 minutes ago") on hover; moments in the reader's time
zone.

The zone: chrome.js (loaded on every page, the sign-in page first) stores the browser's IANA
zone in the `tz` cookie and BrowserTimeZoneMiddleware activates it for each request, so
pages are written in the reader's zone by the server itself: one format, one formatting code
(no second copy in JavaScript to keep in step), and the same text with scripts off (then in
settings.TIME_ZONE, UTC, as said on hover). Since every page but sign-in needs a signed-in
user, the cookie is there before the first page that shows a date.

Templates use the filters {{ value|when }} and {{ value|day }} (custseg_site.templatetags.custseg);
Python code that writes dates into messages uses format_when / format_day.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import dateformat, timezone
from django.utils.html import format_html

WHEN_FORMAT = "j M Y H:i"  # 2 Dec 2026 13:20: no month/day order to guess, 24-hour clock
DAY_FORMAT = "j M Y"  # 2 Dec 2026
ZONE_COOKIE = "tz"


def _as_moment(value) -> datetime.datetime | datetime.date | None:
    """A datetime or date; ISO text (as stored in JSON) is read; anything else is None."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _local_day(value):
    """The day of a moment in the current time zone; a date as it is."""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def format_day(value) -> str:
    """2 Dec 2026 (a datetime is taken in the current time zone); "" when missing."""
    value = _as_moment(value)
    if value is None:
        return ""
    return dateformat.format(_local_day(value), DAY_FORMAT)


def format_when(value) -> str:
    """2 Dec 2026 13:20 in the current time zone (a date alone: 2 Dec 2026); "" when missing."""
    value = _as_moment(value)
    if value is None:
        return ""
    if not isinstance(value, datetime.datetime):
        return format_day(value)
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return dateformat.format(value, WHEN_FORMAT)


def when_html(value) -> str:
    """<time> with the moment in ISO for machines, the one format for people and the relative
    time and zone on hover; "" when missing (so |default:"never" still works)."""
    moment = _as_moment(value)
    if moment is None:
        return ""
    if not isinstance(moment, datetime.datetime):
        return day_html(moment)
    hover = f"{naturaltime(moment)} · {timezone.get_current_timezone_name()} time"
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(), hover, format_when(moment))


def day_html(value) -> str:
    """<time> with the day in ISO and in the one format; "" when missing."""
    moment = _as_moment(value)
    if moment is None:
        return ""
    moment = _local_day(moment)
    return format_html('<time datetime="{}">{}</time>', moment.isoformat(), format_day(moment))


def zone_from_cookie(text: str | None) -> zoneinfo.ZoneInfo | None:
    """The IANA zone the browser reported, or None for a missing or unknown one."""
    if not text or len(text) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class BrowserTimeZoneMiddleware:
    """Dates on pages in the reader's zone (the `tz` cookie chrome.js sets), else TIME_ZONE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_from_cookie(request.COOKIES.get(ZONE_COOKIE))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
