"""Reading files as teams export them; every record is a row or a problem. No database."""

import gzip

import pytest

from customers.importing.sources import Source, SourceError

MALL = (
    "CustomerID,Genre,Age,Annual Income (k$),Spending Score (1-100)\n"
    "1,Male,19,15,39\n2,Male,21,15,81\n3,Female,20,16,6\n"
)
RETAIL = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    'C536379,D,"Discount, with comma",-1,2010-12-01 09:41:00,27.5,14527,United Kingdom\n'
    "536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom\n"
)


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path, **kwargs):
    source = Source(path, **kwargs)
    rows, lines, problems = [], [], []
    for chunk in source.chunks():
        rows += chunk.frame.to_dict("records")
        lines += chunk.lines
        problems += chunk.problems
    return source, rows, lines, problems




def test_mall_customers_header_and_rows(tmp_path):
    source, rows, lines, problems = read_all(write(tmp_path, "mall.csv", MALL.encode()))
    assert source.info.header[3] == "Annual Income (k$)"
    assert source.info.delimiter == "," and source.info.format == "csv"
    assert [r["CustomerID"] for r in rows] == ["1", "2", "3"] and lines == [2, 3, 4]
    assert problems == []


def test_utf8_bom_is_not_part_of_the_first_column(tmp_path):
    source, rows, _, _ = read_all(write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + MALL.encode()))
    assert source.info.encoding == "utf-8-sig"
    assert source.info.header[0] == "CustomerID"


def test_windows_1252_text_is_decoded(tmp_path):
    data = "CustomerID;City;Name\n1;Zürich;José Müller\n2;Málaga;Œuvre “quoted”\n".encode("cp1252")
    source, rows, _, problems = read_all(write(tmp_path, "latin.csv", data))
    assert source.info.encoding == "cp1252" and source.info.delimiter == ";"
    assert rows[0]["City"] == "Zürich" and rows[1]["Name"] == "Œuvre “quoted”"
    assert problems == []


def test_tab_separated_and_quoted_fields_with_newlines(tmp_path):
    data = 'id\tnote\tcity\n1\t"two\nlines"\tParis\n2\tplain\tRome\n'
    source, rows, lines, problems = read_all(write(tmp_path, "tabs.tsv", data.encode()))
    assert source.info.delimiter == "\t"
    assert rows[0]["note"] == "two\nlines" and rows[1]["city"] == "Rome"
    assert lines == [2, 4]  # the second record starts on the file's fourth line


def test_gzip_compressed_csv(tmp_path):
    source, rows, _, problems = read_all(write(tmp_path, "retail.csv.gz", gzip.compress(RETAIL.encode())))
    assert source.info.format == "csv.gz"
    assert [r["InvoiceNo"] for r in rows] == ["536365", "C536379", "536414"]
    assert rows[1]["Description"] == "Discount, with comma" and rows[2]["CustomerID"] == ""


def test_ragged_rows_become_problems_with_their_line_and_nothing_is_lost(tmp_path):
    data = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n"
    _, rows, lines, problems = read_all(write(tmp_path, "ragged.csv", data.encode()))
    assert lines == [2, 5]
    assert [(p.line, p.reason) for p in problems] == [
        (3, "expected 3 fields, found 2"), (4, "expected 3 fields, found 4"),
    ]
    assert len(rows) + len(problems) == 4  # every record accounted for


def test_a_10_mb_single_line_is_one_rejected_row_not_a_crash(tmp_path):
    data = "a,b\n1,2\n" + "x" * (10 * 1024 * 1024) + ",3\n4,5\n"
    _, rows, lines, problems = read_all(write(tmp_path, "huge.csv", data.encode()))
    assert [r["a"] for r in rows] == ["1", "4"] and lines == [2, 4]
    assert len(problems) == 1 and problems[0].line == 3 and "field larger" in problems[0].reason


def test_rows_come_in_bounded_chunks(tmp_path):
    data = "a,b\n" + "".join(f"{i},{i}\n" for i in range(1, 1001))
    source = Source(write(tmp_path, "many.csv", data.encode()), chunk_rows=300)
    sizes = [len(chunk.frame) for chunk in source.chunks()]
    assert sizes == [300, 300, 300, 100]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not look like a CSV"),
        (b"\x89PNG\r\n\x1a\n" + b"text-like bytes, no zero byte" * 20, r"holds binary data: it is a PNG image\)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "it is a PDF document"),
        (b"name,\x1b[31mage\n1,2\n", r"\(it holds binary data\)"),
        (gzip.compress(b"\x89PNG\r\n\x1a\nrest"), "compressed file does not hold a CSV file"),
        (b"PK\x03\x04 not really a zip", "not a readable XLSX"),
        (b"\x1f\x8b\x08\x00garbage", "gzip file is damaged"),
    ],
)
def test_unreadable_files_get_a_clear_message(tmp_path, data, message):
    with pytest.raises(SourceError, match=message):
        Source(write(tmp_path, "bad", data))


def test_header_only_file_has_no_rows(tmp_path):
    source, rows, _, problems = read_all(write(tmp_path, "header.csv", b"CustomerID,Age\n"))
    assert source.info.header == ["CustomerID", "Age"] and rows == [] and problems == []


