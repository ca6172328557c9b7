"""Confirming is not correcting: a label equal to the model's prediction is a confirmation,
kept apart from corrections in memory, on disk, through undo and in the export."""

import csv

import numpy as np

from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.export import export_csv
from guiapp.core.messages import make_frame
from guiapp.core.project import Project

# Real SMS Spam Collection texts (tests/fixtures/README.md).
TEXTS = [
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121",
    "Ok lar... Joking wif u oni...",
    "U dun say so early hor... U c already then say...",
    "WINNER!! As a valued network customer you have been selected to receivea £900 prize reward!",
]


def predicted_collection():
    c = Collection(make_frame({"text": TEXTS, "kind": ["sms"] * 4, "user_spam": [-1, -1, -1, 0]}))
    c.spam_prob[:] = [0.97, 0.03, 0.10, 0.91]  # the model: spam, ham, ham, spam
    return c


def test_a_label_the_model_predicted_is_a_confirmation(tmp_path):
    c = predicted_collection()
    project = Project.create(tmp_path / "p.triage", c)
    project.apply(set_label(c, "spam", [1, 2], "ham"))  # the model said ham: confirmed
    project.apply(set_label(c, "spam", [0], "ham"))  # the model said spam: corrected
    assert c.confirmed["spam"].tolist() == [False, True, True, False]
    assert c.corrected["spam"].tolist() == [True, False, False, False]
    assert c.any_confirmed().tolist() == [False, True, True, False]
    project.close()
    again = Project.open(tmp_path / "p.triage")
    r = again.collection
    assert r.confirmed["spam"].tolist() == [False, True, True, False]
    assert r.corrected["spam"].tolist() == [True, False, False, False]
    assert r.user["spam"].tolist() == [0, 0, 0, 0]  # row 3: the imported label, neither
    out = tmp_path / "x.csv"
    export_csv(r, out)
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["corrected"] for row in rows] == ["true", "false", "false", "false"]
    assert [row["spam_by"] for row in rows] == ["user", "user", "user", "user"]
    again.close()


def test_undo_restores_confirmed_and_corrected():
    c = predicted_collection()
    undo_confirm = set_label(c, "spam", [1], "ham").apply_to(c)
    undo_correct = set_label(c, "spam", [1], "spam").apply_to(c)  # then changed their mind
    assert c.corrected["spam"][1] and not c.confirmed["spam"][1]
    undo_correct.apply_to(c)
    assert c.confirmed["spam"][1] and not c.corrected["spam"][1]
    undo_confirm.apply_to(c)
    assert not c.confirmed["spam"][1] and not c.corrected["spam"][1] and c.user["spam"][1] == -1


def test_clearing_a_confirmation_is_neither_and_without_a_model_a_label_is_a_correction():
    c = predicted_collection()
    set_label(c, "spam", [1], "ham").apply_to(c)
    clear = set_label(c, "spam", [1, 3], None)
    # row 1: own confirmation cleared -> neither; row 3: imported label removed -> correction.
    assert clear.corrected.tolist() == [False, True] and not clear.confirmed.any()
    c.sentiment_prob[:] = np.nan  # no sentiment prediction yet
    cmd = set_label(c, "sentiment", [0], "positive")
    assert cmd.corrected.tolist() == [True] and cmd.confirmed.tolist() == [False]
