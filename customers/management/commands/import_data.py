"""Import a customers or transactions file on the Celery worker; print a JSON summary."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from custseg_site.cli import follow_job
from customers.importing.mapping import KINDS, MappingError, parse_map_options
from customers.importing.sources import Source, SourceError
from customers.importing.validate import ANONYMOUS_KEEP, ANONYMOUS_REJECT, ImportOptions
from customers.models import ImportJob
from customers.services.imports import import_create


class Command(BaseCommand):
    help = (
        "Import a customers or transactions file (CSV, CSV.gz or XLSX). Runs on the Celery "
        "worker; progress goes to stderr and the last stdout line is a summary (JSON with --json)."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("path")
        parser.add_argument(
            "--map", action="append", default=[], metavar="SOURCE=FIELD",
            help='Map a column to a field, e.g. --map "Annual Income (k$)=annual_income"; '
            "FIELD may be 'attribute' or 'ignore'. Repeat for more columns.",
        )
        parser.add_argument(
            "--unit", action="append", default=[], metavar="FIELD=MULTIPLIER",
            help="Convert units, e.g. --unit annual_income=1000 for incomes in thousands.",
        )
        parser.add_argument("--dayfirst", action="store_true", help="Read 03/02/2024 as 3 February.")
        parser.add_argument("--decimal-comma", action="store_true", help='Numbers like "1.234,5".')
        parser.add_argument(
            "--anonymous", choices=(ANONYMOUS_KEEP, ANONYMOUS_REJECT), default=ANONYMOUS_KEEP,
            help="Transactions without a customer id: keep them as anonymous (default) or reject them.",
        )
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--no-wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=6 * 3600)

    def handle(self, *args, kind, path, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            header = Source(file).info.header
            overrides = parse_map_options(options["map"], header, kind)
            units = _parse_units(options["unit"])
            job = import_create(
                kind=kind, upload_path=file, original_name=file.name, overrides=overrides,
                options=ImportOptions(
                    dayfirst=options["dayfirst"], decimal_comma=options["decimal_comma"],
                    units=units, anonymous=options["anonymous"],
                ),
            )
        except (SourceError, MappingError) as error:
            raise CommandError(str(error)) from error
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stderr.write(f"Import #{job.pk} queued: {kind} from {file.name}")
        self.stderr.write(f"Mapping: {job.mapping['fields']}; custom attributes: {job.mapping['attributes']}")
        for field, factor in job.mapping.get("unit_hints", {}).items():
            if field not in units:
                self.stderr.write(f"Note: {field} looks like it is in thousands; pass --unit {field}={factor} to convert.")
        if not options["no_wait"]:
            job = self._follow(job, options["timeout"])
        self._summary(job, options["json"])
        if job.status == ImportJob.Status.FAILED:
            raise CommandError(f"Import #{job.pk} failed: {job.error}")

    def _follow(self, job, timeout):
        return follow_job(
            job, label=f"Import #{job.pk}", stderr=self.stderr, timeout=timeout,
            finished=ImportJob.FINISHED_STATUSES,
        )

    def _summary(self, job, as_json):
        summary = {
            "import_id": job.pk, "status": job.status, "rows": job.rows_read, "created": job.created,
            "updated": job.updated, "unchanged": job.unchanged, "rejected": job.rejected,
            "anonymous": job.anonymous, "customers_created": job.customers_created,
            "rejected_by_reason": job.report.get("rejected_by_reason", {}), "error": job.error or None,
        }
        if as_json:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"Import #{job.pk} {job.status}: {job.rows_read:,} rows = {job.accepted:,} accepted "
                f"({job.created:,} new, {job.updated:,} updated, {job.unchanged:,} already there) "
                f"+ {job.rejected:,} rejected"
            )


def _parse_units(options: list[str]) -> dict[str, float]:
    units = {}
    for option in options:
        field, separator, factor = option.partition("=")
        try:
            units[field] = float(factor)
        except ValueError:
            raise CommandError(f"--unit takes FIELD=NUMBER, got {option!r}.") from None
        if not separator or units[field] <= 0:
            raise CommandError(f"--unit takes FIELD=NUMBER (a positive number), got {option!r}.")
    return units
