import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.importing.mapping import QUANTITY_DEFAULT_NOTE
from customers.models import Customer, ImportJob
from customers.services.imports import import_execute
from tests.customers.test_imports import MALL, ORDERS, RETAIL

pytestmark = pytest.mark.django_db


def upload(client, text, kind="customers", name="mall.csv"):
    return client.post(reverse("customers:import-create"), {"kind": kind, "file": SimpleUploadedFile(name, text.encode())})


def confirm_data(page):
    """The confirm form as the browser would submit it, with its preselected choices."""
    html = page.content.decode()
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    for name, body in re.findall(r'<select name="(\w+)"[^>]*>(.*?)</select>', html, re.S):
        data[name] = re.search(r'<option value="([^"]*)"[^>]*selected', body).group(1)
    for name in re.findall(r'<input type="checkbox" name="(\w+)"[^>]*checked', html):
        data[name] = "on"
    data.pop("csrfmiddlewaretoken", None)
    return data


def test_upload_shows_the_detected_mapping_with_a_preview_then_imports(client, analyst, django_capture_on_commit_callbacks):
    client.force_login(analyst)
    page = upload(client, MALL)
    html = page.content.decode()
    assert page.status_code == 200 and "Check the columns of mall.csv" in html
    assert "Annual income is in thousands: multiply by 1,000" in html
    assert "<td>Male</td>" in html  # the preview
    data = confirm_data(page)
    assert data["col_3"] == "annual_income" and data["col_4"] == "attribute" and data["unit_annual_income"] == "on"
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("customers:import-create"), data)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("customers:import-detail", args=[job.pk])
    assert len(callbacks) == 1
    import_execute(job_id=job.pk)  # the worker's part
    report = client.get(response["Location"]).content.decode()
    assert "4 rows read = 4 accepted + 0 rejected." in report
    assert Customer.objects.get(external_id="1").annual_income == 15_000
    # confirming "keep as custom attribute" keeps the detected number type: it is a feature
    assert Customer.objects.get(external_id="1").attributes == {"Spending Score (1-100)": 39}
    form = client.get(reverse("segments:run-create")).content.decode()
    assert 'value="attr_spending_score_1_100"' in form and "Spending Score (1-100)" in form


def test_the_user_can_change_a_column_mapping(client, analyst):
    client.force_login(analyst)
    data = confirm_data(upload(client, MALL))
    data["col_2"] = "ignore"  # Age
    data.pop("unit_annual_income")  # keep income as given
    client.post(reverse("customers:import-create"), data)
    import_execute(job_id=ImportJob.objects.get().pk)
    customer = Customer.objects.get(external_id="1")
    assert customer.age is None and customer.annual_income == 15


def test_report_lists_rejection_reasons_and_links_the_rejected_rows(client, analyst):
    client.force_login(analyst)
    client.post(reverse("customers:import-create"), confirm_data(upload(client, RETAIL, "transactions", "retail.csv")))
    job = ImportJob.objects.get()
    import_execute(job_id=job.pk)
    html = client.get(reverse("customers:import-detail", args=[job.pk])).content.decode()
    assert "7 rows read = 4 accepted + 3 rejected." in html and "negative unit price" in html
    # the top problems in words, and the value ranges of what was accepted
    assert "3 of 7 rows (42.9%) were rejected" in html
    assert "1 row (14.3%) had no customer id and were kept as anonymous transactions" in html
    ranges = html[html.index('id="ranges"'):]
    assert ">1 Dec 2010 08:26<" in ranges and "Aug 2011" not in ranges  # the rejected line's date (the one format)
    csv_text = b"".join(client.get(reverse("customers:import-rejected", args=[job.pk])).streaming_content).decode()
    assert csv_text.splitlines()[0] == "line,reason,row" and len(csv_text.splitlines()) == 4


@pytest.mark.parametrize(
    "text, kind, message",
    [("", "customers", "The submitted file is empty"), ("\n\n", "customers", "The file is empty"),
     ("CustomerID,Age\n", "customers", "header and no rows")],
)
def test_unusable_files_get_a_message_on_the_page(client, analyst, text, kind, message):
    client.force_login(analyst)
    response = upload(client, text, kind)
    assert response.status_code == 400 and message in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_an_expired_upload_token_asks_to_upload_again(client, analyst):
    client.force_login(analyst)
    response = client.post(reverse("customers:import-create"), {"token": "0" * 32, "kind": "customers"}, follow=True)
    assert b"upload has expired" in response.content and ImportJob.objects.count() == 0


@pytest.mark.parametrize("role", ["manager", "marketer"])
def test_other_roles_cannot_import_but_can_read(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("customers:import-create")).status_code == 403
    assert upload(client, MALL).status_code == 403
    assert client.get(reverse("customers:import-list")).status_code == 200
    assert ImportJob.objects.count() == 0


