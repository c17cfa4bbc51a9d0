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


def test_an_import_sent_by_task_name_while_redis_is_down_fails_with_a_message(api_client, analyst, marketer,
                                                                              unreachable_broker, settings, tmp_path):
    import io

    from campaigns import services as campaign_services
    from campaigns.models import OutcomeImport
    from customers.models import ImportJob
    from tests.campaigns.factories import campaign, world
    from tests.customers.test_imports import MALL

    settings.MEDIA_ROOT = tmp_path
    # a customers file and an outcomes file, each enqueued by task name once its row commits
    upload = io.BytesIO(MALL.encode())
    upload.name = "mall.csv"
    response = api_client(analyst).post("/api/v1/imports/", {"kind": "customers", "file": upload}, format="multipart")
    assert response.status_code == 202
    c = campaign_services.campaign_launch(campaign=campaign(world(sizes=(4, 4, 4)), by=marketer))
    upload = io.BytesIO(b"customer,event,timestamp\nNOPE,opened,2026-03-01\n")
    upload.name = "o.csv"
    response = api_client(marketer).post(f"/api/v1/campaigns/{c.pk}/outcomes/", {"file": upload}, format="multipart")
    assert response.status_code == 202
    for job in (ImportJob.objects.get(), OutcomeImport.objects.get()):
        assert job.status == "failed" and "job queue (Redis) could not be reached" in job.error
