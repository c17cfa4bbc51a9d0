"""The Integrations page's delivery attempts, as an Analyst reads them on a phone and on a
desktop: the list opens under the attempt count and nothing sticks out sideways."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import WebhookAttempt, WebhookDelivery
from integrations.services import webhooks
from integrations.transport import PRIVATE_REFUSED
from tests.browser.conftest import screenshot
from tests.browser.layout import assert_no_horizontal_overflow
from tests.browser.test_main_journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_delivery_attempts_open_and_fit_at_phone_and_desktop_widths(page, live_server, analyst):
    # given a delivery whose five attempts failed with long reasons
    endpoint = webhooks.webhook_endpoint_create(
        name="Campaign tool", url="https://hooks.campaign-tool.example.com/custseg/membership-changes/receiver",
        by=analyst)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=webhooks.EVENT_PING, payload={},
                                              status="failed", attempts=5, response_code=503,
                                              error="HTTP 503 Service Unavailable")
    start = timezone.now() - timedelta(hours=1)
    errors = [PRIVATE_REFUSED.format(host="hooks.campaign-tool.example.com (10.0.0.7)"),
              "ConnectionError: HTTPSConnectionPool(host='hooks.campaign-tool.example.com', port=443): Max "
              "retries exceeded with url: /custseg/membership-changes/receiver",
              "Timeout: no answer within 10 s.", "HTTP 429 Too Many Requests", "HTTP 503 Service Unavailable"]
    for number, error in enumerate(errors, start=1):
        WebhookAttempt.objects.create(delivery=delivery, number=number, started_at=start + timedelta(minutes=number),
                                      duration_ms=None if number == 1 else 120, error=error,
                                      response_code={4: 429, 5: 503}.get(number),
                                      retry_at=start + timedelta(minutes=number + 1) if number < 5 else None)
    sign_in(page, live_server, analyst.username)
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/integrations/")
        # when the Analyst opens the attempt count
        attempts = page.get_by_test_id(f"attempts-{delivery.pk}")
        attempts.locator("summary").click()
        # then every attempt is listed, and the page does not scroll sideways
        assert attempts.locator("li").count() == 5
        screenshot(page, f"integrations-attempts-{width}")
        assert_no_horizontal_overflow(page)
