"""The project store and label commands: durability, undo, reopen, damage and recovery."""

import sqlite3

import numpy as np
import pytest

from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.errors import Cancelled, ProjectError
from guiapp.core.messages import make_frame
from guiapp.core.project import Project, backup_path, check_file, recover

TEXTS = [
    "Free entry in 2 a wkly comp to win FA Cup final tkts",
    "Ok lar... Joking wif u oni...",
    'quotes "inside", commas, and\nnewlines',
    "Ünïcödé ✓ 😀 — mixed scripts: Ελληνικά, 日本語",
    "=cmd|' /C calc'!A0",
    "",
]


def make_collection(n=None):
    texts = (
        TEXTS if n is None else [f"message number {i} {TEXTS[i % len(TEXTS)]}" for i in range(n)]
    )
    frame = make_frame(
        {
            "text": texts,
            "kind": ["sms"] * len(texts),
            "user_spam": [1] + [-1] * (len(texts) - 1),
        }
    )
    return Collection(frame)


def test_labels_are_arrays_and_imported_labels_are_not_corrections():
    c = make_collection()
    assert c.user["spam"].tolist() == [1, -1, -1, -1, -1, -1]
    assert not c.corrected["spam"].any()
    assert list(c.messages.columns) == ["id", "source", "kind", "subject", "sender", "date", "text"]


def test_set_label_and_inverse_round_trip():
    c = make_collection()
    cmd = set_label(c, "sentiment", [3, 1, 1], "positive")
    assert cmd.rows.tolist() == [1, 3]
    assert cmd.text == "mark 2 messages as positive"
    inverse = cmd.apply_to(c)
    assert c.user["sentiment"][[1, 3]].tolist() == [2, 2]
    assert c.corrected["sentiment"][[1, 3]].all()
    redo = inverse.apply_to(c)
    assert (c.user["sentiment"] == -1).all() and not c.corrected["sentiment"].any()
    redo.apply_to(c)
    assert c.user["sentiment"][[1, 3]].tolist() == [2, 2]


def test_clearing_labels_marks_what_the_user_did():
    c = make_collection()
    set_label(c, "spam", [1], "ham").apply_to(c)
    cmd = set_label(c, "spam", [0, 1, 2], None)
    assert cmd.text == "clear the spam label of 3 messages"
    # row 0: imported label removed -> correction; row 1: own label cleared -> not; row 2: nothing.
    assert cmd.corrected.tolist() == [True, False, False]


def test_bad_label_values_are_refused():
    c = make_collection()
    with pytest.raises(ValueError, match="not a spam label"):
        set_label(c, "spam", [0], "positive")
    with pytest.raises(IndexError):
        set_label(c, "spam", [99], "spam")


def test_project_create_apply_reopen(tmp_path):
    path = tmp_path / "p.triage"
    c = make_collection()
    c.spam_prob[:] = np.linspace(0, 1, len(c), dtype=np.float32)
    c.model_versions["spam"] = "shipped-1"
    project = Project.create(path, c)
    inverse = project.apply(set_label(c, "spam", [2, 3], "spam"))
    project.apply(set_label(c, "sentiment", [4], "negative"))
    project.apply(inverse)  # undo the first
    project.close()

    reopened = Project.open(path)
    r = reopened.collection
    assert r.messages["text"].tolist() == TEXTS
    assert r.user["spam"].tolist() == [1, -1, -1, -1, -1, -1]
    assert r.user["sentiment"].tolist() == [-1, -1, -1, -1, 0, -1]
    assert r.corrected["sentiment"][4] and not r.corrected["spam"].any()
    np.testing.assert_array_equal(r.spam_prob, c.spam_prob)
    assert r.model_versions == {"spam": "shipped-1"}
    assert [h[3] for h in reopened.edit_history()] == [
        "undo mark 2 messages as spam",
        "mark 1 message as negative",
        "mark 2 messages as spam",
    ]
    reopened.close()


