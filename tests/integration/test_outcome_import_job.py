"""Outcome imports on a real Celery worker over the real Redis broker: a CSV file uploaded
through the API is accepted (202), imported in the background, and the campaign's results
change once it has succeeded."""

import io
import time
from decimal import Decimal

import pytest

from campaigns import services
from campaigns.models import CampaignMember
from tests.campaigns.factories import campaign, world

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_until_finished(api, url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(url).json()
        if body["status"] not in ("pending", "running"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"the import is still {body['status']} ({body['stage']}) after {timeout} s")


def test_an_uploaded_file_is_imported_by_the_worker_and_changes_the_results(
        celery_worker, api_client, marketer, analyst, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    w = world(sizes=(40, 20, 10), by=analyst)
    c = services.campaign_launch(campaign=campaign(w, by=marketer, personas=[w.big], holdout_share=Decimal("0.25")))
    treated = CampaignMember.objects.filter(campaign=c, is_control=False).select_related("customer")[:12]
    api = api_client(marketer)
    before = api.get(f"/api/v1/campaigns/{c.pk}/results/").json()["total"]["treated"]
    assert (before["converters"], before["revenue"]) == (0, "0.00")
    # given a campaign tool's results file: 12 conversions and a row for nobody we know
    upload = io.BytesIO(("customer,event,revenue,timestamp\n" + "".join(
        f"{m.customer.external_id},converted,25.00,2026-03-01T10:00:00Z\n" for m in treated)
        + "NOPE,converted,25.00,2026-03-01\n").encode())
    upload.name = "results.csv"
    # when it is uploaded through the API
    accepted = api.post(f"/api/v1/campaigns/{c.pk}/outcomes/", {"file": upload}, format="multipart")
    assert accepted.status_code == 202, accepted.json()
    # then the worker imports it: every row accounted for
    report = wait_until_finished(api, accepted["Location"])
    assert report["status"] == "succeeded", report["error"]
    assert (report["rows"], report["added"], report["duplicates"], report["rejected"]) == (13, 12, 0, 1)
    rejected = b"".join(api.get(report["rejected_rows_url"]).streaming_content).decode().splitlines()
    assert rejected[1].startswith("14,unknown customer “NOPE”")
    # and the results count the conversions
    after = api.get(f"/api/v1/campaigns/{c.pk}/results/").json()["total"]["treated"]
    assert (after["converters"], after["conversions"], after["revenue"]) == (12, 12, "300.00")
    assert list(tmp_path.joinpath("outcome-imports").iterdir()) == []  # the stored upload is gone
