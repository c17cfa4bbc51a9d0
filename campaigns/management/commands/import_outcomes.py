"""Import a campaign's outcomes from a file (CSV, CSV.gz or XLSX), in this process (no worker needed)."""

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from campaigns import selectors
from campaigns.models import Campaign, OutcomeImport
from campaigns.services import outcome_imports
from custseg_site.csv_export import csv_lines

# Rejected rows printed to stderr; --rejected-csv writes them all.
SHOWN_REJECTIONS = 20


class Command(BaseCommand):
    help = (
        "Import a launched campaign's responses and conversions from a file (CSV, CSV.gz or XLSX) with the columns "
        "customer (external id), event (delivered, opened, clicked, responded, converted), revenue "
        "(conversions only) and timestamp (ISO 8601). Runs in this process with the same checks as an "
        "upload; progress goes to stderr and the last stdout line is the report (JSON with --json). Every "
        "row is added, found already recorded, or rejected with its line and reason; importing a file twice "
        "adds nothing. Exits 1 when the file cannot be read (nothing is imported then)."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("path")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--rejected-csv", metavar="PATH",
                            help="Write every rejected row (line, reason, the row's cells) to this CSV file.")

    def handle(self, *args, **options):
        campaign = Campaign.objects.filter(pk=options["campaign_id"]).first()
        if campaign is None:
            raise CommandError(f"No campaign #{options['campaign_id']}.")
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            job = outcome_imports.outcome_import_create(campaign=campaign, path=path.resolve(), file_name=path.name,
                                                 source=OutcomeImport.Source.CLI, enqueue=False)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages) + " Nothing was imported.") from error
        self.stderr.write(f"Outcomes import #{job.pk}: {path.name} into campaign #{campaign.pk} “{campaign.name}”")
        try:
            job = outcome_imports.outcome_import_run(import_id=job.pk, on_progress=self._progress)
        except KeyboardInterrupt:
            outcome_imports.outcome_import_mark_failed(import_id=job.pk, error="Stopped from the command line. Nothing "
                                                "from it was kept.")
            self.stderr.write(f"Stopped. Outcomes import #{job.pk} kept nothing.")
            sys.exit(130)
        if job.status == OutcomeImport.Status.SUCCEEDED:
            for rejection in selectors.outcome_rejections(outcome_import=job, limit=SHOWN_REJECTIONS):
                self.stderr.write(f"line {rejection.line}: {rejection.reason}")
            if job.rejected > SHOWN_REJECTIONS:
                self.stderr.write(f"... {job.rejected - SHOWN_REJECTIONS:,} more rejected rows "
                                  f"(--rejected-csv PATH writes them all)")
            if options["rejected_csv"]:
                self._write_rejected(job, Path(options["rejected_csv"]))
        self._summary(job, options["json"])
        if job.status == OutcomeImport.Status.FAILED:
            raise CommandError(f"Outcomes import #{job.pk} failed: {job.error}")
        if job.status == OutcomeImport.Status.CANCELLED:
            raise CommandError(f"Outcomes import #{job.pk} was cancelled; nothing from it was kept.")

    def _progress(self, percent: int, stage: str) -> None:
        self.stderr.write(f"[{percent:3d}%] {stage}")

    def _write_rejected(self, job, target: Path) -> None:
        rows = ([line, reason, *cells] for line, reason, cells in selectors.outcome_rejected_rows(outcome_import=job))
        with open(target, "w", encoding="utf-8", newline="") as handle:
            for text in csv_lines(["line", "reason", *job.header], rows):
                handle.write(text)
        self.stderr.write(f"Rejected rows written to {target}")

    def _summary(self, job, as_json: bool) -> None:
        summary = {"import_id": job.pk, "campaign": job.campaign_id, "status": job.status, "rows": job.rows,
                   "added": job.added, "duplicates": job.duplicates, "rejected": job.rejected,
                   "reasons": job.reasons, "error": job.error or None}
        if as_json:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(f"Outcomes import #{job.pk} {job.status}: {job.rows:,} rows read = {job.added:,} added "
                              f"+ {job.duplicates:,} already recorded + {job.rejected:,} rejected.")
