"""Background tasks and errors: one path to the user, cancel, stale results, closing."""

from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QTimer
from qt_helpers import SMS, WAIT, make_window, open_file

from guiapp.core.errors import Cancelled, InputError
from guiapp.qt.main_window import MainWindow
from guiapp.qt.notify import error_text
from guiapp.qt.workers import TaskRunner


def slow_task(seconds: float, *, on_progress=None, stop_requested=None, result="done"):
    """Cooperative work in small steps, as the core's long functions are."""
    steps = max(1, int(seconds / 0.01))
    for i in range(steps):
        if stop_requested():
            raise Cancelled()
        on_progress(i, steps, f"step {i}")
        time.sleep(0.01)
    return result


def test_a_read_only_project_refuses_the_edit_and_says_so(qtbot, window):
    window.project._conn.execute("PRAGMA query_only=1")  # SQLite's own read-only error
    window.table.setFocus()
    window.table.go_to_view_row(0)
    store = window.table.current_store_row()
    qtbot.keyClick(window.table, "s")
    box = window.notifier.shown[-1]
    assert "read-only" in box.text() and str(window.project.path) in box.text()
    assert box.detailedText() == ""
    assert window.collection.user["spam"][store] == -1
    assert window.editor.stack.count() == 0
    assert window.table.current_store_row() == store  # no advance after a refused edit


def test_an_unexpected_error_shows_a_short_message_and_the_traceback(qtbot, window):
    def broken(*, on_progress=None, stop_requested=None):
        return {}["missing key"]

    window.runner.start("bug", broken, title="Doing something…")
    qtbot.waitUntil(lambda: bool(window.notifier.shown), timeout=WAIT)
    box = window.notifier.shown[-1]
    assert box.text().startswith("Something went wrong inside Triage")
    assert "KeyError" in box.text()
    assert "Traceback" in box.detailedText() and "broken" in box.detailedText()


def test_core_errors_are_shown_as_they_are():
    title, text, details = error_text(InputError("x.csv", "bad quote", line=3))
    assert (title, text, details) == ("Cannot import", "x.csv, line 3: bad quote", "")


def test_a_newer_task_of_a_kind_cancels_and_drops_the_older(qtbot):
    runner = TaskRunner()
    got = []
    release = threading.Event()

    def stubborn(*, on_progress=None, stop_requested=None):
        release.wait(10)  # ignores the stop request: its late result must still be dropped
        return "old"

    runner.start("k", stubborn, on_result=got.append)
    runner.start("k", slow_task, 0.05, result="new", on_result=got.append)
    qtbot.waitUntil(lambda: got == ["new"], timeout=WAIT)
    release.set()
    qtbot.waitUntil(lambda: runner.active_count() == 0, timeout=WAIT)
    assert got == ["new"]


def test_progress_bar_and_cancel_button(qtbot, window):
    cancelled = []
    window.runner.start(
        "slow", slow_task, 30, title="Working…", on_cancelled=lambda: cancelled.append(True)
    )
    row = window.progress.row("slow")
    assert row is not None and window.progress.isVisible()
    qtbot.waitUntil(lambda: row.bar.value() > 0, timeout=WAIT)
    assert "Working" in row.label.text()
    row.cancel.click()
    qtbot.waitUntil(lambda: cancelled == [True], timeout=WAIT)
    assert window.progress.row("slow") is None
    assert not window.runner.is_running("slow")


def test_the_window_stays_responsive_and_labels_during_a_long_task(qtbot, window):
    ticks = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    done = []
    window.runner.start("slow", slow_task, 1.5, title="Working…", on_result=done.append)
    window.table.setFocus()
    window.table.go_to_view_row(0)
    qtbot.keyClick(window.table, "h")
    qtbot.waitUntil(lambda: done == ["done"], timeout=WAIT)
    timer.stop()
    assert window.collection.user["spam"][window.model.store_row(0)] == 0
    gaps = np.diff(ticks)
    assert len(ticks) > 30 and gaps.max() < 0.5


def test_close_stops_workers_within_a_bounded_time(qtbot, settings):
    window: MainWindow = make_window(qtbot, settings)
    open_file(qtbot, window, SMS)
    window.runner.start("slow", slow_task, 60, title="Working…")
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 5
    assert window.runner.pool.activeThreadCount() == 0
