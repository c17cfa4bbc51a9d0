"""Outcome imports as background jobs: every row accounted for, every rejected row kept and
downloadable, the outcomes written all at once with the job's success (a failed or
cancelled import leaves them as they were), progress, and the command line."""

import gzip
import io
import json
import struct
import zlib
from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.urls import reverse

from campaigns import selectors, services
from campaigns.importing.outcomes import OutcomeFileError
from campaigns.models import CampaignMember, CampaignOutcome, OutcomeImport, OutcomeStagedRow
from campaigns.services import outcome_imports
from customers.importing.sources import SNIFF_BYTES
from custseg_site.jobs.lifecycle import INTERNAL_ERROR, job_claim
from tests.campaigns.factories import campaign, import_outcomes, outcomes_file, world

pytestmark = pytest.mark.django_db

HEADER = "customer,event,revenue,timestamp\n"


@pytest.fixture
def launched(marketer):
    w = world(sizes=(30, 20, 10))
    c = services.campaign_launch(campaign=campaign(w, by=marketer, personas=[w.big]), by=marketer)
    members = list(CampaignMember.objects.filter(campaign=c).select_related("customer").order_by("customer_id"))
    return c, [m.customer.external_id for m in members]


def opened(customer: str, day: int) -> str:
    return f"{customer},opened,,2026-03-{day:02d}T10:00:00Z\n"


def outcome_rows(c):
    return sorted(CampaignOutcome.objects.filter(campaign=c).values_list("member_id", "event", "occurred_at"))


