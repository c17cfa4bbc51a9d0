"""Webhook deliveries on a real Celery worker and the real Redis broker: a publish enqueues
the job on commit, a failing receiver gets the retry after its (shortened) backoff."""

import time

import pytest

from integrations.models import WebhookDelivery
from integrations.services import webhooks
from segments import services
from tests.integrations.webhooks_support import Receiver, signed_with, two_runs  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_failed_delivery_is_retried_by_the_worker_and_then_succeeds(celery_worker, two_runs, analyst, settings):  # noqa: F811
    # backoff of 0.2 s instead of 30 s: the same countdown path, a test-sized wait
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.2
    with Receiver([503, 200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(name="CRM", url=receiver.url, by=analyst)
        # when run B is published (committed: the job is enqueued on commit, not run here)
        services.run_publish(run=two_runs["b"], by=analyst)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            delivery = WebhookDelivery.objects.first()
            if delivery is not None and delivery.status in ("succeeded", "failed"):
                break
            time.sleep(0.1)
    # then the worker tried twice: the 503, then the 200
    assert delivery is not None, "the worker never delivered"
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 2, 200)
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    # each attempt is its own row, and each request verifies with the standardwebhooks library
    assert [(a.number, a.response_code) for a in delivery.attempt_rows.order_by("number")] == [(1, 503), (2, 200)]
    assert all(signed_with(endpoint.secret, request) for request in receiver.requests)
