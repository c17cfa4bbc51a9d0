"""A real Celery worker on the real Redis broker follows runs from enqueue to memberships."""

import json
import time

import pytest
from django.core.management import call_command

from segments.models import Membership, SegmentationRun
from tests.customers.factories import CustomerFactory, planted_customers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_until_finished(run_id, timeout=60):
    deadline = time.monotonic() + timeout
    seen_progress = set()
    while time.monotonic() < deadline:
        run = SegmentationRun.objects.get(pk=run_id)
        seen_progress.add(run.progress)
        if run.status in SegmentationRun.FINISHED_STATUSES:
            return run, seen_progress
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {run.status} after {timeout} s")


def test_api_run_is_computed_by_the_worker(celery_worker, api_client, analyst):
    # given customers and a real worker listening on Redis
    planted_customers(per_group=20)
    # when an analyst starts a run through the API
    response = api_client(analyst).post(
        "/api/v1/runs/", {"features": ["recency", "frequency", "monetary"], "k": 3}, format="json"
    )
    assert response.status_code == 202
    run, _ = wait_until_finished(response.json()["id"])
    # then the worker wrote every membership and the API shows the result
    assert run.status == "succeeded", run.error
    assert Membership.objects.filter(run=run).count() == 60
    body = api_client(analyst).get(f"/api/v1/runs/{run.pk}/").json()
    assert sorted(s["size"] for s in body["segments"]) == [20, 20, 20]
    members = api_client(analyst).get(f"/api/v1/segments/{body['segments'][0]['id']}/members/").json()
    assert len(members["results"]) == 20


def test_cli_enqueues_waits_and_prints_a_json_summary(celery_worker, capsys):
    planted_customers(per_group=20)
    call_command("segment", "--features", "recency,frequency,monetary", "--algorithm", "kmeans", "--k", "3", "--json")
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert summary["k"] == 3 and sorted(summary["sizes"]) == [20, 20, 20]
    assert 0.5 < summary["silhouette"] <= 1
    assert "[100%] succeeded" in captured.err  # progress went to stderr
    assert Membership.objects.filter(run_id=summary["run_id"]).count() == 60


def test_a_run_that_fails_in_the_worker_records_why(celery_worker, api_client, analyst):
    # given six customers who all look alike on the chosen feature
    CustomerFactory.create_batch(6, age=30)
    # when a run asks for three segments (valid at request time: 6 customers >= k)
    response = api_client(analyst).post("/api/v1/runs/", {"features": ["age"], "k": 3}, format="json")
    assert response.status_code == 202
    run, _ = wait_until_finished(response.json()["id"])
    # then the worker ends it as failed with the reason, and writes nothing
    assert run.status == "failed"
    assert "distinct customer profiles" in run.error
    assert Membership.objects.filter(run=run).count() == 0


def test_the_api_over_real_http_with_a_token(live_server, celery_worker, analyst):
    """Through a real WSGI server, as a campaign tool would call it."""
    import urllib.request

    from rest_framework.authtoken.models import Token

    planted_customers(per_group=10)
    token = Token.objects.create(user=analyst).key
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/runs/", method="POST", headers=headers,
        data=json.dumps({"features": ["recency", "frequency", "monetary"], "k": 3}).encode(),
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        location = response.headers["Location"]
        run_id = json.load(response)["id"]
    assert location.endswith(f"/api/v1/runs/{run_id}/")
    run, _ = wait_until_finished(run_id)
    assert run.status == "succeeded"
    with urllib.request.urlopen(urllib.request.Request(location, headers=headers), timeout=30) as response:
        assert json.load(response)["progress"] == 100
