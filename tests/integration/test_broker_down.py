"""With the job queue unreachable, starting a run fails the run with a message, not a 500."""

import pytest

from custseg_site.celery import app as celery_app
from custseg_site.embedded_redis import free_port
from segments.models import SegmentationRun
from tests.customers.factories import planted_customers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def unreachable_broker(redis_url):
    """Point Celery at a port nothing listens on, then back."""

    def use(url):
        celery_app.conf.broker_url = url
        celery_app._pool = None  # the producer pool is built from broker_url on first use
        celery_app.amqp._producer_pool = None

    use(f"redis://127.0.0.1:{free_port()}/0")
    yield
    use(redis_url)


def test_starting_a_run_while_redis_is_down_says_so(client, analyst, unreachable_broker):
    planted_customers(per_group=5)
    client.force_login(analyst)
    response = client.post(
        "/runs/new/", {"features": ["recency", "frequency", "monetary"], "k": "3", "seed": "0"}, follow=True
    )
    assert response.status_code == 200
    run = SegmentationRun.objects.get()
    assert run.status == "failed"
    assert "job queue (Redis) could not be reached" in run.error
    assert b"This run failed" in response.content
