"""An outcome import's rejected rows as CSV (page and API alike). The audience export is the
membership API's (segments.members.member_csv)."""

from campaigns import selectors
from custseg_site.csv_export import csv_response


def rejected_rows_response(outcome_import):
    """Every rejected row of an outcome import, streamed: line, reason, then the row's cells
    under the file's own header (cells a spreadsheet would run as formulas neutralised)."""
    rows = ([line, reason, *cells] for line, reason, cells in
            selectors.outcome_rejected_rows(outcome_import=outcome_import))
    return csv_response(f"outcomes-import-{outcome_import.pk}-rejected.csv",
                        ["line", "reason", *outcome_import.header], rows)
