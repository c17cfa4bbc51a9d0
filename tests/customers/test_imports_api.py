import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.models import Customer, ImportJob
from customers.services.imports import import_execute
from tests.customers.test_imports import MALL, RETAIL

pytestmark = pytest.mark.django_db

URL = "/api/v1/imports/"


def upload(name, text):
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_post_returns_202_and_the_import_shows_its_counts(api_client, analyst, django_capture_on_commit_callbacks):
    client = api_client(analyst)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(URL, {"file": upload("mall.csv", MALL), "kind": "customers",
                                     "units": '{"annual_income": 1000}'}, format="multipart")
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1
    job_id = response.json()["id"]
    import_execute(job_id=job_id)  # the worker's part (a real worker runs it in tests/integration)
    body = client.get(f"{URL}{job_id}/").json()
    assert body["status"] == "succeeded" and (body["rows_read"], body["accepted"], body["rejected"]) == (4, 4, 0)
    assert Customer.objects.get(external_id="2").annual_income == 15_000


def test_rejected_rows_download_as_csv_with_formulas_neutralised(api_client, analyst):
    client = api_client(analyst)
    text = RETAIL + '=1+1,X,"=HYPERLINK(""http://evil"")",lots,2010-12-01,1,5,UK\n'
    job_id = client.post(URL, {"file": upload("retail.csv", text), "kind": "transactions"}, format="multipart").json()["id"]
    import_execute(job_id=job_id)
    # the CSV answers whatever the client accepts (a generated client may send Accept: text/csv)
    response = client.get(f"{URL}{job_id}/rejected/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["line", "reason", "row"]
    assert [row[:2] for row in rows[1:]] == [
        ["4", "duplicate of line 3"], ["7", "negative unit price"],
        ["8", "expected 8 fields, found 5"], ["9", "quantity is not a number"],
    ]
    assert rows[4][2].startswith("'=1+1,X,=HYPERLINK")  # the row as read, shown as text
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"kind": "customers"}, "file", "No file was submitted"),
        ({"file": "x", "kind": "people"}, "kind", "not a valid choice"),
        ({"file": "x", "kind": "customers", "mapping": "[1]"}, "mapping", "JSON object"),
        ({"file": "x", "kind": "customers", "mapping": '{"Nope": "age"}'}, "file", "no column 'Nope'"),
        ({"file": "x", "kind": "customers", "units": '{"annual_income": -1}'}, "units", "positive"),
        ({"file": "empty", "kind": "customers"}, "file", "empty"),
        ({"file": "x", "kind": "transactions"}, "mapping", "No column is mapped to"),
    ],
)
def test_bad_uploads_are_a_400_and_store_nothing(api_client, analyst, data, field, message):
    data = dict(data)
    if data.get("file") == "x":
        data["file"] = upload("mall.csv", MALL)
    elif data.get("file") == "empty":
        data["file"] = upload("empty.csv", "")
    response = api_client(analyst).post(URL, data, format="multipart")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert any(message in text for text in error["fields"][field]), error
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize("role", ["manager", "marketer", "nobody"])
def test_only_analysts_import(api_client, request, role):
    response = api_client(request.getfixturevalue(role)).post(
        URL, {"file": upload("mall.csv", MALL), "kind": "customers"}, format="multipart"
    )
    assert response.status_code == 403 and ImportJob.objects.count() == 0


def test_anonymous_cannot_read_imports(api_client):
    assert api_client().get(URL).status_code == 401


def test_managers_read_imports(api_client, analyst, manager):
    api_client(analyst).post(URL, {"file": upload("mall.csv", MALL), "kind": "customers"}, format="multipart")
    assert len(api_client(manager).get(URL).json()["results"]) == 1