def test_import_list_empty_state(client, analyst):
    client.force_login(analyst)
    assert b"No imports yet" in client.get(reverse("customers:import-list")).content


def test_a_running_import_can_be_cancelled_from_its_page_and_keeps_nothing(client, analyst, manager):
    client.force_login(analyst)
    client.post(reverse("customers:import-create"), confirm_data(upload(client, MALL)))
    job = ImportJob.objects.get()
    page = client.get(reverse("customers:import-detail", args=[job.pk])).content.decode()
    assert "Cancel the import" in page
    client.force_login(manager)
    assert client.post(reverse("customers:import-cancel", args=[job.pk])).status_code == 403
    client.force_login(analyst)
    response = client.post(reverse("customers:import-cancel", args=[job.pk]), follow=True)
    assert "was cancelled. Nothing from it was kept." in response.content.decode()
    import_execute(job_id=job.pk)  # a worker that gets the job afterwards leaves it alone
    job.refresh_from_db()
    assert job.status == "cancelled" and Customer.objects.count() == 0
    again = client.post(reverse("customers:import-cancel", args=[job.pk]), follow=True)
    assert "had already finished" in again.content.decode()


def test_columns_that_were_not_recognised_are_chosen_on_the_second_step(client, analyst):
    client.force_login(analyst)
    text = "Kundennummer,Alter\nK1,30\nK2,40\n"
    page = upload(client, text, name="crm.csv")
    html = page.content.decode()
    assert page.status_code == 200 and "No column was recognised as: customer id" in html
    data = confirm_data(page)
    refused = client.post(reverse("customers:import-create"), data)
    assert refused.status_code == 400 and "No column is mapped to: customer id (external_id)" in refused.content.decode()
    assert ImportJob.objects.count() == 0
    data["col_0"], data["col_1"] = "external_id", "age"
    assert client.post(reverse("customers:import-create"), data).status_code == 302
    import_execute(job_id=ImportJob.objects.get().pk)
    assert Customer.objects.get(external_id="K2").age == 40


def test_decimal_comma_numbers_are_noticed_and_the_option_ticked(client, analyst):
    client.force_login(analyst)
    page = upload(client, "CustomerID;Income\n1;52.000,50\n2;4,5\n", name="eu.csv")
    assert "look like they use a decimal comma" in page.content.decode()
    data = confirm_data(page)
    assert data["decimal_comma"] == "on"
    client.post(reverse("customers:import-create"), data)
    import_execute(job_id=ImportJob.objects.get().pk)
    assert Customer.objects.get(external_id="1").annual_income == Decimal("52000.50")


def test_an_order_level_file_says_each_order_counts_as_one_unit_before_and_after(client, analyst):
    # given an export with one amount per order and no quantity column
    client.force_login(analyst)
    page = upload(client, ORDERS, "transactions", "orders.csv")
    html = page.content.decode()
    # then the mapping step accepts it and says what it assumes
    assert page.status_code == 200 and "No column was recognised as" not in html
    assert QUANTITY_DEFAULT_NOTE in html
    client.post(reverse("customers:import-create"), confirm_data(page))
    job = ImportJob.objects.get()
    import_execute(job_id=job.pk)
    # and so does the report
    report = client.get(reverse("customers:import-detail", args=[job.pk])).content.decode()
    assert "4 rows read = 4 accepted + 0 rejected." in report and QUANTITY_DEFAULT_NOTE in report


def test_every_label_points_at_its_field_and_the_kind_choice_is_named_by_a_legend(client, analyst):
    # given the upload form, rendered field by field through _field.html
    client.force_login(analyst)
    html = client.get(reverse("customers:import-create")).content.decode()
    # then no label points at nothing, and every label's target exists
    assert 'for=""' not in html
    for target in re.findall(r'<label for="([^"]+)"', html):
        assert f'id="{target}"' in html, target
    # and the radio buttons of the kind are a fieldset named by its legend
    assert re.search(r'<fieldset class="field">\s*<legend>Kind</legend>\s*<div id="id_kind">', html)


def test_the_report_counts_an_anonymous_line_rejected_as_a_repeat_once(client, analyst):
    # given a transactions file whose line without a customer id comes three times
    anonymous_line = next(line for line in RETAIL.splitlines(keepends=True) if line.startswith("536414"))
    client.force_login(analyst)
    page = upload(client, RETAIL + anonymous_line * 2, "transactions", "retail.csv")
    client.post(reverse("customers:import-create"), confirm_data(page))
    job = ImportJob.objects.get()
    import_execute(job_id=job.pk)
    html = client.get(reverse("customers:import-detail", args=[job.pk])).content.decode()
    # then the repeats are rejected rows only, and the rows without a customer are those kept
    assert "9 rows read = 4 accepted + 5 rejected." in html
    assert "1 accepted row without a customer id" in html
