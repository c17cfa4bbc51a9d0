"""Imports through the service and the CLI: every row accounted for, re-imports add nothing."""

import gzip
import json

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from customers.importing.mapping import QUANTITY_DEFAULT_NOTE
from customers.importing.validate import ImportOptions
from customers.models import Customer, ImportJob, ImportRejectedRow, Transaction
from customers.services.imports import import_create, import_execute

pytestmark = pytest.mark.django_db

# Excerpts in the shape of ../shared/datasets, written here so tests do not need that folder.
MALL = (
    "CustomerID,Genre,Age,Annual Income (k$),Spending Score (1-100)\n"
    "1,Male,19,15,39\n2,Male,21,15,81\n3,Female,20,16,6\n4,Female,,16,77\n"
)
RETAIL = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n"  # duplicate line
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom\n"
    "536414,22139,,56,2010-12-01 11:52:00,0.00,,United Kingdom\n"  # anonymous
    "A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,-11062.06,,United Kingdom\n"  # negative price
    "536415,22140,ragged,1,2010-12-01 11:52:00\n"  # too few fields
)


def write(tmp_path, name, text, compress=False):
    path = tmp_path / name
    data = text.encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def run_import(kind, path, **options):
    job = import_create(kind=kind, upload_path=path, original_name=path.name, options=ImportOptions(**options))
    import_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.accepted + job.rejected == job.rows_read  # nothing lost
    return job


def test_mall_customers_with_income_in_thousands(tmp_path):
    job = run_import("customers", write(tmp_path, "mall.csv", MALL), units={"annual_income": 1000})
    assert (job.rows_read, job.created, job.rejected) == (4, 4, 0)
    first = Customer.objects.get(external_id="1")
    assert first.gender == "M" and first.age == 19 and first.annual_income == 15_000
    assert first.attributes == {"Spending Score (1-100)": 39}
    assert Customer.objects.get(external_id="4").age is None


def test_second_customers_import_adds_nothing_and_a_change_is_an_update(tmp_path):
    run_import("customers", write(tmp_path, "mall.csv", MALL))
    again = run_import("customers", write(tmp_path, "mall.csv", MALL))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    changed = run_import("customers", write(tmp_path, "mall2.csv", MALL.replace("1,Male,19", "1,Male,20")))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 3)
    assert Customer.objects.get(external_id="1").age == 20


def test_repeated_customer_ids_in_a_file_are_rejected_naming_the_first_line(tmp_path):
    job = run_import("customers", write(tmp_path, "dup.csv", MALL + "2,Male,40,50,50\n"))
    assert (job.created, job.rejected) == (4, 1)
    assert list(ImportRejectedRow.objects.filter(job=job).values_list("line", "reason", "raw")) == [
        (6, "duplicate of line 3", "customer 2")]
    assert job.report["ranges"]["age"]["max"] == 21  # the rejected repeat (age 40) is not counted


def test_online_retail_excerpt_accounts_for_every_row(tmp_path):
    job = run_import("transactions", write(tmp_path, "retail.csv.gz", RETAIL, compress=True))
    assert job.rows_read == 7
    assert (job.created, job.rejected, job.anonymous, job.customers_created) == (4, 3, 1, 2)
    reasons = dict(ImportRejectedRow.objects.filter(job=job).values_list("line", "reason"))
    assert reasons == {4: "duplicate of line 3", 7: "negative unit price", 8: "expected 8 fields, found 5"}
    assert job.report["rejected_by_reason"] == {"duplicate of an earlier line": 1, "negative unit price": 1, "expected 8 fields, found 5": 1}
    cancellation = Transaction.objects.get(invoice_id="C536379")
    assert cancellation.is_cancellation and cancellation.amount < 0 and cancellation.customer.external_id == "14527"
    assert Transaction.objects.get(invoice_id="536414").customer is None  # kept, anonymous
    assert Customer.objects.get(external_id="17850").country == "United Kingdom"


