"""Compute every customer's features, RFM and lifetime value on the Celery worker."""

import json
from datetime import UTC, datetime, time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from customers.models import FeatureSnapshot
from customers.services.features import features_compute_create
from custseg_site.cli import follow_job


def parse_as_of(text: str) -> datetime:
    """"2011-12-10" (midnight UTC) or an ISO timestamp; ValueError with a reason."""
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise ValueError(f"--as-of takes a date like 2011-12-10 or an ISO timestamp, got {text!r}.")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


class Command(BaseCommand):
    help = (
        "Compute every customer's features (RFM, behaviour, lifetime value) as of a date. Runs "
        "on the Celery worker; progress goes to stderr and the last stdout line is a summary "
        "(JSON with --json), including the fitted BG/NBD and Gamma-Gamma parameters."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="Date the features are computed as of (default: the day after "
                            "the last transaction). Transactions from that date on are left out.")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--no-wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=6 * 3600)

    def handle(self, *args, **options):
        try:
            as_of = parse_as_of(options["as_of"]) if options["as_of"] else None
            snapshot = features_compute_create(as_of=as_of, trigger="cli")
        except ValueError as error:
            raise CommandError(str(error)) from error
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stderr.write(f"Features #{snapshot.pk} queued")
        if not options["no_wait"]:
            snapshot = follow_job(snapshot, label=f"Features #{snapshot.pk}", stderr=self.stderr,
                                  timeout=options["timeout"], finished=FeatureSnapshot.FINISHED_STATUSES)
        summary = {
            "snapshot_id": snapshot.pk, "status": snapshot.status,
            "as_of": snapshot.as_of.isoformat() if snapshot.as_of else None,
            "customers": snapshot.customers, "rfm_segments": snapshot.summary.get("rfm_segments", {}),
            "bgnbd": snapshot.clv.get("bgnbd"), "gamma_gamma": snapshot.clv.get("gamma_gamma"),
            "clv_diagnostics": snapshot.clv.get("diagnostics"), "seconds": snapshot.summary.get("seconds"),
            "error": snapshot.error or None,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary, default=str))
        else:
            self.stdout.write(f"Features #{snapshot.pk} {snapshot.status}: {snapshot.customers:,} customers "
                              f"as of {summary['as_of']}")
        if snapshot.status in (FeatureSnapshot.Status.FAILED, FeatureSnapshot.Status.CANCELLED):
            raise CommandError(f"Features #{snapshot.pk} {snapshot.status}: {snapshot.error or snapshot.stage}")
