"""Reads for runs, segments and memberships."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from customers.models import Customer
from custseg_site.aggregate_cache import cached, stamp
from segments.models import Membership, Persona, RunPublication, Segment, SegmentationRun
from segments.options import OPTIONS_BY_NAME


def run_list() -> QuerySet[SegmentationRun]:
    # projection (the scatter sample, ~160 KB a run) is read only by the run's own page
    return (
        SegmentationRun.objects.select_related("created_by")
        .defer("projection")
        .order_by("-created_at", "-id")
    )


def published_run() -> SegmentationRun | None:
    return SegmentationRun.objects.defer("projection").filter(published=True).first()


def published_run_publication() -> RunPublication | None:
    """The open publication period of the published run, with the run and who published it."""
    return (RunPublication.objects.filter(run__published=True, unpublished_at__isnull=True)
            .select_related("run", "by").defer("run__projection").first())


def run_segments(*, run: SegmentationRun) -> list[Segment]:
    return list(run.segments.order_by("index"))


def segment_list(*, run_id: int | None = None) -> QuerySet[Segment]:
    """The segments of run `run_id` (by default the published run), in index order."""
    segments = Segment.objects.select_related("run").defer("run__projection").order_by("index")
    return segments.filter(run_id=run_id) if run_id is not None else segments.filter(run__published=True)


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
            "mean": segment.profile.get("mean", {}),
            "median": segment.profile.get("median", {}),
            "zscore": segment.profile.get("zscore", {}),
            "categories": segment.profile.get("categories", {}),
            "top_features": segment.profile.get("top_features", []),
            "rules": segment.rules,
            "stability": segment.stability,
            "revenue_share": segment.revenue_share,
            "is_noise": segment.is_noise,
        }
        for segment in run_segments(run=run)
    ]


def run_coverage(*, run: SegmentationRun) -> dict:
    """Who a finished run segmented, and who it left out and why (counts of customers).

    segmented: in a segment; outliers: in the run but in no dense group (DBSCAN/HDBSCAN);
    left_out = missing_values (a chosen feature missing, with "leave the customer out") +
    no_purchases (never bought, on a run over purchase features).
    """
    metrics = run.metrics or {}
    customers = int(metrics.get("n_customers") or 0)
    missing_values = int(metrics.get("dropped") or 0)
    no_purchases = int(metrics.get("no_purchases") or 0)
    in_run = int(metrics.get("n_segmented", customers - missing_values - no_purchases) or 0)
    outliers = int(metrics.get("noise_count") or 0)
    return {
        "customers": customers,
        "in_run": in_run,
        "segmented": in_run - outliers,
        "outliers": outliers,
        "left_out": missing_values + no_purchases,
        "missing_values": missing_values,
        "no_purchases": no_purchases,
    }


def run_feature_treatment(*, run: SegmentationRun, labels: dict[str, str]) -> list[dict]:
    """What a run did to each number feature before segmenting, and why: one row per feature
    (label, skew, log scale or not and the reason, scaling). Empty for runs made before the
    reasons were kept."""
    report = run.preprocessing or {}
    rows = []
    for name, entry in (report.get("transforms") or {}).items():
        scaling = entry.get("scaling", report.get("scaling"))
        rows.append({
            "feature": name,
            "label": labels.get(name, name),
            "skew": (report.get("skew") or {}).get(name),
            "transform": entry.get("transform", "none"),
            "reason": entry.get("reason", ""),
            "negative_values": int(entry.get("negative_values") or 0),
            "scaling": scaling,
            "scaling_label": dict(OPTIONS_BY_NAME["scaling"].choices).get(scaling, scaling),
        })
    return rows


def customer_published_segment(*, customer_id: int) -> tuple[Segment | None, list]:
    """The customer's segment in the published run, and the personas linked to it."""
    membership = (
        Membership.objects.filter(run__published=True, customer_id=customer_id)
        .select_related("segment", "segment__run").first()
    )
    if membership is None:
        return None, []
    segment = membership.segment
    # how firmly the customer belongs: distance to the centre, and the runner-up segment
    segment.member_distance = membership.distance
    segment.nearest_other = (
        Segment.objects.filter(run_id=segment.run_id, index=membership.nearest_segment_index).first()
        if membership.nearest_segment_index is not None else None
    )
    personas = Persona.objects.filter(links__segment=segment, links__unlinked_at__isnull=True).order_by("name")
    return segment, list(personas)


def run_comparison(*, run_a: SegmentationRun, run_b: SegmentationRun) -> dict:
    """How two runs' segments relate: a migration matrix (customers in segment i of A and
    segment j of B), the adjusted Rand index over the customers in both, and who is in only
    one of them. One GROUP BY in the database; nothing per customer comes to Python."""
    from django.db import connection

    table = Membership._meta.db_table

    def count_pairs():
        with connection.cursor() as cursor:
            # the unique (run, customer) index serves both sides of the join
            cursor.execute(
                f"SELECT a.segment_id, b.segment_id, COUNT(*) FROM {table} a "
                f"JOIN {table} b ON b.customer_id = a.customer_id AND b.run_id = %s "
                "WHERE a.run_id = %s GROUP BY a.segment_id, b.segment_id",
                [run_b.pk, run_a.pk],
            )
            return cursor.fetchall()

    # a join of two runs' memberships (0.7 s for two 1M-customer runs); finished runs'
    # memberships never change, so once per pair of runs
    pairs = cached("run-pairs", count_pairs, stamp(run_a), stamp(run_b))
    segments_a, segments_b = run_segments(run=run_a), run_segments(run=run_b)
    position_a = {s.pk: i for i, s in enumerate(segments_a)}
    position_b = {s.pk: j for j, s in enumerate(segments_b)}
    matrix = [[0] * len(segments_b) for _ in segments_a]
    for segment_a, segment_b, customers in pairs:
        matrix[position_a[segment_a]][position_b[segment_b]] = int(customers)
    in_both = sum(map(sum, matrix))
    return {
        "run_a": run_a.pk,
        "run_b": run_b.pk,
        "segments_a": [{"index": s.index, "name": s.display_name, "size": s.size} for s in segments_a],
        "segments_b": [{"index": s.index, "name": s.display_name, "size": s.size} for s in segments_b],
        "matrix": matrix,
        "customers_in_both": in_both,
        "only_in_a": sum(s.size for s in segments_a) - in_both,
        "only_in_b": sum(s.size for s in segments_b) - in_both,
        "adjusted_rand_index": adjusted_rand_index(matrix),
    }


