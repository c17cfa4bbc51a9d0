"""Start a segmentation run on the Celery worker, follow it, print a JSON summary."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from customers.features import DEFAULT_FEATURES, FEATURES
from custseg_site.cli import follow_job
from segments import services
from segments.models import SegmentationRun
from segments.options import OPTIONS
from segments.selectors import run_coverage


class Command(BaseCommand):
    help = (
        "Segment the customers: enqueues a run for the Celery worker, shows progress on "
        "stderr, and prints a summary (JSON with --json) as the last line on stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--features", default=",".join(DEFAULT_FEATURES),
            help=f"Comma-separated features: {', '.join(FEATURES)}, and attr_* for each number or "
            "category column that a customers import kept as a custom attribute (GET /api/v1/features/ "
            "lists them). Categorical ones (gender, country, category attributes) are one-hot encoded, or "
            "used natively by --algorithm kprototypes.",
        )
        for option in OPTIONS:
            flag = "--" + option.name.replace("_", "-")
            choices = [name for name, _ in option.choices] or None
            default = "" if option.default is None else option.default
            parser.add_argument(
                flag, dest=option.name, default=None, choices=choices, metavar=None if choices else option.kind.upper(),
                help=f"{option.help} (default: {default if default != '' else 'empty'})".replace("%", "%%"),
            )
        parser.add_argument("--name", default="")
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")
        parser.add_argument(
            "--no-wait", action="store_true", help="Enqueue and return without waiting."
        )
        parser.add_argument(
            "--timeout", type=float, default=3600, help="Seconds to wait for the run (default 3600)."
        )

    def handle(self, *args, **options):
        features = [name.strip() for name in options["features"].split(",") if name.strip()]
        try:
            run = services.run_create(
                features=features, name=options["name"],
                **{option.name: options[option.name] for option in OPTIONS if options[option.name] is not None},
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(f"Run #{run.pk} queued: {run.name}")
        if options["no_wait"]:
            return self._summary(run, options)
        run = self._follow(run, options["timeout"])
        self._summary(run, options)
        if run.status != SegmentationRun.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} {run.status}: {run.error or run.stage}")

    def _follow(self, run, timeout):
        return follow_job(
            run, label=f"Run #{run.pk}", stderr=self.stderr, timeout=timeout,
            finished=SegmentationRun.FINISHED_STATUSES,
        )

    def _summary(self, run, options):
        metrics, selection, stability = run.metrics or {}, run.selection or {}, run.stability or {}
        summary = {
            "run_id": run.pk,
            "status": run.status,
            "algorithm": run.config.get("algorithm"),
            "k": metrics.get("k", run.config.get("k")),
            "features": run.config.get("features"),
            "silhouette": metrics.get("silhouette"),
            "silhouette_sample_size": metrics.get("silhouette_sample_size"),
            "davies_bouldin": metrics.get("davies_bouldin"),
            "calinski_harabasz": metrics.get("calinski_harabasz"),
            "k_rule": selection.get("rule"),
            "k_rule_text": selection.get("rule_text"),
            "stability": {
                "ari_mean": stability.get("ari_mean"),
                "resamples": stability.get("resamples"),
                "unstable_segments": stability.get("unstable", []),
            } if stability else None,
            "sizes": metrics.get("sizes", []),
            # who was segmented, and who was left out and why (as the run page and the API say)
            "coverage": run_coverage(run=run) if metrics else None,
            "notes": run.notes or [],
            "error": run.error or None,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            sizes = ", ".join(f"{size:,}" for size in summary["sizes"])
            silhouette = summary["silhouette"]
            coverage = summary["coverage"]
            left_out = f", {coverage['left_out']:,} left out" if coverage and coverage["left_out"] else ""
            self.stdout.write(
                f"Run #{run.pk} {run.status}: k={summary['k']}, sizes [{sizes}]{left_out}, "
                f"silhouette {silhouette:.3f}" if silhouette is not None else f"Run #{run.pk} {run.status}"
            )
