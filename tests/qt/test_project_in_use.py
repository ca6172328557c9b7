"""The window over a project another Triage has open (told who, offered a read-only view
that changes nothing), and over a project whose stored values cannot be (the damaged
project's Recover path, never a crash in the table's paint)."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest
from qt_helpers import WAIT, make_window
from store_helpers import labelled_project

import guiapp.core.models  # noqa: F401 - before any window: see below
from guiapp.core import checksums
from guiapp.core.commands import set_label
from guiapp.core.project import Project
from guiapp.qt.table_model import COLUMN_INDEX, LabelCodeRole

# guiapp.core.models is imported above so that these tests are about the lock and the
# checks only: a window's open thread and its warm-up thread importing scikit-learn at once
# is the start-up race of issue 14 item 3, fixed on its own.


def saved_labels(path, task: str) -> dict[int, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT row, value FROM labels WHERE task=?", (task,)))
    finally:
        conn.close()


def wait_box(qtbot, window, count: int):
    qtbot.waitUntil(lambda: len(window.notifier.shown) >= count, timeout=WAIT)
    return window.notifier.shown[count - 1]


def test_a_project_in_use_is_offered_read_only_and_nothing_changes(qtbot, settings, tmp_path):
    path = labelled_project(tmp_path / "shared.triage")
    holder = Project.open(path)  # "another Triage" (the lock is per open, not per process)
    try:
        window = make_window(qtbot, settings)
        window.open_project(path)
        box = wait_box(qtbot, window, 1)
        assert box.windowTitle() == "Project is in use", box.text() + box.detailedText()
        assert str(path) in box.text() and f"process {os.getpid()}" in box.text()
        assert box.read_only_button.text() == "Open Read-Only"
        box.grab().save(str(tmp_path / "in-use.png"))
        assert window.project is None
        with qtbot.waitSignal(window.project_opened, timeout=WAIT):
            box.read_only_button.click()
        assert window.read_only and window.project.read_only
        assert "(read-only)" in window.windowTitle()
        assert window.collection.user["spam"][[3, 4]].tolist() == [1, 1]
        assert not any(a.isEnabled() for a in window.label_actions)
        assert not window.act_retrain.isEnabled() and not window.act_predict.isEnabled()
        assert window.act_export.isEnabled() and window.act_save_as.isEnabled()
        before = saved_labels(path, "sentiment")
        window.table.setFocus()
        window.act_select_all.trigger()
        qtbot.keyClick(window.table, "3")  # the "positive" key: nothing happens
        assert not window.label_rows("sentiment", np.arange(10), 2)
        assert (window.collection.user["sentiment"][:10] == -1).all()
        column = COLUMN_INDEX["sentiment"]
        shown = [window.model.index(r, column).data(LabelCodeRole) for r in range(10)]
        assert all(code != 2 for code in shown)
        assert saved_labels(path, "sentiment") == before
        assert window.editor.stack.count() == 0
        image = window.grab()
        assert image.width() > 200 and not image.toImage().isNull()
        image.save(str(tmp_path / "read-only.png"))
        # The holder's edits go on; the view took no lock and left nothing behind.
        holder.apply(set_label(holder.collection, "spam", [7], "spam"))
        assert saved_labels(path, "spam")[7] == 1
        window.close()
    finally:
        holder.close()
    Project.open(path).close()  # free again


@pytest.mark.parametrize("code", [5, 127, -100, 1000])
def test_a_label_code_out_of_range_gets_the_recover_path(qtbot, settings, tmp_path, code):
    """Once a segfault in the label delegate's paint (5, 127, -100) or "Unexpected error"
    (1000): now the damaged project's box, and its backup recovered."""
    path = labelled_project(tmp_path / "codes.triage")
    Project.open(path).close()  # a clean open keeps the backup
    conn = sqlite3.connect(path)
    checksums.register(conn)  # a write the checksum agrees with: the value check refuses it
    conn.execute("UPDATE labels SET value=? WHERE task='spam' AND row=3", (code,))
    conn.commit()
    conn.close()
    window = make_window(qtbot, settings)
    window.open_project(path)
    box = wait_box(qtbot, window, 1)
    assert box.windowTitle() == "Project is damaged"
    assert f"message 4 has spam label code {code}"  # row 3, counted from 1 in box.text()
    assert box.recover_button is not None
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        box.recover_button.click()
    assert "recovered" in window.project.path.name
    assert window.collection.user["spam"][[3, 4]].tolist() == [1, 1]
    window.table.viewport().grab()  # paints every visible label cell
    assert not [b for b in window.notifier.shown if b.windowTitle() == "Unexpected error"]
    window.close()


def test_save_as_never_replaces_a_project_open_elsewhere(qtbot, settings, tmp_path):
    mine = labelled_project(tmp_path / "mine.triage")
    theirs = labelled_project(tmp_path / "theirs.triage")
    window = make_window(qtbot, settings)
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.open_project(mine)
    holder = Project.open(theirs)
    try:
        before = theirs.read_bytes()
        window.save_project_to(theirs)
        box = wait_box(qtbot, window, 1)
        assert "cannot save a copy over it" in box.text() and "open in Triage" in box.text()
        assert theirs.read_bytes() == before and window.project.path == mine
    finally:
        holder.close()
    window.close()


def test_a_read_only_view_saved_as_a_copy_can_be_changed(qtbot, settings, tmp_path):
    path = labelled_project(tmp_path / "shared.triage")
    holder = Project.open(path)
    try:
        window = make_window(qtbot, settings)
        with qtbot.waitSignal(window.project_opened, timeout=WAIT):
            window.open_project(path, read_only=True)
        assert window.read_only
        copy = tmp_path / "mine.triage"
        with qtbot.waitSignal(window.project_opened, timeout=WAIT):
            window.save_project_to(copy)
        assert window.project.path == copy and not window.read_only
        assert "(read-only)" not in window.windowTitle()
        assert all(a.isEnabled() for a in window.label_actions)
        assert window.label_rows("spam", [9], 1)
        assert saved_labels(copy, "spam")[9] == 1 and 9 not in saved_labels(path, "spam")
        window.close()
    finally:
        holder.close()
