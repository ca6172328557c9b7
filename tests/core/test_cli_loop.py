"""The learning loop on the command line: import, label, retrain, versions, classify
--project, export -- the same core the window calls."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from guiapp.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def sms(tmp_path) -> tuple[Path, list[tuple[str, str]]]:
    rows = [
        line.rstrip("\n").split("\t", 1)
        for line in open(FIXTURES / "models" / "sms.tsv", encoding="utf-8")
    ]
    path = tmp_path / "sms.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["message"])
        writer.writerows([t] for _, t in rows)
    return path, rows


def test_the_loop_end_to_end(tmp_path, sms, capsys):
    path, rows = sms
    project = tmp_path / "p.triage"
    shipped_out = tmp_path / "shipped.csv"
    assert main(["classify", str(path), "-o", str(shipped_out), "--quiet"]) == 0
    shipped = pd.read_csv(shipped_out, dtype=str, keep_default_na=False)
    assert set(shipped["model_version"]) == {"sentiment=shipped;spam=shipped"}

    assert main(["import", str(path), "--project", str(project), "--quiet"]) == 0
    assert main(["import", str(path), "--project", str(project), "--quiet"]) == 2
    assert "exists already" in capsys.readouterr().err

    # labels by the ids classify wrote (the same ids as the project's), the user's view
    # inverted (so that a retrain must move), plus an id that matches nothing
    labels = tmp_path / "labels.csv"
    truth = {text: label for label, text in rows}
    with open(labels, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "spam"])
        for _, row in shipped.iloc[:150].iterrows():
            writer.writerow([row["id"], "ham" if truth[row["text"]] == "spam" else "spam"])
        writer.writerow(["h:nothing", "spam"])
    capsys.readouterr()
    assert main(["label", str(project), "--from", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "spam: 150 labels set" in out and "1 ids match no message" in out
    assert "h:nothing" in out

    assert main(["retrain", str(project), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "sentiment: no labels, not retrained" in out
    assert "new version spam-1, adapted from shipped" in out
    assert "cross-validation" in out and "unlabelled messages changed label" in out

    assert main(["versions", str(project), "--task", "spam"]) == 0
    out = capsys.readouterr().out
    assert "* spam      spam-1" in out and "retrained here on 150 labels" in out
    assert "shipped with Triage" in out

    mine = tmp_path / "mine.csv"
    args = ["classify", str(path), "--project", str(project), "-o", str(mine), "--quiet"]
    assert main(args) == 0
    ours = pd.read_csv(mine, dtype=str, keep_default_na=False)
    assert set(ours["model_version"]) == {"sentiment=shipped;spam=p:spam-1"}
    assert (ours["id"] == shipped["id"]).all()
    held = ours.iloc[150:]
    flipped = held["text"].map(lambda t: "ham" if truth[t] == "spam" else "spam")
    assert (held["spam"] == flipped).mean() > (shipped.iloc[150:]["spam"] == flipped).mean() + 0.3
    # the shipped models are unchanged by a project's retrain
    again = tmp_path / "again.csv"
    assert main(["classify", str(path), "-o", str(again), "--quiet"]) == 0
    assert pd.read_csv(again, dtype=str)["spam"].equals(shipped["spam"])

    exported = tmp_path / "labelled.csv"
    assert (
        main(["export", str(project), "-o", str(exported), "--scope", "labelled", "--quiet"]) == 0
    )
    table = pd.read_csv(exported, dtype=str, keep_default_na=False)
    assert len(table) == 150 and set(table["spam_by"]) == {"user"}

    assert main(["versions", str(project), "--task", "spam", "--use", "shipped"]) == 0
    assert "spam: now using shipped" in capsys.readouterr().out


def test_label_errors_name_the_file_and_the_line(tmp_path, sms, capsys):
    path, _ = sms
    project = tmp_path / "p.triage"
    assert main(["import", str(path), "--project", str(project), "--quiet"]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("text,spam\nhello,maybe\n", encoding="utf-8")
    assert main(["label", str(project), "--from", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "line 2" in err and "'maybe' is not a spam label" in err
    none = tmp_path / "none.csv"
    none.write_text("message,spam\nhello,spam\n", encoding="utf-8")
    assert main(["label", str(project), "--from", str(none)]) == 2
    assert "needs an 'id' or a 'text' column" in capsys.readouterr().err
    assert main(["retrain", str(tmp_path / "missing.triage")]) == 2
    assert "no such project file" in capsys.readouterr().err
