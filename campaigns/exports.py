"""Campaign CSV exports (page and API alike): the audience, and an outcome import's rejected rows."""

from campaigns import selectors
from custseg_site.csv_export import csv_response

MEMBER_CSV_HEADER = ["external_id", "customer_id", "persona", "segment", "is_control"]
# rows fetched per round trip while streaming: flat memory whatever the audience size
STREAM_CHUNK_ROWS = 2000


def member_rows(members):
    for m in members.iterator(chunk_size=STREAM_CHUNK_ROWS):
        yield [m["customer__external_id"], m["customer_id"], m["via_persona__name"] or "", m["via_segment_id"],
               "yes" if m["is_control"] else "no"]


def rejected_rows_response(outcome_import):
    """Every rejected row of an outcome import, streamed: line, reason, then the row's cells
    under the file's own header (cells a spreadsheet would run as formulas neutralised)."""
    rows = ([line, reason, *cells] for line, reason, cells in
            selectors.outcome_rejected_rows(outcome_import=outcome_import))
    return csv_response(f"outcomes-import-{outcome_import.pk}-rejected.csv",
                        ["line", "reason", *outcome_import.header], rows)
