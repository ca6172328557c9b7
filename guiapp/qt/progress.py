"""Progress of background tasks in the status bar: one bar with a Cancel button per task.

The bar keeps the height of a task's row when no task runs: a status bar that grew by a few
pixels when a task started (and shrank when it ended) resized the table above it, and a full
repaint of a million-row table costs 30-60 ms of the GUI thread (benchmarks/bench_stall.py).
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from guiapp.qt.workers import Task, TaskRunner


class _TaskRow(QWidget):
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
        self.cancel = QToolButton(self)
        self.cancel.setText("Cancel")
        self.cancel.setToolTip(f"Stop {task.title.rstrip('…').lower()}")
        self.cancel.clicked.connect(lambda: runner.cancel(task.kind))
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)

    def update_from(self, task: Task) -> None:
        text = task.title + (f" — {task.text}" if task.text else "")
        self.label.setText(text)
        if task.total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(1.0, task.done / task.total)))
        else:
            self.bar.setRange(0, 0)


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
