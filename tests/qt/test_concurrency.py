"""Edits made while background work runs are kept; a result that comes back after the user
moved on is applied only where it still belongs, never over newer edits.

- re-grouping themes (a child process) while the user labels: the themes arrive, every
  label made meanwhile stays, in memory and on disk;
- importing a file (a child process, then the window switches to the new project) while the
  user labels the open one: those labels are in the old project's file;
- a late result after the user opened another project: dropped (themes, predictions), the
  other project untouched.

(Retraining while labelling -- the edits kept and the report naming the edit its labels
stop at -- is in test_retrain.py.)
"""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest
from qt_helpers import SMS, WAIT, make_window
from store_helpers import labelled_project

from guiapp.core import session
from guiapp.core.messages import TASKS
from guiapp.core.project import Project


def saved(path) -> dict[str, np.ndarray]:
    """The labels in the project file, read through a second connection."""
    conn = sqlite3.connect(path)
    try:
        n = conn.execute("SELECT value FROM meta WHERE key='n_messages'").fetchone()[0]
        out = {t: np.full(int(n), -1, dtype=np.int8) for t in TASKS}
        for task, row, value in conn.execute("SELECT task, row, value FROM labels"):
            out[task][row] = value
    finally:
        conn.close()
    return out


@pytest.fixture
def window(qtbot, settings, tmp_path):
    path = labelled_project(tmp_path / "open.triage")
    window = make_window(qtbot, settings)
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.open_project(path)
    yield window
    window.close()


def test_labels_set_while_themes_regroup_are_kept(qtbot, window):
    c = window.collection
    unlabelled_at_start = int((~c.labelled_by_user()).sum())
    window.recluster(4)
    assert window.runner.is_running("cluster")
    # The user keeps going: a key, a 100-row bulk edit, an undo, another key.
    window.label_rows("spam", [200], 1)
    window.label_rows("sentiment", np.arange(100, 200), 2)
    window.label_rows("spam", [201], 0)
    window.act_undo.trigger()
    window.label_rows("spam", [202], 0)
    expected = {t: c.user[t].copy() for t in TASKS}
    revision = c.revision
    assert window.runner.is_running("cluster")  # all of it happened during the run
    with qtbot.waitSignal(window.clustering_applied, timeout=WAIT):
        pass
    # fitted on what was unlabelled when it started; every row with a word of the themes'
    # vocabulary (not "Ok...") assigned one
    assert c.clustering.k == 4 and np.array_equal(c.cluster, c.clustering.labels)
    assert (c.cluster >= 0).mean() > 0.9
    unlabelled_now = int((~c.labelled_by_user()).sum())
    assert unlabelled_now < c.clustering.fitted_rows <= unlabelled_at_start
    assert c.revision == revision
    for t in TASKS:
        assert np.array_equal(c.user[t], expected[t])
    disk = saved(window.project.path)
    for t in TASKS:
        assert np.array_equal(disk[t], expected[t])
    assert c.user["spam"][[200, 201, 202]].tolist() == [1, -1, 0]
    assert (c.user["sentiment"][100:200] == 2).all()
    assert window.project.edit_count() == 2 + 5


def test_labels_set_during_an_import_stay_in_the_project_they_were_made_in(qtbot, window):
    old = window.project
    window.open_paths([str(SMS)])  # a new project, built in a child process
    assert window.runner.is_running("open")
    window.label_rows("spam", np.arange(0, 50), 1)
    window.label_rows("sentiment", [299], 0)
    assert window.runner.is_running("open")  # labelled while the import ran
    expected = {t: old.collection.user[t].copy() for t in TASKS}
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        pass
    new = window.project
    assert new is not old and new.path != old.path
    assert not new.collection.labelled_by_user().any()  # nothing leaked into the new one
    reopened = Project.open(old.path, read_only=True)
    try:
        for t in TASKS:
            assert np.array_equal(reopened.collection.user[t], expected[t])
        assert (reopened.collection.user["spam"][:50] == 1).all()
        assert reopened.edit_count() == 2 + 2
    finally:
        reopened.close()


def gate(monkeypatch, name: str):
    """Make ``session.<name>`` wait for a test's go-ahead, ignoring stop requests (a late
    result is what is being tested), then do the real work; runs on a pool thread."""
    real = getattr(session, name)
    go = threading.Event()
    started = threading.Event()

    def gated(*args, on_progress=None, stop_requested=None, **kwargs):
        started.set()
        go.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(session, name, gated)
    return started, go


@pytest.mark.parametrize("kind", ["cluster", "predict"])
def test_a_late_result_after_opening_another_project_is_dropped(
    qtbot, window, tmp_path, monkeypatch, kind
):
    window.runner.use_processes = False  # the gate lives in this process
    applied = []
    for name in ("apply_clustering", "apply_predictions"):
        real = getattr(session, name)
        monkeypatch.setattr(
            session, name, lambda *a, _real=real, _n=name: (applied.append(_n), _real(*a))[1]
        )
    started, go = gate(monkeypatch, "cluster" if kind == "cluster" else "predict")
    first = window.project
    if kind == "cluster":
        window.recluster(3)
    else:
        window.predict_all()
    qtbot.waitUntil(started.is_set, timeout=WAIT)

    other = labelled_project(tmp_path / "other.triage")
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.open_project(other)
    second = window.project
    assert second is not first and second.path == other
    cluster = second.collection.cluster.copy()
    spam_prob = second.collection.spam_prob.copy()
    window.label_rows("spam", [7], 1)  # the user is working in the other project now
    go.set()  # the old project's result arrives late
    qtbot.waitUntil(lambda: window.runner.active_count() == 0, timeout=WAIT)
    qtbot.wait(50)
    assert applied == []
    c = second.collection
    assert np.array_equal(c.cluster, cluster) and c.clustering is None
    assert np.array_equal(c.spam_prob, spam_prob, equal_nan=True)
    assert c.user["spam"][7] == 1 and saved(other)["spam"][7] == 1
    assert not window.notifier.shown  # nothing went wrong, nothing to say