def test_duplicate_and_blank_headers_are_renamed_not_dropped(tmp_path):
    source, rows, _, _ = read_all(write(tmp_path, "dup.csv", b"id,Name,Name,\n1,a,b,c\n"))
    assert source.info.header == ["id", "Name", "Name (2)", "column 4"]
    assert source.info.renamed_headers == {"Name (2)": "Name"}
    assert rows[0]["Name (2)"] == "b" and rows[0]["column 4"] == "c"


def test_formula_like_cells_are_read_as_text(tmp_path):
    _, rows, _, _ = read_all(write(tmp_path, "f.csv", b'id,name\n1,"=HYPERLINK(""http://x"")"\n2,+SUM(A1)\n'))
    assert rows[0]["name"] == '=HYPERLINK("http://x")' and rows[1]["name"] == "+SUM(A1)"


def test_xlsx_first_sheet(tmp_path):
    from datetime import datetime

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["CustomerID", "Genre", "Annual Income (k$)", "Signup"])
    sheet.append([1, "Male", 15, datetime(2024, 3, 1)])
    sheet.append([None, None, None, None])  # a blank row is not a record
    sheet.append([2, "Female", 16.5, datetime(2024, 4, 2)])
    path = tmp_path / "mall.xlsx"
    workbook.save(path)
    source, rows, lines, problems = read_all(path)
    assert source.info.format == "xlsx" and source.info.header[2] == "Annual Income (k$)"
    assert [r["CustomerID"] for r in rows] == [1, 2] and lines == [2, 4]
    assert rows[1]["Signup"] == datetime(2024, 4, 2) and problems == []


def test_preview_returns_the_first_rows(tmp_path):
    source = Source(write(tmp_path, "mall.csv", MALL.encode()))
    assert list(source.preview(2)["CustomerID"]) == ["1", "2"]


def _as_the_csv_module_reads(text: str, delimiter: str):
    """Rows, their lines and the ragged records, as custseg read CSV with Python's csv module."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    width = len(next(reader))
    rows, lines, problems = [], [], []
    start = reader.line_num + 1
    for record in reader:
        line, start = start, reader.line_num + 1
        if not record or record == [""]:
            continue
        if len(record) != width:
            problems.append((line, f"expected {width} fields, found {len(record)}", delimiter.join(record)))
        else:
            rows.append(tuple(record))
            lines.append(line)
    return rows, lines, problems


def _messy_csv(rng, delimiter: str) -> str:
    cells = ["a", "", " b ", "Zürich", '"x, y"', '"two\nlines"', '"cr\r\nlf"', '"lone\rcr"', '"say ""hi"""',
             '5" tall', '"ab"cd', '"blank\n\nline"', '"\n"']
    breaks = ["\n", "\r\n", "\r"]
    width = rng.randint(1, 4)
    text = delimiter.join(f"h{i}" for i in range(width)) + rng.choice(breaks)
    for _ in range(rng.randint(0, 25)):
        kind = rng.random()
        if kind < 0.1:
            record = ""  # a blank line
        elif kind < 0.15:
            record = delimiter * (width - 1)  # a record of empty fields
        elif kind < 0.2:
            record = '""'
        else:
            fields = width if rng.random() < 0.8 else rng.randint(1, width + 2)
            record = delimiter.join(rng.choice(cells).replace(",", delimiter) for _ in range(fields))
        text += record + rng.choice(breaks)
    return text if rng.random() < 0.7 else text.rstrip("\r\n")


@pytest.mark.parametrize("seed", range(40))
def test_every_record_is_read_and_numbered_as_the_csv_module_reads_it(tmp_path, seed):
    # given files with quoted line breaks (\n, \r\n, \r), blank lines, empty records, stray
    # quotes and ragged records
    import random

    rng = random.Random(seed)
    for number in range(10):
        delimiter = rng.choice([",", ";", "\t"])
        text = _messy_csv(rng, delimiter)
        path = write(tmp_path, f"messy{number}.csv", text.encode())
        # when custseg reads them, in chunks of any size
        source, rows, lines, problems = read_all(path, chunk_rows=rng.choice([1, 3, 50_000]))
        # then it finds the rows, lines and problems Python's csv module finds (with the
        # delimiter detected: a file of one column does not show its own)
        expected_rows, expected_lines, expected_problems = _as_the_csv_module_reads(text, source.info.delimiter)
        assert [tuple(row.values()) for row in rows] == expected_rows, text
        assert lines == expected_lines, text
        assert [(p.line, p.reason, p.raw) for p in problems] == expected_problems, text


def test_lines_after_quoted_line_breaks_and_blank_lines(tmp_path):
    data = 'id,note\r\n1,"two\r\nlines"\r\n\r\n2,"three\nlines\rhere"\n\n\n3,x\r4,"a\n\nb"\n5\n6,y\n'
    _, rows, lines, problems = read_all(write(tmp_path, "lines.csv", data.encode()))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "6"]
    assert lines == [2, 5, 10, 11, 15]
    assert [(p.line, p.reason) for p in problems] == [(14, "expected 2 fields, found 1")]


def test_a_record_longer_than_a_parsing_block_is_read_all_the_same(tmp_path):
    # given a 3 MB field that is not too long (the limit is per field, 1 MiB characters... in
    # two fields of 0.9 MiB each), among ordinary rows
    big = "y" * 900_000
    data = "a,b,c\n1,2,3\n" + f"{big},{big},z\n" + "4,5,6\n"
    _, rows, lines, problems = read_all(write(tmp_path, "wide.csv", data.encode()))
    assert [r["a"][:1] for r in rows] == ["1", "y", "4"] and lines == [2, 3, 4] and problems == []