def test_every_row_is_accounted_for_and_all_rejected_rows_download_with_line_and_reason(
        client, marketer, launched, tmp_path, monkeypatch):
    # given a file of 1,500 rows for unknown customers among 40 good ones, read in chunks of 500
    monkeypatch.setattr(outcome_imports, "CHUNK_ROWS", 500)
    c, audience = launched
    good = [opened(audience[n % 10], 1 + n // 10) for n in range(40)]
    bad = [f"NOPE-{n},opened,,2026-03-01\n" for n in range(1_500)]
    path = outcomes_file(tmp_path, HEADER + "".join(good + bad + good[:5]))  # five lines come twice
    # when it is imported
    job = import_outcomes(c, path, by=marketer)
    # then rows = added + already recorded + rejected, the file's repeats counted as duplicates
    assert (job.rows, job.added, job.duplicates, job.rejected) == (1_545, 40, 5, 1_500)
    assert job.reasons == {"unknown customer": 1_500}
    # and every rejected row is in the download, with its line, reason and cells
    client.force_login(marketer)
    response = client.get(reverse("campaigns:outcome-import-rejected", args=[c.pk, job.pk]))
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "line,reason,customer,event,revenue,timestamp"
    assert len(lines) == 1 + 1_500
    assert lines[1] == "42,unknown customer “NOPE-0”,NOPE-0,opened,,2026-03-01"
    assert lines[-1].startswith("1541,unknown customer “NOPE-1499”,NOPE-1499")
    # the staging rows are gone and the stored file is kept only by the command line user
    assert not OutcomeStagedRow.objects.exists() and path.exists()


def test_a_formula_like_cell_of_a_rejected_row_is_neutralised_in_the_download(client, marketer, launched, tmp_path):
    c, _ = launched
    job = import_outcomes(c, outcomes_file(tmp_path, HEADER + "=cmd|' /C calc'!A0,opened,,@SUM(A1)\n"))
    assert job.rejected == 1
    client.force_login(marketer)
    text = b"".join(client.get(reverse("campaigns:outcome-import-rejected", args=[c.pk, job.pk]))
                    .streaming_content).decode()
    row = text.splitlines()[1]
    assert "'=cmd|' /C calc'!A0" in row and "'@SUM(A1)" in row
    assert ",=cmd" not in row and ",@SUM" not in row


def test_a_formula_like_header_of_the_file_is_neutralised_in_the_download_too(
        api_client, marketer, launched, tmp_path):
    c, _ = launched
    header = 'customer,event,revenue,timestamp,"=HYPERLINK(""http://x"")"\n'
    job = import_outcomes(c, outcomes_file(tmp_path, header + "nobody,opened,,2026-03-01,x\n"))
    assert job.rejected == 1
    # the API answers text/csv when asked for it
    response = api_client(marketer).get(f"/api/v1/outcome-imports/{job.pk}/rejected/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    first_line = b"".join(response.streaming_content).decode().splitlines()[0]
    assert first_line.startswith("line,reason,customer") and "'=HYPERLINK" in first_line
    assert ',"=HYPERLINK' not in first_line


def test_a_re_import_adds_nothing_and_leaves_the_results_as_they_were(marketer, launched, tmp_path):
    c, audience = launched
    text = HEADER + "".join(f"{customer},converted,10,2026-03-01\n" for customer in audience[:8])
    first = import_outcomes(c, outcomes_file(tmp_path, text, "a.csv"))
    before = selectors.campaign_results(campaign=c).total.treated.converters
    again = import_outcomes(c, outcomes_file(tmp_path, text, "b.csv"))
    assert (first.added, again.added, again.duplicates) == (8, 0, 8)
    assert selectors.campaign_results(campaign=c).total.treated.converters == before > 0


def test_a_file_damaged_half_way_fails_and_leaves_the_outcomes_as_they_were(marketer, launched, tmp_path):
    # given outcomes already imported
    c, audience = launched
    import_outcomes(c, outcomes_file(tmp_path, HEADER + opened(audience[0], 1), "first.csv"))
    before = outcome_rows(c)
    # and a file whose first rows (beyond the bytes its encoding is guessed from, over a
    # chunk) are good, then a byte that is no text
    good = "".join(opened(audience[n % 20], 1 + n % 28) for n in range(SNIFF_BYTES // 30))
    damaged = outcomes_file(tmp_path, (HEADER + good).encode() + b"\xff\xfe,opened,,2026-03-01\n" +
                            opened(audience[1], 2).encode())
    # when it is imported
    job = import_outcomes(c, damaged)
    # then it fails, saying so, and the good rows of its first chunk were not added
    assert job.status == "failed" and "stops being text" in job.error and "Nothing from it was kept" in job.error
    assert outcome_rows(c) == before
    assert not OutcomeStagedRow.objects.exists()


def test_an_import_cancelled_while_it_reads_keeps_nothing(marketer, launched, tmp_path, monkeypatch):
    monkeypatch.setattr(outcome_imports, "CHUNK_ROWS", 100)
    c, audience = launched
    path = outcomes_file(tmp_path, HEADER + "".join(opened(audience[n % 20], 1 + n // 20) for n in range(500)))
    job = outcome_imports.outcome_import_create(campaign=c, path=path, file_name=path.name, source="page")
    stages = []

    def cancel_after_the_first_chunk(percent, stage):
        stages.append(stage)
        outcome_imports.outcome_import_cancel(outcome_import=job)

    outcome_imports.outcome_import_execute(import_id=job.pk, on_progress=cancel_after_the_first_chunk)
    job.refresh_from_db()
    assert job.status == "cancelled" and len(stages) == 1 and stages[0].startswith("Checking rows 100 of ~")
    assert not CampaignOutcome.objects.exists() and not OutcomeStagedRow.objects.exists()


def test_a_cancel_that_lands_during_the_merge_rolls_it_back(marketer, launched, tmp_path, monkeypatch):
    c, audience = launched
    import_outcomes(c, outcomes_file(tmp_path, HEADER + opened(audience[0], 1), "first.csv"))
    before = outcome_rows(c)
    merge = outcome_imports._merge

    def merge_then_cancelled(job):
        added = merge(job)  # the real merge inserts the outcomes...
        assert added == 3 and CampaignOutcome.objects.filter(campaign=c).count() == 4
        assert outcome_imports.outcome_import_cancel(outcome_import=job)  # ...as someone cancels
        return added

    monkeypatch.setattr(outcome_imports, "_merge", merge_then_cancelled)
    job = import_outcomes(c, outcomes_file(tmp_path, HEADER + "".join(opened(x, 2) for x in audience[:3])))
    assert job.status == "cancelled"
    assert outcome_rows(c) == before  # as it was


def test_a_finished_import_delivered_again_changes_nothing(marketer, launched, tmp_path):
    c, audience = launched
    job = import_outcomes(c, outcomes_file(tmp_path, HEADER + opened(audience[0], 1) + "NOPE,opened,,2026-03-01\n"))
    outcome_imports.outcome_import_execute(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.added, job.rejected) == ("succeeded", 1, 1, 1)
    assert job.rejected_rows.count() == 1 and CampaignOutcome.objects.count() == 1


def test_an_interrupted_import_starts_over_when_redelivered(marketer, launched, tmp_path):
    # given an import whose worker died after staging some rows (left running)
    c, audience = launched
    path = outcomes_file(tmp_path, HEADER + opened(audience[0], 1) + "NOPE,opened,,2026-03-01\n")
    job = outcome_imports.outcome_import_create(campaign=c, path=path, file_name=path.name, source="api")
    assert job_claim(OutcomeImport, job.pk) is not None
    member = CampaignMember.objects.filter(campaign=c).first()
    OutcomeStagedRow.objects.create(outcome_import=job, line=9, member=member, event="clicked",
                                    occurred_at="2026-01-01T00:00:00Z")
    # when the message is delivered again
    outcome_imports.outcome_import_execute(import_id=job.pk)
    # then what the first attempt left is not counted
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows, job.added, job.rejected) == ("succeeded", 2, 2, 1, 1)
    assert not CampaignOutcome.objects.filter(event="clicked").exists()


def test_progress_says_how_far_the_check_has_got(marketer, launched, tmp_path, monkeypatch):
    monkeypatch.setattr(outcome_imports, "CHUNK_ROWS", 1_000)
    c, audience = launched
    path = outcomes_file(tmp_path, HEADER + "".join(opened(audience[n % 20], 1 + n % 28) for n in range(3_000)))
    job = outcome_imports.outcome_import_create(campaign=c, path=path, file_name=path.name, source="page")
    assert job.status == "pending" and job.stage == "Waiting for a worker"
    seen = []
    outcome_imports.outcome_import_execute(import_id=job.pk, on_progress=lambda percent, stage: seen.append((percent, stage)))
    percents = [p for p, _ in seen]
    assert percents == sorted(percents) and percents[-1] == 100
    assert seen[0][1].startswith("Checking rows 1,000 of ~") and seen[2][1] == "Checking rows 3,000 of ~3,000"
    assert seen[-2] == (92, "Adding the 3,000 accepted rows")


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The file is empty."),
    (b"customer,event,timestamp\n\n", "header and no rows"),
    (b"who,what\nA,opened\n", "no customer, event, timestamp column"),
    (b"customer,event,timestamp\n\"NOPE,opened,2026-03-01\n" + b"x" * 200_000, "cannot be read as CSV"),
])
def test_an_unusable_file_is_refused_before_anything_is_stored(marketer, launched, tmp_path, content, message):
    c, _ = launched
    with pytest.raises(OutcomeFileError, match=message):
        outcome_imports.outcome_import_create(campaign=c, path=outcomes_file(tmp_path, content), file_name="x.csv",
                                       source="page")
    assert not OutcomeImport.objects.exists()


def test_a_finished_upload_is_removed_a_command_line_file_is_not(marketer, launched, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c, audience = launched
    stored = outcome_imports.outcome_store_upload(SimpleUploadedFile("o.csv", (HEADER + opened(audience[0], 1)).encode()))
    job = outcome_imports.outcome_import_create(campaign=c, path=stored, file_name="o.csv", source="page")
    assert stored.exists()
    outcome_imports.outcome_import_execute(import_id=job.pk)
    assert not stored.exists()


def test_odd_values_in_a_json_list_are_rejected_rows_not_errors(marketer, launched):
    c, audience = launched
    job = outcome_imports.outcome_import_json(campaign=c, rows=[
        {"customer": "A\x00B", "event": "opened", "timestamp": "2026-03-01"},
        {"customer": audience[0], "event": "opened", "timestamp": "9999-12-31T23:00:00-05:00"},
        {"customer": audience[0], "event": {"nested": 1}, "timestamp": "2026-03-01"},
        {"customer": audience[0], "event": "converted", "revenue": 1e-7, "timestamp": "2026-03-01"},
        [1, 2],
        {"customer": audience[0], "event": "Converted", "revenue": 9.5, "occurred_at": "2026-03-01"},
    ])
    assert (job.status, job.rows, job.added, job.rejected) == ("succeeded", 6, 1, 5)
    assert set(job.reasons) == {"unknown customer", "bad timestamp", "unknown event type", "bad revenue",
                                "not an object with customer, event, revenue and timestamp"}
    assert job.rejected_rows.get(line=1).raw == ["A\ufffdB", "opened", "", "2026-03-01"]


def xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def imported(c, job):
    """What an import left: its counts, its rejected rows' lines and reasons, the outcomes."""
    job.refresh_from_db()
    rows = sorted(CampaignOutcome.objects.filter(campaign=c).values_list("member_id", "event", "revenue", "occurred_at"))
    return ((job.status, job.rows, job.added, job.duplicates, job.rejected, job.reasons),
            list(job.rejected_rows.order_by("line").values_list("line", "reason")), rows)


@pytest.mark.parametrize("route", ["page", "api"])
@pytest.mark.parametrize("form", ["xlsx", "csv.gz"])
def test_an_xlsx_or_gzip_file_imports_the_same_outcomes_as_the_csv(
        client, api_client, marketer, launched, tmp_path, form, route):
    c, audience = launched
    rows = [
        [audience[0], "converted", "19.90", "2026-03-01T10:00:00"],
        [audience[1], "opened", "", "2026-03-02"],
        [audience[0], "converted", "19.90", "2026-03-01T10:00:00"],  # the same event twice
        ["NOPE", "opened", "", "2026-03-01"],
        [audience[2], "clicked", "3", "2026-03-02"],  # a click carries no revenue
    ]
    # given the outcomes a CSV file brings
    csv_text = HEADER + "".join(",".join(row) + "\n" for row in rows)
    from_csv = imported(c, import_outcomes(c, outcomes_file(tmp_path, csv_text)))
    CampaignOutcome.objects.filter(campaign=c).delete()
    # when the same rows come as a workbook (numbers and moments typed as a spreadsheet keeps
    # them) or as a gzip-compressed CSV, uploaded through the page or the API
    if form == "xlsx":
        typed = [[customer, event, float(revenue) if revenue else None,
                  datetime.fromisoformat(moment) if customer != "NOPE" else moment]
                 for customer, event, revenue, moment in rows]
        content, name = xlsx([HEADER.strip().split(","), *typed]), "outcomes.xlsx"
    else:
        content, name = gzip.compress(csv_text.encode()), "outcomes.csv.gz"
    if route == "page":
        client.force_login(marketer)
        client.post(reverse("campaigns:campaign-outcomes", args=[c.pk]), {"file": SimpleUploadedFile(name, content)})
        job = OutcomeImport.objects.latest("pk")
    else:
        upload = io.BytesIO(content)
        upload.name = name
        response = api_client(marketer).post(f"/api/v1/campaigns/{c.pk}/outcomes/", {"file": upload},
                                             format="multipart")
        assert response.status_code == 202, response.json()
        job = OutcomeImport.objects.get(pk=response.json()["id"])
    assert job.status == "pending" and job.header == ["customer", "event", "revenue", "timestamp"]
    outcome_imports.outcome_import_execute(import_id=job.pk)  # the worker's part
    # then it imports the same outcomes, with the same rejections
    assert imported(c, job) == from_csv
    assert from_csv[0] == ("succeeded", 5, 2, 1, 2, {"unknown customer": 1, "bad revenue": 1})
    assert list(outcome_imports.outcome_dir().iterdir()) == []  # the stored upload is gone


def test_a_workbook_without_the_required_columns_is_refused(marketer, launched, tmp_path):
    c, _ = launched
    with pytest.raises(OutcomeFileError, match="no customer, event, timestamp column"):
        outcome_imports.outcome_import_create(campaign=c, path=outcomes_file(tmp_path, xlsx([["who", "what"], ["A", 1]]),
                                                                           "x.xlsx"), file_name="x.xlsx", source="page")
    assert not OutcomeImport.objects.exists()


def test_an_unexpected_error_fails_the_import_with_a_sentence_and_logs_it(marketer, launched, tmp_path, monkeypatch,
                                                                         caplog):
    # given a bug in checking the rows
    def broken(fields):
        raise KeyError("a bug")

    monkeypatch.setattr(outcome_imports, "parse_row", broken)
    c, audience = launched
    # when a file is imported
    job = import_outcomes(c, outcomes_file(tmp_path, HEADER + opened(audience[0], 1)))
    # then the import fails with a sentence, the log has the traceback, and nothing was kept
    assert (job.status, job.error) == ("failed", INTERNAL_ERROR.format(noun="this import"))
    assert "jobs.internal_error model=OutcomeImport" in caplog.text and "KeyError: 'a bug'" in caplog.text
    assert not CampaignOutcome.objects.exists() and not OutcomeStagedRow.objects.exists()


def test_a_database_outage_is_left_to_the_task_to_retry(marketer, launched, tmp_path, monkeypatch):
    def outage(job):
        raise OperationalError("the database went away")

    monkeypatch.setattr(outcome_imports, "_merge", outage)
    c, audience = launched
    path = outcomes_file(tmp_path, HEADER + opened(audience[0], 1))
    job = outcome_imports.outcome_import_create(campaign=c, path=path, file_name=path.name, source="api")
    with pytest.raises(OperationalError):
        outcome_imports.outcome_import_execute(import_id=job.pk)
    job.refresh_from_db()
    assert job.status == "running"  # left to the retry, which claims it again and starts over


def test_an_import_failed_by_its_task_after_the_retries_drops_its_staged_rows_and_upload(
        marketer, launched, monkeypatch):
    from campaigns.tasks import import_outcomes as task

    def outage(job):
        raise OperationalError("the database went away")

    # given an upload whose job staged its rows, then met a database outage at the merge
    monkeypatch.setattr(outcome_imports, "_merge", outage)
    c, audience = launched
    path = outcomes_file(outcome_imports.outcome_dir(), HEADER + opened(audience[0], 1))
    job = outcome_imports.outcome_import_create(campaign=c, path=path, file_name=path.name, source="page")
    with pytest.raises(OperationalError):
        outcome_imports.outcome_import_execute(import_id=job.pk)
    assert OutcomeStagedRow.objects.filter(outcome_import=job).exists() and path.exists()
    # when the task gives up (its retries used up), outside the job's own boundary
    task.on_failure(OperationalError("still away"), "task-id", [job.pk], {}, None)
    # then the job failed with a sentence, and neither its staged rows nor the upload are kept
    job.refresh_from_db()
    assert job.status == "failed" and "internal error (OperationalError)" in job.error
    assert not OutcomeStagedRow.objects.filter(outcome_import=job).exists() and not path.exists()


# ----------------------------------------------------------------------------- command line

def test_the_command_imports_in_process_and_prints_the_report(marketer, launched, tmp_path, capsys):
    c, audience = launched
    path = outcomes_file(tmp_path, HEADER + opened(audience[0], 1) + "X,opened,,2026-03-01\n")
    rejected_csv = tmp_path / "rejected.csv"
    call_command("import_outcomes", str(c.pk), str(path), "--json", "--rejected-csv", str(rejected_csv))
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["campaign"] == c.pk
    assert (summary["rows"], summary["added"], summary["duplicates"], summary["rejected"]) == (2, 1, 0, 1)
    assert "[100%] Done" in captured.err and "line 3: unknown customer “X”" in captured.err
    assert rejected_csv.read_text().splitlines() == ["line,reason,customer,event,revenue,timestamp",
                                                     "3,unknown customer “X”,X,opened,,2026-03-01"]
    call_command("import_outcomes", str(c.pk), str(path))
    assert "2 rows read = 0 added + 1 already recorded + 1 rejected." in capsys.readouterr().out


def test_the_command_exits_1_when_the_file_cannot_be_read(marketer, launched, tmp_path):
    c, audience = launched
    with pytest.raises(CommandError, match="No such file") as missing:
        call_command("import_outcomes", str(c.pk), str(tmp_path / "nope.csv"))
    with pytest.raises(CommandError, match="no customer, event, timestamp column") as columns:
        call_command("import_outcomes", str(c.pk), str(outcomes_file(tmp_path, "who,what\nA,b\n")))
    damaged = outcomes_file(tmp_path, (HEADER + opened(audience[0], 1) * (SNIFF_BYTES // 30)).encode() + b"\xff\n",
                            "cut.csv")
    with pytest.raises(CommandError, match="failed: The file stops being text") as failed:
        call_command("import_outcomes", str(c.pk), str(damaged))
    assert missing.value.returncode == columns.value.returncode == failed.value.returncode == 1
    with pytest.raises(CommandError, match="No campaign #0"):
        call_command("import_outcomes", "0", str(damaged))
    assert not CampaignOutcome.objects.exists()
    assert list(OutcomeImport.objects.values_list("status", flat=True)) == ["failed"]


def _png(width=2, height=2) -> bytes:
    """A real PNG image (signature, IHDR, IDAT, IEND), built here."""
    def part(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + part(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + part(b"IDAT", zlib.compress(pixels)) + part(b"IEND", b""))


@pytest.mark.parametrize("content", [_png(), b"\x89PNG\r\n\x1a\n" + b"no zero byte in these first bytes" * 10],
                         ids=["png", "png-signature-only"])
def test_an_image_uploaded_as_outcomes_is_refused_in_the_words_the_customers_import_uses(
        client, marketer, analyst, launched, content):
    # given an image chosen by mistake instead of a CSV file
    c, _ = launched
    client.force_login(marketer)
    # when it is uploaded on the campaign page
    page = client.post(reverse("campaigns:campaign-outcomes", args=[c.pk]),
                       {"file": SimpleUploadedFile("results.png", content)}, follow=True).content.decode()
    # then the page says what the customers import page says of the same file, and nothing is kept
    assert "it holds binary data" in page and "PNG" in page and "found:" not in page
    assert not OutcomeImport.objects.exists()
    client.force_login(analyst)
    customers_page = client.post(reverse("customers:import-create"),
                                 {"kind": "customers", "file": SimpleUploadedFile("results.png", content)})
    assert "it holds binary data" in customers_page.content.decode()