def test_second_transactions_import_adds_nothing(tmp_path):
    path = write(tmp_path, "retail.csv", RETAIL)
    run_import("transactions", path)
    again = run_import("transactions", path)
    assert (again.created, again.unchanged, again.customers_created) == (0, 4, 0)
    assert Transaction.objects.count() == 4 and Customer.objects.count() == 2


def test_lines_repeated_across_chunks_name_the_first_and_a_grown_file_adds_only_its_new_lines(tmp_path, monkeypatch):
    # given chunks of two rows, so that repeats fall in other chunks than their first line
    monkeypatch.setattr("custseg_site.staged_import.StagedImport.chunk_rows", 2)
    header, first, second, *_ = RETAIL.splitlines(keepends=True)
    new = "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17850,United Kingdom\n"
    # when a file holds line 2 three times and line 3 twice
    job = run_import("transactions", write(tmp_path, "repeats.csv", header + first + second + first + first + second))
    # then each repeat is rejected naming the line it repeats, and the rest is imported once
    reasons = list(ImportRejectedRow.objects.filter(job=job).order_by("line").values_list("line", "reason"))
    assert reasons == [(4, "duplicate of line 2"), (5, "duplicate of line 2"), (6, "duplicate of line 3")]
    assert (job.created, job.unchanged, job.rejected) == (2, 0, 3)
    # when the same lines come back with a new one and a repeat of it
    grown = run_import("transactions", write(tmp_path, "grown.csv", header + second + new + first + new))
    # then only the new line is added
    assert (grown.created, grown.unchanged, grown.rejected, grown.customers_created) == (1, 2, 1, 0)
    assert ImportRejectedRow.objects.get(job=grown).reason == "duplicate of line 3"
    assert Transaction.objects.count() == 3


def test_rejecting_anonymous_rows_is_a_choice(tmp_path):
    job = run_import("transactions", write(tmp_path, "retail.csv", RETAIL), anonymous="reject")
    assert job.anonymous == 0 and job.created == 3
    assert ImportRejectedRow.objects.filter(job=job, reason="no customer id").count() == 2


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("InvoiceNo,Quantity\n1,2\n", "No column is mapped to: date and time \\(timestamp\\)"),
        ("InvoiceNo,InvoiceDate,Quantity,Price\n", "header and no rows"),
    ],
)
def test_unusable_files_are_refused_and_nothing_is_stored(tmp_path, text, message):
    with pytest.raises(ValidationError, match=message):
        import_create(kind="transactions", upload_path=write(tmp_path, "bad.csv", text), original_name="bad.csv")
    assert ImportJob.objects.count() == 0


def test_the_size_limit_is_checked_before_parsing(tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="the limit is"):
        import_create(kind="customers", upload_path=write(tmp_path, "mall.csv", MALL * 5), original_name="mall.csv")
    assert ImportJob.objects.count() == 0


def test_cli_bad_input_exits_non_zero(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_data", "customers", str(tmp_path / "nope.csv"))
    path = write(tmp_path, "mall.csv", MALL)
    with pytest.raises(CommandError, match="no column 'Nope'"):
        call_command("import_data", "customers", str(path), "--map", "Nope=age")
    with pytest.raises(CommandError, match="--unit takes"):
        call_command("import_data", "customers", str(path), "--unit", "annual_income=lots")
    assert ImportJob.objects.count() == 0


def test_cli_no_wait_prints_the_queued_import(tmp_path, capsys, django_capture_on_commit_callbacks):
    path = write(tmp_path, "mall.csv", MALL)
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("import_data", "customers", str(path), "--map", "Annual Income (k$)=annual_income", "--json", "--no-wait")
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["status"] == "pending" and ImportJob.objects.get().pk == summary["import_id"]
    assert "--unit annual_income=1000" in captured.err  # the thousands hint
    assert len(callbacks) == 1


def test_a_file_damaged_part_way_fails_and_keeps_nothing(tmp_path):
    # given a gzip file whose first 50,000-row chunk reads fine and whose end is cut off
    rows = "".join(f"{n},Female,{20 + n % 50},{n % 120},{n % 100}\n" for n in range(60_000))
    data = gzip.compress(("CustomerID,Genre,Age,Annual Income (k$),Spending Score (1-100)\n" + rows).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: int(len(data) * 0.9)])
    job = import_create(kind="customers", upload_path=path, original_name=path.name)
    # when it is imported
    import_execute(job_id=job.pk)
    # then it fails with a reason, and not one customer of the first chunk was kept
    job.refresh_from_db()
    assert job.status == "failed" and "could not be read to its end" in job.error
    assert Customer.objects.count() == 0