def adjusted_rand_index(matrix: list[list[int]]) -> float | None:
    """ARI (Hubert and Arabie) from a contingency table, so it needs no per-customer labels.
    Same value as sklearn.metrics.adjusted_rand_score on the labels behind the table."""

    def pairs(n: int) -> int:
        return n * (n - 1) // 2

    total = sum(map(sum, matrix))
    if total < 2:
        return None
    index = sum(pairs(cell) for row in matrix for cell in row)
    rows = sum(pairs(sum(row)) for row in matrix)
    columns = sum(pairs(sum(column)) for column in zip(*matrix)) if matrix else 0
    expected = rows * columns / pairs(total)
    maximum = (rows + columns) / 2
    if maximum == expected:
        return 1.0  # both runs put everyone in one segment (or each in their own): identical
    return float((index - expected) / (maximum - expected))


MEMBER_ORDERS = {
    "customer": "Customer id",
    "typical": "Most typical first (closest to the centre)",
    "borderline": "Borderline first (farthest from the centre)",
}


def segment_member_page(*, segment: Segment, search: str = "", order: str = "customer",
                        cursor: str = "", limit: int = 50) -> tuple[list[Membership], str | None]:
    """One page of a segment's members with their customer, and the cursor of the next page.

    Keyset paging (the cursor is the last row's sort key), so page 5,000 of a million-member
    segment costs the same as page 1. `search` matches the start of the external id.
    """
    memberships = (
        Membership.objects.filter(segment=segment)
        .select_related("customer")
        .only("id", "distance", "nearest_segment_index", "customer__id", "customer__external_id",
              "customer__gender", "customer__age", "customer__country", "customer__annual_income")
    )
    if search:
        memberships = memberships.filter(customer__external_id__startswith=search)
    if order not in MEMBER_ORDERS:
        order = "customer"
    key = _parse_cursor(cursor)
    if order == "customer":
        if key:
            memberships = memberships.filter(customer_id__gt=key[1])
        memberships = memberships.order_by("customer_id")
    else:
        descending = order == "borderline"
        distance = F("distance").desc(nulls_last=True) if descending else F("distance").asc(nulls_last=True)
        if key and key[0] is None:
            memberships = memberships.filter(distance__isnull=True, customer_id__gt=key[1])
        elif key:
            beyond = Q(distance__lt=key[0]) if descending else Q(distance__gt=key[0])
            memberships = memberships.filter(beyond | Q(distance=key[0], customer_id__gt=key[1]) | Q(distance__isnull=True))
        memberships = memberships.order_by(distance, "customer_id")
    rows = list(memberships[: limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_next:
        last = rows[-1]
        next_cursor = f"{'' if last.distance is None else repr(last.distance)}:{last.customer_id}"
    return rows, next_cursor


def _parse_cursor(cursor: str) -> tuple[float | None, int] | None:
    try:
        distance, customer_id = cursor.rsplit(":", 1)
        return (float(distance) if distance else None), int(customer_id)
    except (ValueError, AttributeError):
        return None


def segment_member_rows(*, segment: Segment, personal: tuple[str, ...] | list[str] = ()):
    """Every member for the CSV export, streamed from the database in chunks: external id,
    then the customer fields in `personal` (email, name), then the segment's columns."""
    return (
        Membership.objects.filter(segment=segment).order_by("customer_id")
        .values_list("customer__external_id", *(f"customer__{name}" for name in personal), "distance",
                     "nearest_segment_index", "customer__gender", "customer__age", "customer__country",
                     "customer__annual_income")
        .iterator(chunk_size=5000)
    )


def segment_pull(*, segment: Segment, as_of=None, changed_since=None):
    """The members of a segment to pull. A run's memberships never change once written, so
    as of a moment before its run finished the segment had nobody, and after it, everyone it
    has now. With `changed_since` (a run id, or a moment: the run published then) it is
    compared with its predecessor in that run: the segment sharing the most customers."""
    from segments.members import Pull, segment_pin, segment_predecessor
    from segments.personas.selectors import publication_at

    run = segment.run
    existed = as_of is None or (run.finished_at is not None and run.finished_at <= as_of)
    meta = {"segment": segment.pk, "run": segment.run_id,
            "as_of": as_of.isoformat() if as_of is not None else None, "changed_since": None}
    baseline = None
    if changed_since is not None:
        if isinstance(changed_since, int):
            then_run = changed_since
        else:
            publication = publication_at(when=changed_since)
            then_run = publication.run_id if publication else None
        predecessor = None
        if then_run == segment.run_id:
            predecessor = segment.pk
        elif then_run is not None:
            predecessor = segment_predecessor(segment_id=segment.pk, run_id=then_run)
        meta["changed_since"] = {"run": then_run, "segment": predecessor}
        if not isinstance(changed_since, int):
            meta["changed_since"]["at"] = changed_since.isoformat()
        baseline = segment_pin(predecessor)
    return Pull(current=segment_pin(segment.pk if existed else None), baseline=baseline, meta=meta)
