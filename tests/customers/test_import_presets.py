"""Mapping presets: saved once, reused by the page, the API and the CLI on the next file."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from customers.importing.validate import ImportOptions
from customers.models import Customer, ImportJob, ImportPreset
from customers.services.imports import import_execute
from customers.services.presets import preset_save
from tests.customers.test_imports import write
from tests.customers.test_imports_views import confirm_data

pytestmark = pytest.mark.django_db

# The same export as Mall Customers, under a CRM's own column names that detection misses.
CRM = "Kundennummer;Geschlecht;Alter;Einkommen;Punkte\nK1;Male;19;15;39\nK2;Female;35;70;80\n"
CRM_MAPPING = {"Kundennummer": "external_id", "Geschlecht": "gender", "Alter": "age", "Einkommen": "annual_income"}


def crm_preset(**options):
    return preset_save(name="CRM export", kind="customers", mapping=CRM_MAPPING,
                       options=ImportOptions(units={"annual_income": 1000}, **options))


def test_cli_saves_a_preset_and_the_next_file_uses_it(tmp_path, capsys, django_capture_on_commit_callbacks):
    args = [f"--map={column}={field}" for column, field in CRM_MAPPING.items()]
    with django_capture_on_commit_callbacks(execute=False):
        call_command("import_data", "customers", str(write(tmp_path, "a.csv", CRM)), *args,
                     "--unit", "annual_income=1000", "--save-preset", "CRM export", "--no-wait")
    preset = ImportPreset.objects.get(name="CRM export")
    assert preset.mapping["Alter"] == "age" and preset.units == {"annual_income": 1000.0}

    with django_capture_on_commit_callbacks(execute=False):
        call_command("import_data", "customers", str(write(tmp_path, "b.csv", CRM.replace("K1", "K3"))),
                     "--preset", "CRM export", "--json", "--no-wait")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    job = ImportJob.objects.get(pk=summary["import_id"])
    assert summary["preset"] == "CRM export" and job.preset == preset
    import_execute(job_id=job.pk)
    customer = Customer.objects.get(external_id="K3")
    assert customer.age == 19 and customer.annual_income == 15_000 and customer.attributes == {"Punkte": 39}


def test_cli_refuses_an_unknown_preset_naming_the_ones_there_are(tmp_path):
    crm_preset()
    with pytest.raises(CommandError, match="No customers preset 'Shop'. Presets: CRM export"):
        call_command("import_data", "customers", str(write(tmp_path, "a.csv", CRM)), "--preset", "Shop")
    assert ImportJob.objects.count() == 0


def test_a_preset_for_the_other_kind_is_refused(tmp_path):
    crm_preset()
    with pytest.raises(CommandError, match="No transactions preset"):
        call_command("import_data", "transactions", str(write(tmp_path, "a.csv", CRM)), "--preset", "CRM export")


def test_preset_with_unknown_fields_is_refused():
    with pytest.raises(ValidationError, match="Unknown field"):
        preset_save(name="x", kind="customers", mapping={"A": "shoe_size"}, options=ImportOptions())
    assert ImportPreset.objects.count() == 0


def test_saving_under_an_existing_name_replaces_the_preset():
    crm_preset()
    preset_save(name="CRM export", kind="customers", mapping={"Kundennummer": "external_id"}, options=ImportOptions())
    preset = ImportPreset.objects.get()
    assert preset.mapping == {"Kundennummer": "external_id"} and preset.units == {}


def test_api_imports_with_a_preset_and_manages_presets(api_client, analyst, manager, django_capture_on_commit_callbacks):
    client = api_client(analyst)
    created = client.post("/api/v1/import-presets/", {
        "name": "CRM export", "kind": "customers", "mapping": CRM_MAPPING, "units": {"annual_income": 1000},
    }, format="json")
    assert created.status_code == 201, created.content
    bad = client.post("/api/v1/import-presets/", {"name": "x", "kind": "customers", "mapping": {"A": "shoe_size"}},
                      format="json")
    assert bad.status_code == 400 and "shoe_size" in bad.json()["error"]["message"]

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/v1/imports/", {
            "file": SimpleUploadedFile("crm.csv", CRM.encode()), "kind": "customers", "preset": "CRM export",
        }, format="multipart")
    assert response.status_code == 202, response.content
    import_execute(job_id=response.json()["id"])
    assert Customer.objects.get(external_id="K2").annual_income == 70_000

    # a Manager reads presets but may not change them
    reader = api_client(manager)
    assert [p["name"] for p in reader.get("/api/v1/import-presets/").json()] == ["CRM export"]
    assert reader.delete(f"/api/v1/import-presets/{created.json()['id']}/").status_code == 403
    assert client.delete(f"/api/v1/import-presets/{created.json()['id']}/").status_code == 204
    assert ImportPreset.objects.count() == 0


def test_page_preselects_a_presets_columns_and_can_save_a_new_one(client, analyst, django_capture_on_commit_callbacks):
    preset = crm_preset(decimal_comma=True)
    client.force_login(analyst)
    page = client.post(reverse("customers:import-create"), {
        "kind": "customers", "file": SimpleUploadedFile("crm.csv", CRM.encode()), "preset": preset.pk,
    })
    assert page.status_code == 200
    data = confirm_data(page)
    assert (data["col_0"], data["col_2"], data["col_4"]) == ("external_id", "age", "attribute")
    assert data["decimal_comma"] == "on" and data["unit_annual_income"] == "on"
    data["save_preset"] = "CRM export v2"
    data["decimal_comma"] = ""
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("customers:import-create"), data)
    assert response.status_code == 302
    job = ImportJob.objects.get()
    saved = ImportPreset.objects.get(name="CRM export v2")
    assert job.preset == saved and saved.mapping["Alter"] == "age" and saved.decimal_comma is False


def test_upload_with_a_preset_of_the_other_kind_says_so(client, analyst):
    preset = crm_preset()
    client.force_login(analyst)
    page = client.post(reverse("customers:import-create"), {
        "kind": "transactions", "file": SimpleUploadedFile("crm.csv", CRM.encode()), "preset": preset.pk,
    })
    assert page.status_code == 400 and "is a preset for customers, not transactions" in page.content.decode()
    assert ImportJob.objects.count() == 0


def test_preset_page_lists_presets_and_says_how_to_make_one(client, analyst, manager):
    client.force_login(manager)
    assert "No presets yet" in client.get(reverse("customers:preset-list")).content.decode()
    preset = crm_preset()
    page = client.get(reverse("customers:preset-list")).content.decode()
    assert "CRM export" in page and "Delete" not in page  # a Manager only reads
    assert client.post(reverse("customers:preset-delete", args=[preset.pk])).status_code == 403
    client.force_login(analyst)
    assert client.post(reverse("customers:preset-delete", args=[preset.pk])).status_code == 302
    assert ImportPreset.objects.count() == 0