def test_a_cancel_that_lands_during_the_merge_rolls_it_back(tmp_path, monkeypatch):
    from customers.services import import_handlers, imports

    run_import("customers", write(tmp_path, "mall.csv", MALL))
    before = sorted(Customer.objects.values_list("external_id", "age"))
    merge = import_handlers._merge_customers

    def merge_then_cancelled(job_id, **options):
        counts = merge(job_id, **options)  # the real merge writes its rows...
        assert imports.import_cancel(job=ImportJob.objects.get(pk=job_id))  # ...as someone cancels
        return counts

    monkeypatch.setattr(import_handlers, "_merge_customers", merge_then_cancelled)
    changed = MALL.replace("1,Male,19", "1,Male,33") + "99,Female,50,80,10\n"
    job = import_create(kind="customers", upload_path=write(tmp_path, "mall2.csv", changed), original_name="mall2.csv")
    import_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert sorted(Customer.objects.values_list("external_id", "age")) == before  # as it was


def test_cancel_is_refused_once_an_import_has_finished(tmp_path):
    from customers.services.imports import import_cancel

    job = run_import("customers", write(tmp_path, "mall.csv", MALL))
    assert import_cancel(job=job) is False
    job.refresh_from_db()
    assert job.status == "succeeded"


def test_the_report_gives_value_ranges_of_fields_and_number_attributes(tmp_path):
    job = run_import("customers", write(tmp_path, "mall.csv", MALL), units={"annual_income": 1000})
    ranges = job.report["ranges"]
    assert ranges["age"] == {"count": 3, "min": 19, "max": 21, "mean": 20.0}
    assert (ranges["annual_income"]["min"], ranges["annual_income"]["max"]) == (15_000, 16_000)
    assert ranges["Spending Score (1-100)"] == {"count": 4, "min": 6, "max": 81, "mean": 50.75}
    retail = run_import("transactions", write(tmp_path, "retail.csv", RETAIL))
    assert retail.report["ranges"]["timestamp"]["min"].startswith("2010-12-01T08:26:00")
    assert retail.report["ranges"]["quantity"]["min"] == -1


def test_extra_columns_of_a_transactions_file_are_kept_as_typed_attributes(tmp_path):
    text = ("InvoiceNo,InvoiceDate,Quantity,UnitPrice,CustomerID,Store,Basket score\n"
            "1,2024-01-02,2,5.00,C1,Leeds,7.5\n2,2024-01-03,1,3.00,C1,York,\n")
    job = run_import("transactions", write(tmp_path, "shop.csv", text))
    assert job.mapping["attributes"] == {"Store": "category", "Basket score": "number"}
    assert Transaction.objects.get(invoice_id="1").attributes == {"Store": "Leeds", "Basket score": 7.5}
    assert Transaction.objects.get(invoice_id="2").attributes == {"Store": "York"}
    assert job.report["ranges"]["amount"]["max"] == 10


