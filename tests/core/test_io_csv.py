"""CSV/TSV importer: real SMS, SemEval and Enron excerpts, Triage's own exports, hypothesis
round trips."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guiapp.core import export
from guiapp.core.errors import InputError
from guiapp.core.io import (
    AmbiguousTextColumn,
    inspect_table,
    iter_collection_chunks,
    load_collection,
    load_messages,
)
from guiapp.core.io.tables import fill_ids
from guiapp.core.messages import COLUMNS, STRING_DTYPE, content_id, make_frame

FIX = Path(__file__).resolve().parents[1] / "fixtures"
SMS_TSV = FIX / "sms" / "SMSSpamCollection_sample.tsv"


def _sms_rows() -> list[tuple[str, str]]:
    return [tuple(ln.split("\t", 1)) for ln in SMS_TSV.read_text("utf-8").splitlines()]  # type: ignore[misc]


def _check_schema(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(COLUMNS)
    assert frame.index.equals(pd.RangeIndex(len(frame)))
    for name in COLUMNS[:7]:
        assert frame[name].dtype == STRING_DTYPE, name
        assert not frame[name].isna().any(), name
    assert frame["user_spam"].dtype == np.int8 and frame["user_sentiment"].dtype == np.int8
    assert (frame["id"] != "").all()


def test_sms_spam_collection_is_detected():
    result = load_collection(SMS_TSV)
    m = result.messages
    _check_schema(m)
    rows = _sms_rows()
    assert m["text"].tolist() == [t for _, t in rows]  # QUOTE_NONE: quotes kept as typed
    assert m["user_spam"].tolist() == [1 if lab == "spam" else 0 for lab, _ in rows]
    assert set(m["kind"]) == {"sms"} and set(m["source"]) == {str(SMS_TSV)}
    assert (m["user_sentiment"] == -1).all()
    assert list(result.extra.columns) == ["label", "text"]
    assert result.files == [str(SMS_TSV)] and result.encodings[str(SMS_TSV)] == "utf-8"
    assert m["id"].tolist() == [content_id("", t) for _, t in rows]


def test_labelled_csv_with_header_and_quotes():
    path = FIX / "sms" / "sms_labelled.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    m = load_messages(path)
    _check_schema(m)
    assert m["text"].tolist() == [r["message"] for r in rows]
    assert m["user_spam"].tolist() == [int(r["label"] == "spam") for r in rows]
    assert set(m["kind"]) == {"text"}  # a short-message CSV without hints


def test_kaggle_layout_in_cp1252():
    path = FIX / "sms" / "kaggle_spam_cp1252.csv"
    result = load_collection(path)
    m = result.messages
    assert result.encodings[str(path)] == "cp1252"
    assert any("£" in t for t in m["text"])
    assert set(m["kind"]) == {"sms"}  # v1/v2 columns
    assert sorted(set(m["user_spam"])) == [0, 1]
    assert result.problems and "cp1252" in result.problems[0].reason


def test_semeval_tsv_without_header():
    path = FIX / "tweets" / "semeval_2016_sample.tsv"
    lines = [ln.split("\t") for ln in path.read_text("utf-8").splitlines()]
    result = load_collection(path)
    m = result.messages
    assert len(m) == len(lines) and set(m["kind"]) == {"tweet"}
    codes = {"negative": 0, "neutral": 1, "positive": 2}
    assert m["user_sentiment"].tolist() == [codes[ln[1]] for ln in lines]
    assert (m["user_spam"] == -1).all()
    assert list(result.extra.columns) == ["column_1", "column_2", "column_3"]  # empty 4th dropped


def test_enron_csv():
    path = FIX / "enron" / "enron_sample.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    m = load_messages(path)
    assert set(m["kind"]) == {"email"}
    assert m["subject"].tolist() == [r["Subject"] for r in rows]
    assert m["text"].tolist() == [r["Message"] for r in rows]
    assert m["date"].tolist() == [r["Date"] for r in rows]
    assert m["id"].tolist() == [r["Message ID"] for r in rows]
    assert m["user_spam"].tolist() == [int(r["Spam/Ham"] == "spam") for r in rows]


def test_text_column_found_by_content_and_overridable(tmp_path):
    rows = _sms_rows()
    frame = pd.DataFrame(
        {"n": range(len(rows)), "words": [t for _, t in rows], "tag": [lab for lab, _ in rows]}
    )
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    m = load_messages(path)
    assert m["text"].tolist() == frame["words"].tolist()
    assert m["user_spam"].tolist() == [int(lab == "spam") for lab, _ in rows]  # 'tag' fits
    m = load_messages(path, text_column="tag", label_columns={"spam": None})
    assert m["text"].tolist() == frame["tag"].tolist() and (m["user_spam"] == -1).all()
    with pytest.raises(InputError, match="no column 'nope'"):
        load_collection(path, text_column="nope")


def test_ambiguous_text_column(tmp_path):
    texts = [t for _, t in _sms_rows()]
    path = tmp_path / "pairs.csv"
    pd.DataFrame({"question": texts[:20], "answer": texts[20:40]}).to_csv(path, index=False)
    with pytest.raises(AmbiguousTextColumn) as info:
        load_collection(path)
    assert set(info.value.candidates) == {"question", "answer"}
    assert isinstance(info.value, InputError) and "pairs.csv" in str(info.value)
    assert load_messages(path, text_column="answer")["text"].tolist() == texts[20:40]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["0", "1", "2"], [0, 1, 2]),
        (["-1", "0", "1"], [0, 1, 2]),
        (["0", "4", "2"], [0, 2, 1]),
        (["neg", "neu", "pos"], [0, 1, 2]),
        (["Negative", "neutral", "POSITIVE"], [0, 1, 2]),
    ],
)
def test_sentiment_label_schemes(tmp_path, values, expected):
    texts = [t for _, t in _sms_rows()][:3]
    path = tmp_path / "s.csv"
    pd.DataFrame({"text": texts, "sentiment": values}).to_csv(path, index=False)
    assert load_messages(path)["user_sentiment"].tolist() == expected
    path2 = tmp_path / "generic.csv"
    pd.DataFrame({"text": texts, "label": values}).to_csv(path2, index=False)
    assert load_messages(path2)["user_sentiment"].tolist() == expected


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [
        ("spam", ["spam", "ham", "not spam"], [1, 0, 0]),
        ("label", ["1", "0", "1"], [1, 0, 1]),
        ("Spam/Ham", ["spam", "ham", ""], [1, 0, -1]),
        ("v1", ["ham", "spam", "ham"], [0, 1, 0]),
        ("class", ["spam", "ham", "spam"], [1, 0, 1]),
    ],
)
def test_spam_label_columns(tmp_path, column, values, expected):
    texts = [t for _, t in _sms_rows()][:3]
    path = tmp_path / "l.csv"
    pd.DataFrame({"text": texts, column: values}).to_csv(path, index=False)
    m = load_messages(path)
    assert m["user_spam"].tolist() == expected and (m["user_sentiment"] == -1).all()


def test_label_columns_override(tmp_path):
    texts = [t for _, t in _sms_rows()][:4]
    path = tmp_path / "o.csv"
    pd.DataFrame(
        {"text": texts, "a": ["spam", "ham", "spam", "ham"], "b": ["1", "0", "2", "2"]}
    ).to_csv(path, index=False)
    m = load_messages(path, label_columns={"spam": "a", "sentiment": "b"})
    assert m["user_spam"].tolist() == [1, 0, 1, 0]
    assert m["user_sentiment"].tolist() == [1, 0, 2, 2]
    with pytest.raises(InputError, match="no column 'zzz' for the spam labels"):
        load_collection(path, label_columns={"spam": "zzz"})


def test_kind_column_and_keyword(tmp_path):
    texts = [t for _, t in _sms_rows()][:3]
    path = tmp_path / "k.csv"
    pd.DataFrame({"text": texts, "kind": ["sms", "tweet", "email"]}).to_csv(path, index=False)
    assert load_messages(path)["kind"].tolist() == ["sms", "tweet", "email"]
    assert load_messages(path, kind="text")["kind"].tolist() == ["text"] * 3
    with pytest.raises(InputError, match="unknown kind"):
        load_collection(path, kind="fax")


def _export_frame(texts: list[str]) -> pd.DataFrame:
    n = len(texts)
    return pd.DataFrame(
        {
            "id": [f"m{i}" for i in range(n)],
            "source": ["inbox.mbox::" + str(i + 1) for i in range(n)],
            "kind": ["email", "sms", "tweet", "text"] * (n // 4) + ["text"] * (n % 4),
            "subject": ["=SUM(A1)", "+1", "", "@home"] * (n // 4) + [""] * (n % 4),
            "sender": ["-x <a@b>", "", "'=already quoted", ""] * (n // 4) + [""] * (n % 4),
            "date": ["2002-08-22T18:26:25+07:00"] * n,
            "text": texts,
            "spam": ["spam", "ham", "spam", ""] * (n // 4) + [""] * (n % 4),
            "spam_score": ["0.9", "0.1", "0.8", ""] * (n // 4) + [""] * (n % 4),
            "spam_by": ["user", "model", "user", ""] * (n // 4) + [""] * (n % 4),
            "sentiment": ["negative", "neutral", "positive", "neutral"] * (n // 4)
            + ["neutral"] * (n % 4),
            "sentiment_score": ["0.5"] * n,
            "sentiment_by": ["model", "user", "user", "model"] * (n // 4) + ["model"] * (n % 4),
            "cluster": ["1"] * n,
            "cluster_terms": ["win; prize"] * n,
            "corrected": ["true", "false", "true", "false"] * (n // 4) + ["false"] * (n % 4),
            "model_version": ["spam=1;sentiment=1"] * n,
        }
    )


@pytest.mark.parametrize("spreadsheet_safe", [False, True])
def test_triage_export_round_trips(tmp_path, spreadsheet_safe):
    texts = [t for _, t in _sms_rows()][:8]
    texts[0] = "=cmd|' /C calc'!A0"
    texts[1] = '-5 degrees\tand\nnew lines, "quotes"'
    texts[2] = "'=starts with a quote already"
    frame = _export_frame(texts)
    path = tmp_path / "export.csv"
    export.write_csv(frame, path, spreadsheet_safe=spreadsheet_safe)  # the real exporter
    raw = path.read_text("utf-8")
    if spreadsheet_safe:
        assert "'=SUM(A1)" in raw and "'=cmd" in raw and "''=starts" in raw
    else:
        assert "'=cmd" not in raw and "''=starts" not in raw and "'=starts" in raw
    result = load_collection(path)
    m = result.messages
    for name in ("id", "source", "kind", "subject", "sender", "date", "text"):
        assert m[name].tolist() == frame[name].tolist(), name
    assert m["user_spam"].tolist() == [1, -1, 1, -1, 1, -1, 1, -1]  # only *_by == user
    assert m["user_sentiment"].tolist() == [-1, 1, 2, -1, -1, 1, 2, -1]
    assert list(result.extra.columns) == []  # no original columns beyond Triage's own


def test_classify_output_predictions_are_not_labels(tmp_path):
    texts = [t for _, t in _sms_rows()][:4]
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "source": ["x.csv"] * 4,
            "kind": ["sms"] * 4,
            "text": texts,
            "spam": ["spam", "ham", "ham", "spam"],
            "spam_score": ["0.9", "0.2", "0.1", "0.7"],
            "sentiment": ["neutral"] * 4,
            "sentiment_score": ["0.6"] * 4,
            "cluster": ["0"] * 4,
            "cluster_terms": ["x"] * 4,
            "my_note": ["n1", "", "n3", "=1+1"],
        }
    )
    path = tmp_path / "classified.csv"
    export.write_csv(frame, path)
    result = load_collection(path)
    assert (result.messages["user_spam"] == -1).all()
    assert (result.messages["user_sentiment"] == -1).all()
    assert result.messages["id"].tolist() == ["a", "b", "c", "d"]
    assert result.extra["my_note"].fillna("").tolist() == ["n1", "", "n3", "=1+1"]


def test_utf8_bom_utf16_and_gzip(tmp_path):
    rows = _sms_rows()[:6]
    text = "text,label\n" + "".join(
        f'"{t.replace(chr(34), 2 * chr(34))}",{lab}\n' for lab, t in rows
    )
    expected = [t for _, t in rows]
    for name, data in {
        "bom.csv": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "u16.csv": text.encode("utf-16"),
        "z.csv.gz": gzip.compress(text.encode("utf-8")),
        "crlf.csv": text.replace("\n", "\r\n").encode(),
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = load_collection(path)
        assert result.messages["text"].tolist() == expected, name
        assert list(result.extra.columns) == ["text", "label"], name
        assert result.messages["source"].iloc[0] == str(path)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_with_multiline_fields(tmp_path, delimiter):
    rows = _sms_rows()[:10]
    texts = [t + "\nsecond line, with; a | pipe" for _, t in rows]
    path = tmp_path / "d.txt.csv"
    pd.DataFrame({"message": texts, "spam": [lab for lab, _ in rows]}).to_csv(
        path, sep=delimiter, index=False
    )
    m = load_messages(path)
    assert m["text"].tolist() == texts
    assert m["user_spam"].tolist() == [int(lab == "spam") for lab, _ in rows]


def test_inspect_table():
    preview = inspect_table(FIX / "sms" / "sms_labelled.csv", nrows=5)
    assert preview.columns == ["message", "label"]
    assert len(preview.rows) == 5 and preview.delimiter == ","
    assert preview.has_header and preview.encoding == "utf-8"
    assert preview.text_column == "message" and preview.label_columns == {"spam": "label"}
    preview = inspect_table(SMS_TSV)
    assert preview.delimiter == "\t" and preview.quoting == "none" and not preview.has_header
    assert preview.kind == "sms"
    preview = inspect_table(FIX / "qt" / "two_text_columns.csv")
    assert preview.text_column is None and set(preview.text_candidates) == {"original", "reply"}


def test_chunks_equal_whole_load(tmp_path):
    rows = _sms_rows()
    path = tmp_path / "many.csv"
    pd.DataFrame({"text": [t for _, t in rows] * 5, "label": [lab for lab, _ in rows] * 5}).to_csv(
        path, index=False
    )
    whole = load_collection(path)
    chunks = list(iter_collection_chunks(path, chunksize=37))
    assert [len(c.messages) for c in chunks] == [37] * 5 + [15]
    joined = pd.concat([c.messages for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole.messages)
    joined_gz = tmp_path / "many.csv.gz"
    joined_gz.write_bytes(gzip.compress(path.read_bytes()))
    chunks = list(iter_collection_chunks(joined_gz, chunksize=100))
    assert sum(len(c.messages) for c in chunks) == len(whole.messages)
    assert chunks[0].messages["text"].tolist() == whole.messages["text"].tolist()[:100]


def test_fill_ids_inline_hash_matches_content_id():
    texts = pd.Series(["a", "", "é\u2019 ☃", "x\U0001f600y"], dtype=STRING_DTYPE)
    empty = pd.Series([""] * 4, dtype=STRING_DTYPE)
    assert fill_ids(None, empty, texts).tolist() == [content_id("", t) for t in texts]
    ids = fill_ids(pd.Series(["k", "", " ", "z"], dtype=STRING_DTYPE), empty, texts)
    assert ids.tolist() == ["k", content_id("", ""), content_id("", "é\u2019 ☃"), "z"]
    assert make_frame({"text": texts})["id"].tolist() == fill_ids(None, empty, texts).tolist()


# ----------------------------------------------------------------------------- hypothesis

# Any text, with the separators and quotes of every dialect well represented; C0 control
# characters other than tab/CR/LF are left out (text made of them is refused as binary).
_text = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cs", "Cc")),
        st.sampled_from(list(",;|\t\r\n\"' ")),
    ),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() != "")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(_text, min_size=1, max_size=12))
def test_csv_round_trip_pandas(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("h") / "p.csv"
    # QUOTE_ALL: with its default quoting pandas writes a lone CR unquoted ("0\r,spam"),
    # which every CSV reader takes for a line end.
    frame = pd.DataFrame({"text": texts, "spam": ["spam"] * len(texts)})
    frame.to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    m = load_messages(path)
    assert m["text"].tolist() == texts
    assert m["user_spam"].tolist() == [1] * len(texts)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(_text, min_size=1, max_size=12), delimiter=st.sampled_from([",", "\t", ";"]))
# Tab-separated, named .csv, a comma in every text: the header decides the delimiter.
@example(texts=[",", ",", ",", ","], delimiter="\t")
def test_csv_round_trip_csv_module(tmp_path_factory, texts, delimiter):
    path = tmp_path_factory.mktemp("h") / "c.csv"
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter)  # QUOTE_MINIMAL, "\r\n" line ends
    writer.writerow(["id", "text"])
    writer.writerows([[str(i), t] for i, t in enumerate(texts)])
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    m = load_messages(path)
    assert m["text"].tolist() == texts
    assert m["id"].tolist() == [str(i) for i in range(len(texts))]


def test_chunks_with_a_character_cut_by_the_sniffing_window(tmp_path):
    rows = [t.replace('"', "") for _, t in _sms_rows()]
    # The 64 kB sniffing window (bytes 0..65535) ends inside a two-byte "é".
    n = 60_000
    prefix = b'text\n"' + b"a" * n + b'"\n"'
    if (65_535 - len(prefix)) % 2:
        prefix = prefix.replace(b"a" * n, b"a" * (n + 1))
    data = prefix + "é".encode() * 4000 + b'"\n' + "\n".join(f'"{t}"' for t in rows * 20).encode()
    assert data[65_535:65_537] == "é".encode()
    path = tmp_path / "cut.csv"
    path.write_bytes(data + b"\n")
    whole = load_collection(path)
    assert whole.messages["text"].iloc[1] == "é" * 4000 and not whole.problems
    chunked = list(iter_collection_chunks(path, chunksize=500))
    assert [t for c in chunked for t in c.messages["text"]] == whole.messages["text"].tolist()
    assert all(c.encodings.get(str(path)) == "utf-8" for c in chunked)
