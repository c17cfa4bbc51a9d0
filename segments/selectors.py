"""Reads for runs, segments and memberships."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import Customer
from segments.models import Segment, SegmentationRun


def run_list() -> QuerySet[SegmentationRun]:
    # projection (the scatter sample, ~160 KB a run) is read only by the run's own page
    return (
        SegmentationRun.objects.select_related("created_by")
        .defer("projection")
        .order_by("-created_at", "-id")
    )


def published_run() -> SegmentationRun | None:
    return SegmentationRun.objects.defer("projection").filter(published=True).first()


def run_segments(*, run: SegmentationRun) -> list[Segment]:
    return list(run.segments.order_by("index"))


def segment_members(*, segment: Segment) -> QuerySet[Customer]:
    """Customers in a segment, in customer-id order (stable for paging)."""
    return Customer.objects.filter(memberships__segment=segment).order_by("id")


def segment_summaries(*, run: SegmentationRun) -> list[dict]:
    """What the run page and the API show per segment."""
    return [
        {
            "id": segment.pk,
            "index": segment.index,
            "name": segment.display_name,
            "label": segment.label,
            "size": segment.size,
            "share": segment.profile.get("share", 0.0),
            "centroid": segment.profile.get("centroid", {}),
            "zscore": segment.profile.get("zscore", {}),
        }
        for segment in run_segments(run=run)
    ]


def customer_published_segment(*, customer_id: int) -> tuple[Segment | None, list]:
    """The customer's segment in the published run, and the personas linked to it."""
    segment = (
        Segment.objects.filter(run__published=True, memberships__customer_id=customer_id)
        .select_related("run").prefetch_related("personas").first()
    )
    return segment, (list(segment.personas.all()) if segment else [])
