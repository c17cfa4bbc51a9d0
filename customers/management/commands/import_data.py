"""Import a customers or transactions file on the Celery worker; print a JSON summary."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from customers.importing.mapping import KINDS, MappingError, parse_map_options
from customers.importing.sources import Source, SourceError
from customers.importing.validate import ANONYMOUS_KEEP, ANONYMOUS_REJECT
from customers.models import ImportJob
from customers.services.imports import import_create
from customers.services.presets import preset_find, preset_options, preset_overrides, preset_save
from custseg_site.cli import follow_job


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
        dates = parser.add_mutually_exclusive_group()
        dates.add_argument("--dayfirst", action="store_true", default=None, help="Read 03/02/2024 as 3 February.")
        dates.add_argument(
            "--monthfirst", dest="dayfirst", action="store_false",
            help="Read 03/02/2024 as March 2. Without either option the file's dates tell (25/12/2011 is day "
            "first); a file whose dates could be read either way is refused until one is given.")
        parser.add_argument("--decimal-comma", action="store_true", default=None, help='Numbers like "1.234,5".')
        parser.add_argument(
            "--anonymous", choices=(ANONYMOUS_KEEP, ANONYMOUS_REJECT), default=None,
            help="Transactions without a customer id: keep them as anonymous (default) or reject them.",
        )
        parser.add_argument(
            "--preset", metavar="NAME",
            help="Use a saved mapping preset (name or id): its columns, units and formats apply "
            "unless --map, --unit or the flags above say otherwise.",
        )
        parser.add_argument(
            "--save-preset", metavar="NAME",
            help="Save this import's mapping and options as a preset (replaces one of that name).",
        )
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--no-wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=6 * 3600)

    def handle(self, *args, kind, path, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            with transaction.atomic():
                preset = preset_find(name_or_id=options["preset"], kind=kind) if options["preset"] else None
                header = Source(file).info.header
                overrides = parse_map_options(options["map"], header, kind)
                units = _parse_units(options["unit"])
                import_options = preset_options(
                    preset, dayfirst=options["dayfirst"], decimal_comma=options["decimal_comma"],
                    units=units or None, anonymous=options["anonymous"],
                )
                if options["save_preset"]:
                    mapping = preset_overrides(preset, header, overrides) if preset else overrides
                    preset = preset_save(name=options["save_preset"], kind=kind, mapping=mapping,
                                         options=import_options)
                job = import_create(
                    kind=kind, upload_path=file, original_name=file.name, overrides=overrides,
                    options=import_options, preset=preset,
                )
        except (SourceError, MappingError) as error:
            raise CommandError(str(error)) from error
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stderr.write(f"Import #{job.pk} queued: {kind} from {file.name}")
        self.stderr.write(f"Mapping: {job.mapping['fields']}; custom attributes: {job.mapping['attributes']}")
        if preset is not None:
            self.stderr.write(f"Preset: {preset.name}")
        if job.mapping.get("decimal_comma_hint") and not job.options.get("decimal_comma"):
            self.stderr.write("Note: the numbers look like they use a decimal comma (\"1.234,5\"); if so, import "
                              "again with --decimal-comma (numbers that do not read as numbers are rejected).")
        for note in job.report.get("notes", []):
            self.stderr.write(f"Note: {note}")
        for field, factor in job.mapping.get("unit_hints", {}).items():
            if field not in job.options.get("units", {}):
                self.stderr.write(f"Note: {field} looks like it is in thousands; pass --unit {field}={factor} to convert.")
        if not options["no_wait"]:
            job = self._follow(job, options["timeout"])
        self._summary(job, options["json"])
        if job.status == ImportJob.Status.FAILED:
            raise CommandError(f"Import #{job.pk} failed: {job.error}")
        if job.status == ImportJob.Status.CANCELLED:
            raise CommandError(f"Import #{job.pk} was cancelled; nothing from it was kept.")

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
            "preset": job.preset.name if job.preset_id else None,
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
