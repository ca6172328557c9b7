"""The `triage` command-line contract: classify / evaluate / train, exit codes, no debris."""

import csv
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from guiapp.cli import main
from guiapp.core.io import load_collection
from guiapp.core.pipeline import CLASSIFY_COLUMNS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "guiapp", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    "source",
    [
        "sms/sms_labelled.csv",
        "tweets/tweets.jsonl",
        "email/spamassassin.mbox",
        "email/spamassassin",  # a folder of raw RFC-822 files
    ],
)
def test_classify_contract(tmp_path, source):
    out = tmp_path / "out.csv"
    result = run("classify", FIXTURES / source, "-o", out, "--quiet")
    assert result.returncode == 0, result.stderr
    rows = read(out)
    header = list(rows[0].keys())
    assert tuple(header[: len(CLASSIFY_COLUMNS)]) == CLASSIFY_COLUMNS
    expected = load_collection(FIXTURES / source).messages
    # Rows keep input order (folder: sorted by path; mbox: file order).
    assert [r["id"] for r in rows] == expected["id"].tolist()
    assert {r["spam"] for r in rows} <= {"spam", "ham"}
    assert {r["sentiment"] for r in rows} <= {"negative", "neutral", "positive"}
    for r in rows:
        assert 0.0 <= float(r["spam_score"]) <= 1.0
        assert 1 / 3 - 1e-4 <= float(r["sentiment_score"]) <= 1.0
        assert (float(r["spam_score"]) >= 0.5) == (r["spam"] == "spam")


def test_classify_finds_the_spam_in_real_mail(tmp_path):
    out = tmp_path / "out.csv"
    assert run("classify", FIXTURES / "email/spamassassin", "-o", out, "--quiet").returncode == 0
    rows = read(out)
    truth = [
        "spam" if "/spam-1/" in r["source"] or "::spam-1/" in r["source"] else "ham" for r in rows
    ]
    correct = sum(r["spam"] == t for r, t in zip(rows, truth, strict=True))
    assert correct >= 0.9 * len(rows), (correct, len(rows))


