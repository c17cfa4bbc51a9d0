"""The campaign audience as CSV rows (page and API export alike)."""

MEMBER_CSV_HEADER = ["external_id", "customer_id", "persona", "segment", "is_control"]
# rows fetched per round trip while streaming: flat memory whatever the audience size
STREAM_CHUNK_ROWS = 2000


def member_rows(members):
    for m in members.iterator(chunk_size=STREAM_CHUNK_ROWS):
        yield [m["customer__external_id"], m["customer_id"], m["via_persona__name"] or "", m["via_segment_id"],
               "yes" if m["is_control"] else "no"]
