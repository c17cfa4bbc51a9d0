"""Importing a file in a real browser: upload, check the columns, watch it, read the report."""

import re

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from tests.browser.conftest import screenshot
from tests.browser.test_main_journey import sign_in
from tests.customers.test_imports import MALL

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_analyst_imports_mall_customers(page, live_server, celery_worker_later, analyst, tmp_path):
    path = tmp_path / "Mall_Customers.csv"
    path.write_text(MALL)
    sign_in(page, live_server, "ana")
    page.click("nav >> text=Imports")
    expect(page.get_by_text("No imports yet")).to_be_visible()
    page.click("text=Import a file")
    page.check("input[value=customers]")
    page.set_input_files("input[type=file]", str(path))
    page.click("text=Upload and check columns")

    expect(page.locator("h1")).to_have_text("Check the columns of Mall_Customers.csv")
    expect(page.locator("table.preview")).to_contain_text("Female")
    expect(page.locator("select[name=col_3]")).to_have_value("annual_income")
    expect(page.locator("select[name=col_4]")).to_have_value("attribute")
    expect(page.get_by_label(re.compile("in thousands"))).to_be_checked()
    screenshot(page, "21-import-confirm")
    page.click("text=Start the import")

    expect(page.get_by_role("progressbar")).to_be_visible()
    with celery_worker_later():
        expect(page.locator("#row-sum")).to_have_text("4 rows read = 4 accepted + 0 rejected.", timeout=60_000)
    screenshot(page, "22-import-report")
    assert Customer.objects.get(external_id="1").annual_income == 15_000
