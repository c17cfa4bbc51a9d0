import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from campaigns import services
from campaigns.models import Campaign, OutcomeImport

# Rejected rows printed in the text summary; --json gives the report's full list.
SHOWN_REJECTIONS = 20


class Command(BaseCommand):
    help = (
        "Import a launched campaign's responses and conversions from a CSV file with the columns "
        "customer (external id), event (delivered, opened, clicked, responded, converted), revenue "
        "(conversions only) and timestamp (ISO 8601). Every row is added, found already recorded, or "
        "rejected with its line and reason; importing a file twice adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("path")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        campaign = Campaign.objects.filter(pk=options["campaign_id"]).first()
        if campaign is None:
            raise CommandError(f"No campaign #{options['campaign_id']}.")
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            report = services.outcomes_import(
                campaign=campaign, records=services.read_outcomes_csv(path.read_bytes()),
                source=OutcomeImport.Source.CLI, file_name=path.name)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        except UnicodeDecodeError as error:
            raise CommandError("The file is not text (UTF-8 or Windows-1252); nothing was imported.") from error
        summary = {"import": report.pk, "campaign": campaign.pk, "rows": report.rows, "added": report.added,
                   "duplicates": report.duplicates, "rejected": report.rejected, "reasons": report.reasons,
                   "rejections": report.rejections}
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        for rejection in report.rejections[:SHOWN_REJECTIONS]:
            self.stderr.write(f"line {rejection['line']}: {rejection['reason']}")
        self.stdout.write(f"{report.rows:,} rows read: {report.added:,} added, {report.duplicates:,} already "
                          f"recorded, {report.rejected:,} rejected.")
