"""Dates written day first or month first: read in the order the file shows, asked for when
it shows none and it matters, refused when the file mixes the two."""

import io

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from customers.importing.validate import ImportOptions
from customers.models import ImportJob, ImportRejectedRow, Transaction
from customers.services.imports import import_create, import_execute
from tests.customers.test_imports import run_import, write
from tests.customers.test_imports_views import confirm_data, upload

pytestmark = pytest.mark.django_db

HEADER = "InvoiceNo,InvoiceDate,Quantity,UnitPrice,CustomerID\n"
DAY_FIRST = HEADER + "1,03/02/2012 10:00,1,2.50,C1\n2,25/12/2011 09:30,2,1.00,C2\n3,01/12/2011 08:00,1,4.00,C1\n"
EITHER = HEADER + "1,03/02/2012,1,2.50,C1\n2,04/02/2012,2,1.00,C2\n"
MIXED = HEADER + "1,25/12/2011,1,2.50,C1\n2,12/26/2011,2,1.00,C2\n"


def stored_dates():
    return {t.invoice_id: t.timestamp for t in Transaction.objects.all()}


def expected_dates(text, date_format):
    frame = pd.read_csv(io.StringIO(text), dtype=str)
    parsed = pd.to_datetime(frame["InvoiceDate"], format=date_format).dt.tz_localize("UTC")
    return dict(zip(frame["InvoiceNo"], parsed, strict=True))


def test_day_first_dates_are_read_day_first_without_being_told(tmp_path):
    # given a file whose "25/12/2011" can only be day first, and whose "03/02/2012" reads either way
    job = run_import("transactions", write(tmp_path, "uk.csv", DAY_FIRST))
    # then every date is read day first (03/02/2012 is 3 February), and the report says so
    assert stored_dates() == expected_dates(DAY_FIRST, "%d/%m/%Y %H:%M")
    assert job.options["dayfirst"] is True
    assert any("read day first, as the file writes them" in note for note in job.report["notes"])


def test_dates_that_read_either_way_are_refused_until_the_order_is_given(tmp_path):
    path = write(tmp_path, "either.csv", EITHER)
    with pytest.raises(ValidationError, match="could be day first or month first .* --dayfirst or --monthfirst"):
        import_create(kind="transactions", upload_path=path, original_name=path.name)
    assert not ImportJob.objects.exists()
    run_import("transactions", path, dayfirst=False)
    assert stored_dates() == expected_dates(EITHER, "%m/%d/%Y")


def test_a_column_in_both_orders_is_refused_and_nothing_is_kept(tmp_path):
    path = write(tmp_path, "mixed.csv", MIXED)
    for dayfirst in (None, True, False):
        with pytest.raises(ValidationError, match="both day first .*25/12/2011.* and month first .*12/26/2011"):
            import_create(kind="transactions", upload_path=path, original_name=path.name,
                          options=ImportOptions(dayfirst=dayfirst))
    assert not ImportJob.objects.exists() and not Transaction.objects.exists()


def test_a_line_past_the_sample_in_the_other_order_is_rejected_not_read_the_other_way(tmp_path, monkeypatch):
    # given a sample (the first rows) that shows day first, and a later line written month first
    monkeypatch.setattr("customers.services.imports.PREVIEW_ROWS", 2)
    text = DAY_FIRST + "4,12/26/2011 10:00,1,3.00,C3\n"
    job = run_import("transactions", write(tmp_path, "late.csv", text))
    # then that line is rejected with its reason, and the others are read day first
    assert list(ImportRejectedRow.objects.filter(job=job).values_list("line", "reason")) == [
        (5, "date can only be month first (the import reads day first)")]
    assert stored_dates() == expected_dates(DAY_FIRST, "%d/%m/%Y %H:%M")


def test_cli_names_the_options_and_takes_monthfirst(tmp_path, django_capture_on_commit_callbacks):
    path = write(tmp_path, "either.csv", EITHER)
    with pytest.raises(CommandError, match="--dayfirst or --monthfirst"):
        call_command("import_data", "transactions", str(path), "--no-wait")
    with django_capture_on_commit_callbacks():
        call_command("import_data", "transactions", str(path), "--monthfirst", "--no-wait")
    assert ImportJob.objects.get().options["dayfirst"] is False


def test_upload_page_preselects_the_order_shown_and_asks_when_there_is_none(client, analyst):
    client.force_login(analyst)
    shown = upload(client, DAY_FIRST, "transactions", "uk.csv")
    assert confirm_data(shown)["dayfirst"] == "day"
    assert "read day first, as the file writes them" in shown.content.decode()
    asked = upload(client, EITHER, "transactions", "either.csv")
    assert "could be day first or month first: choose how they are written below" in asked.content.decode()
    data = confirm_data(asked)
    assert data["dayfirst"] == ""
    refused = client.post(reverse("customers:import-create"), data)
    assert refused.status_code == 400 and "Say which order they are in" in refused.content.decode()
    assert not ImportJob.objects.exists()
    data["dayfirst"] = "day"
    assert client.post(reverse("customers:import-create"), data).status_code == 302
    import_execute(job_id=ImportJob.objects.get().pk)
    assert stored_dates() == expected_dates(EITHER, "%d/%m/%Y")


def test_a_mixed_file_is_refused_on_the_upload_page(client, analyst):
    client.force_login(analyst)
    response = upload(client, MIXED, "transactions", "mixed.csv")
    assert response.status_code == 400 and "are written both day first" in response.content.decode()


def test_api_refuses_dates_that_read_either_way_until_dayfirst_is_sent(api_client, analyst):
    client = api_client(analyst)
    file = SimpleUploadedFile("either.csv", EITHER.encode(), content_type="text/csv")
    refused = client.post("/api/v1/imports/", {"file": file, "kind": "transactions"}, format="multipart")
    assert refused.status_code == 400
    assert any('"dayfirst": true or false in the API' in text for text in refused.json()["error"]["fields"]["dayfirst"])
    assert not ImportJob.objects.exists()
    file = SimpleUploadedFile("either.csv", EITHER.encode(), content_type="text/csv")
    accepted = client.post("/api/v1/imports/", {"file": file, "kind": "transactions", "dayfirst": "false"},
                           format="multipart")
    assert accepted.status_code == 202 and accepted.json()["options"]["dayfirst"] is False


def test_a_preset_keeps_month_first_apart_from_not_saying(tmp_path):
    # a preset saved as month first reads dates that read either way month first; one that
    # does not say lets the file tell, and asks when it cannot
    from customers.services.presets import preset_options, preset_save

    path = write(tmp_path, "either.csv", EITHER)
    mapping = {"InvoiceNo": "invoice_id", "InvoiceDate": "timestamp", "Quantity": "quantity",
               "UnitPrice": "unit_price", "CustomerID": "customer_external_id"}
    us = preset_save(name="US shop", kind="transactions", mapping=mapping, options=ImportOptions(dayfirst=False))
    unsaid = preset_save(name="Any shop", kind="transactions", mapping=mapping, options=ImportOptions())
    us.refresh_from_db()
    unsaid.refresh_from_db()
    assert (us.dayfirst, unsaid.dayfirst) == (False, None)
    assert preset_options(us).dayfirst is False and preset_options(unsaid).dayfirst is None
    with pytest.raises(ValidationError, match="could be day first or month first"):
        import_create(kind="transactions", upload_path=path, original_name=path.name, options=preset_options(unsaid))
    job = import_create(kind="transactions", upload_path=path, original_name=path.name, options=preset_options(us))
    import_execute(job_id=job.pk)
    assert stored_dates() == expected_dates(EITHER, "%m/%d/%Y")
