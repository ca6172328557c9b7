"""Progress of background tasks in the status bar: one bar with a Cancel button per task.

The bar shows the percentage done and, once the task has run a while, about how long is
left (from its pace so far: the time since its first measured step, scaled by what is left).

The bar keeps the height of a task's row when no task runs: a status bar that grew by a few
pixels when a task started (and shrank when it ended) resized the table above it, and a full
repaint of a million-row table costs 30-60 ms of the GUI thread (benchmarks/bench_stall.py).
"""

from __future__ import annotations

import math
import time

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from guiapp.qt.workers import Task, TaskRunner

ESTIMATE_AFTER_S = 2.0  # seconds of measured progress before a time left is shown
ESTIMATE_AFTER_FRACTION = 0.02


def time_left_text(seconds: float) -> str:
    """ "about 40 s left", "about 3 min left" (rounded up, so it does not promise too soon)."""
    seconds = round(seconds, 3)  # 15.000000000000002 is 15
    if seconds < 60:
        return f"about {max(5, 5 * math.ceil(seconds / 5))} s left"
    if seconds < 3600:
        return f"about {math.ceil(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


class _TaskRow(QWidget):
    clock = staticmethod(time.monotonic)

    def __init__(self, task: Task, runner: TaskRunner, parent=None):
        super().__init__(parent)
        self.kind = task.kind
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.setSpacing(4)
        self.label = QLabel(task.title, self)
        self.bar = QProgressBar(self)
        self.bar.setFixedWidth(160)
        self.bar.setMaximumHeight(16)
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.bar.setTextVisible(False)
        self.bar.setFormat("%p%")
        self.eta = QLabel(self)
        self._start: tuple[float, float] | None = None  # (time, fraction) of the first step
        self.cancel = QToolButton(self)
        self.cancel.setText("Cancel")
        self.cancel.setToolTip(f"Stop {task.title.rstrip('…').lower()}")
        self.cancel.clicked.connect(lambda: runner.cancel(task.kind))
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.eta)
        layout.addWidget(self.cancel)

    def update_from(self, task: Task) -> None:
        text = task.title + (f" — {task.text}" if task.text else "")
        self.label.setText(text)
        if task.total > 0:
            fraction = min(1.0, task.done / task.total)
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * fraction))
            self.bar.setTextVisible(True)
            self.eta.setText(self._time_left(fraction))
        else:
            self.bar.setRange(0, 0)
            self.bar.setTextVisible(False)
            self.eta.setText("")

    def _time_left(self, fraction: float) -> str:
        now = self.clock()
        if self._start is None or fraction < self._start[1]:
            self._start = (now, fraction)  # the first measured step (or the task restarted)
            return ""
        elapsed, done = now - self._start[0], fraction - self._start[1]
        if elapsed < ESTIMATE_AFTER_S or done < ESTIMATE_AFTER_FRACTION or fraction >= 1.0:
            return ""
        return time_left_text(elapsed * (1.0 - fraction) / done)


class TaskProgress(QWidget):
    """Shows every running, non-quiet task of a :class:`TaskRunner`."""

    def __init__(self, runner: TaskRunner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self._rows: dict[int, _TaskRow] = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        runner.task_started.connect(self._on_runner_task_started)
        runner.task_progressed.connect(self._on_runner_task_progressed)
        runner.task_ended.connect(self._on_runner_task_ended)
        self.setMinimumHeight(self._row_height())

    def _row_height(self) -> int:
        probe = QWidget()
        layout = QHBoxLayout(probe)
        layout.setContentsMargins(6, 0, 0, 0)
        button = QToolButton(probe)
        button.setText("Cancel")
        layout.addWidget(QLabel("Retraining…", probe))
        layout.addWidget(button)
        return probe.sizeHint().height()

    def row(self, kind: str) -> _TaskRow | None:
        for row in self._rows.values():
            if row.kind == kind:
                return row
        return None

    def _on_runner_task_started(self, task: Task) -> None:
        if task.quiet:
            return
        row = _TaskRow(task, self.runner, self)
        self._rows[task.run_id] = row
        self._layout.addWidget(row)

    def _on_runner_task_progressed(self, task: Task) -> None:
        row = self._rows.get(task.run_id)
        if row is not None:
            row.update_from(task)

    def _on_runner_task_ended(self, task: Task) -> None:
        row = self._rows.pop(task.run_id, None)
        if row is not None:
            row.setParent(None)
            row.deleteLater()
