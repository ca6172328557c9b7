"""The status bar's task progress: percentage done and about how long is left."""

from __future__ import annotations

from guiapp.qt.progress import TaskProgress, _TaskRow, time_left_text
from guiapp.qt.workers import Task, TaskRunner


def test_percentage_and_time_left(qtbot):
    runner = TaskRunner()
    progress = TaskProgress(runner)
    qtbot.addWidget(progress)
    task = Task("retrain", "Retraining…", 1, None, None, None, None)
    runner.task_started.emit(task)
    row = progress.row("retrain")
    now = [100.0]
    row.clock = lambda: now[0]
    assert not row.bar.isTextVisible() and row.eta.text() == ""  # busy: nothing measured
    for seconds, done, eta in (
        (100.0, 100, ""),  # the first measured step
        (101.0, 150, ""),  # too early to tell
        (110.0, 400, "about 20 s left"),  # 30% in 10 s: the 60% left takes 20 s
        (130.0, 700, "about 15 s left"),
        (160.0, 1000, ""),
    ):
        now[0] = seconds
        task.done, task.total = done, 1000
        runner.task_progressed.emit(task)
        assert row.bar.isTextVisible() and row.bar.text() == f"{done // 10}%"
        assert row.eta.text() == eta, (seconds, row.eta.text())
    runner.task_ended.emit(task)
    assert progress.row("retrain") is None
    runner.shutdown(1000)


def test_time_left_wording():
    assert time_left_text(3) == "about 5 s left"
    assert time_left_text(41) == "about 45 s left"
    assert time_left_text(61) == "about 2 min left"
    assert time_left_text(7200) == "about 2.0 h left"
    assert _TaskRow.clock() > 0
