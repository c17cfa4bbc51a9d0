"""Reads of imports: the list, a finished import's quality report, its rejected rows."""

from __future__ import annotations


def import_list():
    from customers.models import ImportJob

    return ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")


# A column empty in more than this share of rows is called out as a top problem.
MOSTLY_EMPTY_SHARE = 0.2
RANGE_LABELS = {
    "age": "age", "birth_year": "birth year", "annual_income": "annual income", "signup_date": "signup date",
    "timestamp": "date", "quantity": "quantity", "unit_price": "unit price", "amount": "amount",
}


def import_quality(*, job) -> dict:
    """The data-quality report of an import, shaped for its page: rejection reasons, empty
    cells per column (with their share), value ranges, and the top problems in words."""
    report = job.report or {}
    rows = job.rows_read or 0

    def share(count):
        return count / rows if rows else 0.0

    reasons = [(reason, count, share(count)) for reason, count in report.get("rejected_by_reason", {}).items()]
    missing = sorted(((column, count, share(count)) for column, count in report.get("missing_by_column", {}).items()),
                     key=lambda item: -item[1])
    ranges = [
        {"name": RANGE_LABELS.get(name, name), **values} for name, values in report.get("ranges", {}).items()
    ]
    problems = []
    if job.rejected:
        ranked = sorted(reasons, key=lambda item: -item[1])
        text = f"{job.rejected:,} of {rows:,} rows ({share(job.rejected):.1%}) were rejected"
        if len(ranked) == 1:
            text += f": “{ranked[0][0]}”."
        elif ranked and ranked[0][1] > ranked[1][1]:
            text += f"; most often “{ranked[0][0]}” ({_rows(ranked[0][1])})."
        else:
            text += f", for {len(ranked)} different reasons (below)."
        problems.append(text)
    customer_column = next((c for c, f in (job.mapping or {}).get("fields", {}).items() if f == "customer_external_id"), None)
    for column, count, fraction in missing:
        if column == customer_column and job.anonymous:
            continue  # said below, with what happened to those rows
        if fraction > MOSTLY_EMPTY_SHARE:
            problems.append(f"“{column}” is empty in {fraction:.0%} of rows ({_rows(count)}).")
    if job.kind == "transactions" and job.anonymous:
        problems.append(f"{_rows(job.anonymous)} ({share(job.anonymous):.1%}) had no customer id and "
                        "were kept as anonymous transactions (they count in revenue, not in any customer's features).")
    attributes = sorted((job.mapping or {}).get("attributes", {}).items())
    return {"reasons": reasons, "missing": missing, "ranges": ranges, "problems": problems[:4],
            "attributes": attributes, "rejected_share": share(job.rejected)}


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def import_rejected_rows(*, job):
    """The rejected rows of an import, in file order, streamed (never all in memory)."""
    return job.rejected_rows.order_by("line").values_list("line", "reason", "raw").iterator(chunk_size=5000)