def test_an_unexpected_error_fails_the_import_with_a_sentence_and_logs_it(tmp_path, monkeypatch, caplog):
    from customers.services import import_handlers
    from custseg_site.jobs.lifecycle import INTERNAL_ERROR

    # given a bug in validating the rows (a ValueError, once reported as the job's message)
    def broken(*args):
        raise ValueError("a bug")

    monkeypatch.setattr(import_handlers, "validate", broken)
    job = import_create(kind="customers", upload_path=write(tmp_path, "mall.csv", MALL), original_name="mall.csv")
    # when the job runs
    import_execute(job_id=job.pk)
    # then it fails with a sentence, the log has the traceback, and nothing was kept
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", INTERNAL_ERROR.format(noun="this import"))
    assert "jobs.internal_error model=ImportJob" in caplog.text and "ValueError: a bug" in caplog.text
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("known_customers", [200_000, 1])
def test_a_customer_the_file_introduces_gets_the_largest_country_of_its_lines(tmp_path, monkeypatch, known_customers):
    # given chunks of two rows, and (on PostgreSQL) a writer that remembers one customer at most
    monkeypatch.setattr("custseg_site.staged_import.StagedImport.chunk_rows", 2)
    monkeypatch.setattr("customers.services.import_transactions.KNOWN_CUSTOMERS", known_customers)
    header = RETAIL.splitlines(keepends=True)[0]
    lines = [f"{n},P{n},Thing,1,2011-01-0{n} 10:00:00,1.00,{customer},{country}\n" for n, (customer, country) in
             enumerate([("7", "France"), ("8", "Spain"), ("7", "Germany"), ("8", "Italy"), ("7", "Austria")], start=1)]
    # when a file names customer 7 from France, Germany and Austria, in three chunks
    job = run_import("transactions", write(tmp_path, "countries.csv", header + "".join(lines)))
    # then it is created once, with the largest of them, as the whole file's lines say
    assert (job.created, job.customers_created) == (5, 2)
    assert dict(Customer.objects.values_list("external_id", "country")) == {"7": "Germany", "8": "Spain"}


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="on PostgreSQL an import writes each chunk as it reads it, in one transaction"
)


def _in_another_connection(function):
    """function() run on a thread of its own, so on a database connection of its own."""
    import threading

    from django.db import connections

    result = {}

    def run():
        try:
            result["value"] = function()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result.get("value")


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_running_import_shows_its_progress_and_stops_at_a_cancel_keeping_nothing(tmp_path, monkeypatch):
    from customers.services import import_transactions
    from customers.services.imports import import_cancel

    # given a file read two rows at a time
    monkeypatch.setattr("custseg_site.staged_import.StagedImport.chunk_rows", 2)
    header, *lines = RETAIL.splitlines(keepends=True)
    job = import_create(kind="transactions", upload_path=write(tmp_path, "retail.csv", header + "".join(lines[:6])),
                        original_name="retail.csv")
    seen = []
    write_chunk = import_transactions.TransactionsWrite.write

    def write_then_look_and_cancel(self, rows):
        write_chunk(self, rows)
        if rows is not None and self.created:  # the first chunk is in customers_transaction
            # while its transaction is open, the web sees how far it got, and cancels it
            seen.append(_in_another_connection(lambda: ImportJob.objects.values_list("rows_read", "stage").get(pk=job.pk)))
            assert _in_another_connection(lambda: import_cancel(job=ImportJob.objects.get(pk=job.pk)))

    monkeypatch.setattr(import_transactions.TransactionsWrite, "write", write_then_look_and_cancel)
    # when it runs
    import_execute(job_id=job.pk)
    # then the progress of the first chunk was visible, and the cancel left nothing behind
    assert seen == [(2, "Read 2 rows")]
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert Transaction.objects.count() == 0 and Customer.objects.count() == 0
    assert not ImportRejectedRow.objects.filter(job=job).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_file_at_once_add_it_once(tmp_path):
    import threading

    from django.db import connections

    # given two jobs for the same file
    path = write(tmp_path, "retail.csv", RETAIL)
    jobs = [import_create(kind="transactions", upload_path=path, original_name="retail.csv") for _ in range(2)]
    start = threading.Barrier(2)

    def run(job):
        try:
            start.wait()
            import_execute(job_id=job.pk)
        finally:
            connections.close_all()

    # when two workers run them at the same moment
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then one adds the lines and the other finds them all
    for job in jobs:
        job.refresh_from_db()
    assert [job.status for job in jobs] == ["succeeded", "succeeded"]
    assert sorted((job.created, job.unchanged) for job in jobs) == [(0, 4), (4, 0)]
    assert Transaction.objects.count() == 4 and Customer.objects.count() == 2


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_error_while_writing_a_chunk_keeps_nothing(tmp_path, monkeypatch):
    from django.db import DatabaseError

    from custseg_site import copy_binary
    from custseg_site.jobs.lifecycle import INTERNAL_ERROR

    # given a file read two rows at a time, and a database that fails on the third COPY
    monkeypatch.setattr("custseg_site.staged_import.StagedImport.chunk_rows", 2)
    copies = []
    copy_rows = copy_binary.copy_rows

    def copy_then_fail(cursor, table, columns, encoded):
        copies.append(table)
        if len(copies) == 3:
            raise DatabaseError("the disk is full")
        copy_rows(cursor, table, columns, encoded)

    monkeypatch.setattr(copy_binary, "copy_rows", copy_then_fail)
    job = import_create(kind="transactions", upload_path=write(tmp_path, "retail.csv", RETAIL), original_name="r.csv")
    # when the import runs
    import_execute(job_id=job.pk)
    # then the job failed with a sentence (the error is no domain error: the log has it),
    # and what the first chunk wrote is gone too
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", INTERNAL_ERROR.format(noun="this import"))
    assert Transaction.objects.count() == 0 and Customer.objects.count() == 0


