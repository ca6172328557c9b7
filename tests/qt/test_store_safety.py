"""The window over a damaged project, a full disk and a read-only place: a clear dialog,
the backup offered, and nothing already saved damaged or shown as saved when it is not."""

from __future__ import annotations

import errno
import os
import sqlite3

import numpy as np
import pytest
from qt_helpers import WAIT, make_window
from store_helpers import labelled_project

from guiapp.core.project import Project, backup_path
from guiapp.qt.table_model import COLUMN_INDEX, LabelCodeRole


def unexpected(window) -> list[str]:
    return [b.text() for b in window.notifier.shown if b.windowTitle() == "Unexpected error"]


@pytest.fixture
def window(qtbot, settings, tmp_path):
    labelled_project(tmp_path / "open.triage")
    window = make_window(qtbot, settings)
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.open_project(tmp_path / "open.triage")
    yield window
    window.close()


def wait_box(qtbot, window, count: int):
    qtbot.waitUntil(lambda: len(window.notifier.shown) >= count, timeout=WAIT)
    return window.notifier.shown[count - 1]


# ----------------------------------------------------------------------------- damaged
def test_a_damaged_project_offers_its_backup_and_opens_the_recovered_copy(
    qtbot, settings, tmp_path
):
    path = tmp_path / "work.triage"
    labelled_project(path)
    Project.open(path).close()  # a clean open keeps the backup
    raw = bytearray(path.read_bytes())
    raw[4096 : 4096 + 8192] = b"\xa5" * 8192
    path.write_bytes(bytes(raw))
    damaged = path.read_bytes()

    window = make_window(qtbot, settings)
    window.open_project(path)
    box = wait_box(qtbot, window, 1)
    assert box.windowTitle() == "Project is damaged"
    assert str(path) in box.text() and "damaged" in box.text()
    assert "backup" in box.text() and box.isVisible()
    assert box.recover_button is not None and box.recover_button.text() == "Recover from Backup"
    assert window.project is None
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        box.recover_button.click()
    recovered = window.project.path
    assert recovered != path and "recovered" in recovered.name and recovered.parent == tmp_path
    assert window.collection.user["spam"][[3, 4]].tolist() == [1, 1]
    assert window.model.rowCount() == 300
    assert path.read_bytes() == damaged  # the damaged original is never written to
    assert not unexpected(window)
    window.close()


def test_a_damaged_project_without_a_backup_says_so(qtbot, window, tmp_path):
    path = tmp_path / "cut.triage"
    labelled_project(path)
    path.write_bytes(path.read_bytes()[:3000])
    assert not backup_path(path).exists()
    before = window.project
    window.open_project(path)
    box = wait_box(qtbot, window, 1)
    assert box.windowTitle() == "Project is damaged" and str(path) in box.text()
    assert "no backup" in box.text() and box.recover_button is None
    assert window.project is before  # the open project stays
    assert path.read_bytes()[:16] == b"SQLite format 3\x00" and path.stat().st_size == 3000


# ----------------------------------------------------------------------------- export
@pytest.mark.parametrize(
    "fails, error, says",
    [
        ("fsync", errno.ENOSPC, "disk is full"),
        ("replace", errno.ENOSPC, "disk is full"),
        ("mkstemp", errno.EROFS, "read-only"),
        ("mkstemp", errno.EACCES, "read-only"),
    ],
)
def test_an_export_that_cannot_be_written_says_why_and_keeps_the_old_file(
    qtbot, window, tmp_path, monkeypatch, fails, error, says
):
    import tempfile

    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / "labelled.csv"
    out.write_text("an earlier export\n")

    def refuse(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    target = {"fsync": os, "replace": os, "mkstemp": tempfile}[fails]
    monkeypatch.setattr(target, fails, refuse)
    window.export(str(out), "all")
    box = wait_box(qtbot, window, 1)
    qtbot.waitUntil(lambda: window.runner.active_count() == 0, timeout=WAIT)
    monkeypatch.undo()
    assert box.windowTitle() == "Export failed"
    assert str(out) in box.text() and says in box.text()
    assert box.detailedText() == ""  # an expected error, not a bug report
    assert out.read_text() == "an earlier export\n"
    assert sorted(p.name for p in folder.iterdir()) == ["labelled.csv"]


# ----------------------------------------------------------------------------- labels
def label_codes(window, task: str) -> np.ndarray:
    model = window.model
    column = COLUMN_INDEX[task]
    return np.array([model.index(r, column).data(LabelCodeRole) for r in range(model.rowCount())])


def saved_labels(path, task: str) -> dict[int, int]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT row, value FROM labels WHERE task=?", (task,)).fetchall()
    finally:
        conn.close()
    return dict(rows)


def test_a_bulk_label_on_a_full_disk_is_refused_and_never_shown(qtbot, window):
    project = window.project
    shown_before = label_codes(window, "sentiment")
    memory_before = window.collection.user["sentiment"].copy()
    saved_before = saved_labels(project.path, "sentiment")
    pages = project._conn.execute("PRAGMA page_count").fetchone()[0]
    project._conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own "disk is full"
    window.table.setFocus()
    window.act_select_all.trigger()
    qtbot.keyClick(window.table, "3")  # every row positive: too big for the "disk"
    box = wait_box(qtbot, window, 1)
    assert box.windowTitle() == "Project problem"
    assert "disk is full" in box.text() and str(project.path) in box.text()
    assert (label_codes(window, "sentiment") == shown_before).all()
    assert (window.collection.user["sentiment"] == memory_before).all()
    assert window.editor.stack.count() == 0
    assert saved_labels(project.path, "sentiment") == saved_before
    # Space again: the user closes the box, the same key goes through, saved then shown.
    box.close()
    project._conn.execute("PRAGMA max_page_count=1073741823")
    window.activateWindow()
    qtbot.keyClick(window.table, "3")
    assert (label_codes(window, "sentiment") == 2).all()
    assert set(saved_labels(project.path, "sentiment").values()) == {2}
    assert len(window.notifier.shown) == 1


def test_an_undo_that_cannot_be_saved_leaves_the_edit_shown(qtbot, window):
    project = window.project
    window.label_rows("spam", np.arange(10, 30), 0)
    assert (window.collection.user["spam"][10:30] == 0).all()
    project._conn.execute("PRAGMA query_only=1")  # SQLite's own "read-only"
    window.act_undo.trigger()
    box = wait_box(qtbot, window, 1)
    assert "read-only" in box.text() and str(project.path) in box.text()
    # Memory, table and disk still agree: the edit stands.
    assert (window.collection.user["spam"][10:30] == 0).all()
    assert set(np.flatnonzero(label_codes(window, "spam") == 0)) >= {
        window.model.view_row(r) for r in range(10, 30)
    }
    project._conn.execute("PRAGMA query_only=0")
    saved = saved_labels(project.path, "spam")
    assert all(saved[r] == 0 for r in range(10, 30))
    assert not unexpected(window)


def test_save_project_as_to_a_full_disk_keeps_the_open_project(
    qtbot, window, tmp_path, monkeypatch
):
    target = tmp_path / "copy.triage"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    before = window.project
    window.save_project_to(target)
    monkeypatch.undo()
    box = wait_box(qtbot, window, 1)
    assert str(target) in box.text() and "cannot save a copy" in box.text()
    assert window.project is before and not target.exists()
    assert not (tmp_path / "copy.triage.saving").exists()
    window.label_rows("spam", [0], 1)  # the open project still takes edits
    assert saved_labels(before.path, "spam")[0] == 1