def test_classify_clusters_and_original_columns(tmp_path):
    out = tmp_path / "out.csv"
    result = run(
        "classify", FIXTURES / "tweets/tweets.jsonl", "-o", out, "--clusters", "3", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    rows = read(out)
    assert {r["cluster"] for r in rows} - {""} <= {"0", "1", "2"}
    assert any(r["cluster_terms"] for r in rows)
    assert "input_sentiment" in rows[0]  # the file's own columns follow


def test_classify_parquet_output(tmp_path):
    out = tmp_path / "out.parquet"
    assert (
        main(["classify", str(FIXTURES / "sms/sms_labelled.csv"), "-o", str(out), "--quiet"]) == 0
    )
    table = pq.read_table(out)
    assert tuple(table.column_names[: len(CLASSIFY_COLUMNS)]) == CLASSIFY_COLUMNS
    assert table.num_rows == 30


def test_classify_streams_in_chunks_with_the_same_labels(tmp_path):
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    src = FIXTURES / "sms/SMSSpamCollection_sample.tsv"
    assert main(["classify", str(src), "-o", str(whole), "--clusters", "0", "--quiet"]) == 0
    assert (
        main(
            [
                "classify",
                str(src),
                "-o",
                str(chunked),
                "--clusters",
                "0",
                "--chunk-size",
                "7",
                "--quiet",
            ]
        )
        == 0
    )
    a, b = read(whole), read(chunked)
    assert [(r["id"], r["spam"], r["sentiment"]) for r in a] == [
        (r["id"], r["spam"], r["sentiment"]) for r in b
    ]


@pytest.mark.parametrize(
    "bad", ["bad/csv_empty.csv", "bad/csv_random_binary.csv", "bad/json_deeply_nested.json"]
)
def test_bad_input_exits_2_with_one_line_and_no_output(tmp_path, bad):
    out = tmp_path / "out.csv"
    result = run("classify", FIXTURES / bad, "-o", out, "--quiet")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("triage: ") and Path(bad).name in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_missing_input_and_bad_clusters(tmp_path, capsys):
    assert (
        main(["classify", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv"), "--quiet"])
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert (
        main(
            [
                "classify",
                str(FIXTURES / "sms/sms_labelled.csv"),
                "-o",
                str(tmp_path / "o.csv"),
                "--clusters",
                "many",
            ]
        )
        == 2
    )
    assert list(tmp_path.iterdir()) == []


def test_evaluate_prints_metrics_and_confusion(capsys):
    code = main(["evaluate", str(FIXTURES / "tweets/semeval_2016_sample.tsv"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "sentiment: 40 labelled messages" in out
    assert "macro recall" in out and "confusion matrix" in out
    for name in ("negative", "neutral", "positive"):
        assert name in out


def test_evaluate_with_a_named_label_column(capsys):
    code = main(
        ["evaluate", str(FIXTURES / "sms/sms_labelled.csv"), "--label-column", "label", "--quiet"]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("spam: 30 labelled messages")


def test_evaluate_without_labels_is_a_clear_error(capsys):
    assert main(["evaluate", str(FIXTURES / "tweets/tweets.json"), "--quiet"]) == 2
    assert "no labelled messages" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                str(FIXTURES / "sms/sms_labelled.csv"),
                "--label-column",
                "nope",
                "--quiet",
            ]
        )
        == 2
    )
    assert "no column 'nope'" in capsys.readouterr().err


def test_train_from_files_writes_a_card_checked_model(tmp_path, capsys):
    out = tmp_path / "models"
    code = main(
        [
            "train",
            "--spam",
            str(FIXTURES / "sms/sms_labelled.csv"),
            str(FIXTURES / "enron/enron_sample.csv"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    from guiapp.core.models import load_model

    model = load_model(out / "spam.npz")
    assert model.task == "spam"
    assert "sms_labelled.csv" in " ".join(model.card["training"]["files"])


def test_help_and_version():
    result = run("--help")
    assert result.returncode == 0 and "classify" in result.stdout
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("triage ")


def test_classify_keeps_texts_exact_and_announces_renames(tmp_path):
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["body", "text", "spam"])
        w.writerow(["=1+2 a formula-looking text", "-----BEGIN PGP", "yes"])
        w.writerow(["@someone hello there", "'=quoted", "no"])
    out = tmp_path / "out.csv"
    result = run("classify", src, "-o", out, "--text-column", "body", "--clusters", "0")
    assert result.returncode == 0, result.stderr
    rows = read(out)
    assert [r["text"] for r in rows] == ["=1+2 a formula-looking text", "@someone hello there"]
    assert [r["input_text"] for r in rows] == ["-----BEGIN PGP", "'=quoted"]
    assert [r["input_spam"] for r in rows] == ["yes", "no"]
    assert [r["body"] for r in rows] == [r["text"] for r in rows]  # not a clash: kept as is
    assert "the input's column 'text' is written as 'input_text'" in result.stderr
    assert "the input's column 'spam' is written as 'input_spam'" in result.stderr


def test_classify_does_not_repeat_the_text_column(tmp_path):
    out = tmp_path / "out.csv"
    result = run("classify", FIXTURES / "tweets/tweets.jsonl", "-o", out, "--clusters", "0")
    assert result.returncode == 0, result.stderr
    header = list(read(out)[0])
    assert "input_text" not in header and header.count("text") == 1
    assert "'text'" not in result.stderr and "written as 'input_sentiment'" in result.stderr


def test_classify_spreadsheet_safe_and_xlsx(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('message,=evil\n"=HYPERLINK(""http://x"")",+1\nhello,plain\n', "utf-8")
    safe = tmp_path / "safe.csv"
    assert main(["classify", str(src), "-o", str(safe), "--spreadsheet-safe", "--quiet"]) == 0
    raw = safe.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(safe, newline="", encoding="utf-8-sig") as fh:
        header, first, _ = list(csv.reader(fh))
    assert header[-1] == "'=evil" and first[-1] == "'+1"
    assert first[header.index("text")] == '\'=HYPERLINK("http://x")'
    book = tmp_path / "out.xlsx"
    assert main(["classify", str(src), "-o", str(book), "--clusters", "0", "--quiet"]) == 0
    import openpyxl

    sheet = openpyxl.load_workbook(book, read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert tuple(values[0][: len(CLASSIFY_COLUMNS)]) == CLASSIFY_COLUMNS
    assert values[0][-1] == "=evil" and values[1][-1] == "+1"  # string cells, never formulas
    assert values[1][CLASSIFY_COLUMNS.index("text")] == '=HYPERLINK("http://x")'
    assert isinstance(values[1][CLASSIFY_COLUMNS.index("spam_score")], str)


def test_ambiguous_column_error_names_the_option_on_a_clean_line(tmp_path):
    src = FIXTURES / "qt/two_text_columns.csv"
    result = run("classify", src, "-o", tmp_path / "o.csv")  # with the progress bar
    assert result.returncode == 2
    last = result.stderr.rstrip("\n").split("\n")[-1]
    # What a terminal shows: the text after the last carriage return of the line.
    shown = last.split("\r")[-1]
    assert shown.startswith("triage: ") and "two_text_columns.csv" in shown, repr(last)
    assert "--text-column" in shown and "'original'" in shown and "'reply'" in shown
    assert list(tmp_path.iterdir()) == []