def test_an_anonymous_line_rejected_as_a_repeat_is_counted_once_as_rejected(tmp_path):
    # given a file whose anonymous line comes twice more (Online Retail has 43 such repeats)
    anonymous_line = next(line for line in RETAIL.splitlines(keepends=True) if line.startswith("536414"))
    job = run_import("transactions", write(tmp_path, "retail.csv", RETAIL + anonymous_line + anonymous_line))
    # then the repeats count as rejected, not as anonymous rows kept: the summary's anonymous
    # rows are the anonymous transactions stored
    assert job.rejected == 5
    assert job.anonymous == Transaction.objects.filter(customer__isnull=True).count() == 1
    # and a second import of the file finds the same anonymous line again, once
    again = run_import("transactions", write(tmp_path, "retail.csv", RETAIL + anonymous_line + anonymous_line))
    assert (again.unchanged, again.anonymous) == (4, 1)


ORDERS = (
    "Customer,Order ID,Order Date,Total\n"
    "C1,1001,2024-03-01,120.50\n"
    "C1,1002,2024-03-09,35.00\n"
    "C2,1003,2024-03-10,-20.00\n"
    "C3,1004,2024-03-11,99.99\n"
)


def test_an_order_level_file_with_one_amount_per_order_imports_each_order_as_one_unit(tmp_path):
    # given an export with one amount per order and no quantity column
    path = write(tmp_path, "orders.csv", ORDERS)
    # when it is imported
    job = run_import("transactions", path)
    # then every order is a transaction of one unit whose amount is the order's total
    expected = pd.read_csv(path, dtype={"Order ID": str})
    stored = pd.DataFrame.from_records(Transaction.objects.values("invoice_id", "quantity", "amount", "unit_price"))
    stored = stored.sort_values("invoice_id").reset_index(drop=True)
    assert (job.created, job.rejected) == (len(expected), 0)
    assert list(stored["invoice_id"]) == list(expected["Order ID"])
    assert (stored["quantity"] == 1).all()
    assert [float(a) for a in stored["amount"]] == list(expected["Total"])
    assert [float(p) for p in stored["unit_price"]] == list(expected["Total"].abs())
    # and the report says what was assumed
    assert job.report["notes"] == [QUANTITY_DEFAULT_NOTE]


def test_a_file_with_neither_quantity_nor_amount_is_still_refused(tmp_path):
    path = write(tmp_path, "lines.csv", "InvoiceNo,InvoiceDate,UnitPrice\n1,2024-03-01,2.5\n")
    with pytest.raises(ValidationError, match=r"No column is mapped to: quantity \(quantity\)"):
        import_create(kind="transactions", upload_path=path, original_name=path.name)
    assert not ImportJob.objects.exists()