def test_edits_are_durable_without_close(tmp_path):
    """What apply() returned from is on disk: read it through a second connection."""
    path = tmp_path / "p.triage"
    c = make_collection(1000)
    project = Project.create(path, c)
    project.apply(set_label(c, "spam", np.arange(0, 1000, 2), "spam"))
    other = sqlite3.connect(path)
    count = other.execute("SELECT count(*) FROM labels WHERE task='spam' AND value=1").fetchone()[0]
    other.close()
    assert count == 500
    project.close()


def test_append_and_arrays(tmp_path):
    path = tmp_path / "p.triage"
    project = Project.create(path, make_collection())
    more = make_collection(250_001)
    rows = project.append(more)
    assert rows[0] == len(TEXTS) and len(project.collection) == len(TEXTS) + 250_001
    project.collection.cluster[:] = 7
    project.save_arrays()
    project.save_named_arrays("clustering", {"centroids": np.eye(3, dtype=np.float32)})
    project.save_json("clustering", {"k": 3})
    project.close()
    p = Project.open(path)
    assert len(p.collection) == len(TEXTS) + 250_001
    assert p.collection.messages["text"].iloc[-1] == more.messages["text"].iloc[-1]
    assert p.collection.user["spam"][len(TEXTS)] == 1  # the appended collection's imported label
    assert (p.collection.cluster == 7).all()
    np.testing.assert_array_equal(p.load_named_arrays("clustering")["centroids"], np.eye(3))
    assert p.load_json("clustering") == {"k": 3}
    p.close()


def test_cancelled_create_leaves_nothing(tmp_path):
    path = tmp_path / "p.triage"
    with pytest.raises(Cancelled):
        Project.create(path, make_collection(250_000), stop_requested=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_garbage_and_truncated_files_are_refused_untouched(tmp_path):
    path = tmp_path / "p.triage"
    Project.create(path, make_collection(5000)).close()
    data = path.read_bytes()
    truncated = tmp_path / "t.triage"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "g.triage"
    garbage.write_bytes(b"PK\x03\x04 not a project at all" * 10)
    for bad in (truncated, garbage):
        before = bad.read_bytes()
        with pytest.raises(ProjectError) as info:
            Project.open(bad)
        assert str(bad) in str(info.value)
        assert bad.read_bytes() == before


def test_corrupt_project_recovers_from_backup(tmp_path):
    path = tmp_path / "p.triage"
    c = make_collection(3000)
    project = Project.create(path, c)
    project.apply(set_label(c, "spam", [5, 6], "spam"))
    project.close()
    Project.open(path).close()  # a clean open writes the backup
    assert backup_path(path).exists()
    # Damage a page in the middle of the file.
    raw = bytearray(path.read_bytes())
    raw[4096 : 4096 + 2048] = b"\xff" * 2048
    path.write_bytes(bytes(raw))
    damaged = path.read_bytes()
    with pytest.raises(ProjectError):
        check_file(path)
    recovered = recover(path)
    assert recovered.path != path and "recovered" in recovered.path.name
    assert recovered.collection.user["spam"][[5, 6]].tolist() == [1, 1]
    recovered.close()
    assert path.read_bytes() == damaged


@pytest.mark.parametrize(
    "pragma, reason",
    [("PRAGMA max_page_count=1", "disk is full"), ("PRAGMA query_only=1", "read-only")],
)
def test_full_disk_or_read_only_leaves_saved_work_and_memory_alone(tmp_path, pragma, reason):
    path = tmp_path / "p.triage"
    c = make_collection(2000)
    project = Project.create(path, c)
    project.apply(set_label(c, "spam", [1, 2], "spam"))
    project._conn.execute(pragma)  # SQLite's own "full" / "read-only" errors
    with pytest.raises(ProjectError, match=reason):
        project.apply(set_label(c, "spam", np.arange(100, 2000), "ham"))
    # Memory matches the disk: the failed edit is nowhere.
    assert (c.user["spam"][100:] == -1).all()
    project.close()
    reopened = Project.open(path)
    assert reopened.collection.user["spam"][[1, 2]].tolist() == [1, 1]
    assert (reopened.collection.user["spam"][100:] == -1).all()
    reopened.close()
