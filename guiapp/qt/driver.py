"""Drive the real main window from a seeded script: the crash-safety trials' test subject.

Not a user command (``triage --help`` does not list it); the kill trials
(:mod:`guiapp.qt.crash_trials`, ``tests/qt/test_kill_trials.py``,
``benchmarks/kill_trials.py``) start it and SIGKILL it at chosen moments::

    python -m guiapp.qt.driver run PROJECT --seed 7 --export OUT.csv --out TRANSCRIPT
    python -m guiapp.qt.driver serve

``run`` opens the real :class:`~guiapp.qt.main_window.MainWindow` (offscreen under
``QT_QPA_PLATFORM=offscreen``) on PROJECT and works through the window's own actions, as a
user would, with the event loop running between steps: select rows and trigger the label
actions the keys S/H/1/2/3 trigger, Undo, bulk-label a filter of 10,000 rows ("Label All
Shown") and a whole theme (the theme panel's "Mark the whole theme as ..."), Retrain (the
dialog, spam model) and Export (the dialog, all messages) -- labelling on while those run.
It writes one line per event to ``--out`` (flushed at once)::

    READY <n messages>                      the project is open in the window
    DO set <task> <code> <rows>             about to label store rows (comma-separated)
    DO undo <task> - <rows>                 about to undo the top step (its rows)
    ACK <seq> <task> <n rows> <value>       the window accepted the edit: it is saved (edit
                                            number <seq> of the project's log) and shown;
                                            value = the rows' label code, or "mixed"
    NOOP                                    the step changed nothing, so nothing was saved
    PHASE retrain start|finishing|result|done <version>
    PHASE export start <path> | done <path> <rows>
    END                                     the script is over (the window then closes)
    ERROR <what>                            the window reported an error: a failed trial

``serve`` is a fork server for many trials: it imports Qt, the window and the core once,
then reads one JSON request a line on stdin (``{"argv": [...run arguments...], "env": {...},
"err": PATH}``), forks a child that becomes its own process group and runs ``run`` with a
fresh ``QApplication``, and answers the child's pid on stdout. A trial's start-up to a shown
project then takes ~0.4 s instead of ~4 s (Python, Qt, pandas and, once a project with
themes opens, scikit-learn; figures in ``benchmarks/kill_trials.txt``). No ``QApplication``
ever exists in the server, so nothing Qt has started is forked.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import traceback
from pathlib import Path

import numpy as np

BULK_ROWS = 10_000
GAP_MS = 15  # between two steps; the event loop runs in between
BUSY_GAP_MS = 60  # between two labels while a retrain or an export runs


class Script:
    """The seeded sequence of user actions, run one step per timer tick."""

    def __init__(self, window, rng: np.random.Generator, export: str, emit, *, retrain=True):
        self.window = window
        self.rng = rng
        self.export_path = export
        self.emit = emit
        self.retrain_enabled = retrain
        self.acks = 0
        self._steps = None
        self._finishing_sent = False
        window.editor.labels_changed.connect(self._on_labels_changed)
        window.retrain_finished.connect(self._on_retrain_finished)
        window.export_finished.connect(self._on_export_finished)
        window.runner.task_progressed.connect(self._on_task_progressed)
        window.runner.task_ended.connect(self._on_task_ended)

    # ------------------------------------------------------------------ the sequence
    def steps(self):
        """Yields the pause (ms) before the next step, or a predicate to wait for."""
        for _ in range(8):
            self.label_one()
            yield GAP_MS
        self.label_some(5)
        yield GAP_MS
        self.undo()
        yield GAP_MS
        if self.retrain_enabled:
            self.start_retrain()
            yield GAP_MS
        self.bulk_filter()
        yield GAP_MS
        for _ in range(5):
            self.label_one()
            yield GAP_MS
        self.start_export()
        yield GAP_MS
        i = 0
        while self.busy():
            i += 1
            if i % 25 == 0:
                self.undo()
            elif i % 60 == 0:
                self.bulk_filter()
            elif i % 7 == 0:
                self.label_some(3)
            else:
                self.label_one()
            yield BUSY_GAP_MS
        self.bulk_cluster()
        yield GAP_MS
        self.undo()
        yield GAP_MS
        self.bulk_filter()
        yield GAP_MS
        for _ in range(3):
            self.label_one()
            yield GAP_MS
        self.start_export()
        yield lambda: not self.busy()
        self.emit("END")

    def busy(self) -> bool:
        runner = self.window.runner
        return runner.is_running("retrain") or runner.is_running("export")

    def start(self) -> None:
        from PySide6.QtCore import QTimer

        self.emit(f"READY {len(self.window.collection)}")
        self._steps = self.steps()
        QTimer.singleShot(0, self._tick)

    def _tick(self) -> None:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        self._close_popups()
        try:
            wait = next(self._steps)
        except StopIteration:
            self.window.close()
            QApplication.instance().quit()
            return
        if callable(wait):
            self._wait_for(wait)
        else:
            QTimer.singleShot(int(wait), self._tick)

    def _wait_for(self, predicate) -> None:
        from PySide6.QtCore import QTimer

        if predicate():
            QTimer.singleShot(0, self._tick)
        else:
            QTimer.singleShot(10, lambda: self._wait_for(predicate))

    def _close_popups(self) -> None:
        # The user reads and closes what popped up (export finished, the retrain report).
        from PySide6.QtWidgets import QApplication, QDialog

        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QDialog) and widget.isVisible():
                widget.close()

    # ------------------------------------------------------------------ steps
    def _label(self, task: str, code: int, rows: np.ndarray, trigger) -> None:
        """Announce, act through the window, then say if the window accepted nothing."""
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        self.emit(f"DO set {task} {code} {','.join(map(str, rows.tolist()))}")
        before = self.acks
        trigger()
        if self.acks == before:
            self.emit("NOOP")

    def _action_for(self, index: int):
        return self.window.label_actions[index]

    def _random_label(self) -> tuple[int, str, int]:
        from guiapp.qt.main_window import LABEL_KEYS

        index = int(self.rng.integers(len(LABEL_KEYS)))
        task, code = LABEL_KEYS[index][:2]
        return index, task, code

    def label_one(self) -> None:
        """Go to a row and press a label key (the action the key triggers)."""
        model = self.window.model
        view = int(self.rng.integers(model.rowCount()))
        index, task, code = self._random_label()
        self.window.table.go_to_view_row(view)
        rows = self.window.table.selected_store_rows()
        self._label(task, code, rows, self._action_for(index).trigger)

    def label_some(self, count: int) -> None:
        """Select a few scattered rows, then press a label key."""
        model = self.window.model
        views = self.rng.choice(model.rowCount(), size=count, replace=False)
        index, task, code = self._random_label()
        self.window.table.select_view_rows(views)
        rows = self.window.table.selected_store_rows()
        self._label(task, code, rows, self._action_for(index).trigger)

    def bulk_filter(self) -> None:
        """Filter the table to 10,000 rows, then Label ▸ Label All Shown ▸ ..."""
        n = len(self.window.collection)
        rows = np.sort(self.rng.choice(n, size=min(BULK_ROWS, n), replace=False))
        index, task, code = self._random_label()
        self.window.filter_bar.show_rows(rows, "driver")
        try:
            self._label(task, code, rows, self.window.shown_label_actions[index].trigger)
        finally:
            self.window.filter_bar.clear_rows()

    def bulk_cluster(self) -> None:
        """The theme panel's "Mark the whole theme as ..." on the biggest theme."""
        cluster = self.window.collection.cluster
        if not (cluster >= 0).any():
            self.label_one()
            return
        number = int(np.argmax(np.bincount(cluster[cluster >= 0])))
        _, task, code = self._random_label()
        rows = np.flatnonzero(cluster == number)
        self._label(
            task,
            code,
            rows,
            lambda: self.window.clusters.label_cluster_requested.emit(number, task, code),
        )

    def undo(self) -> None:
        stack = self.window.editor.stack
        if not stack.canUndo():
            return
        top = stack.command(stack.index() - 1)
        forward = top._forward
        rows = ",".join(map(str, forward.rows.tolist()))
        self.emit(f"DO undo {forward.task} - {rows}")
        before = self.acks
        self.window.act_undo.trigger()
        if self.acks == before:
            self.emit("NOOP")

    def start_retrain(self) -> None:
        window = self.window
        if not window.act_retrain.isEnabled():
            return
        window.retrain_dialog()
        dialog = window.last_dialog
        dialog.boxes["spam"].setChecked(True)
        dialog.boxes["sentiment"].setChecked(False)
        self._finishing_sent = False
        dialog.accept()
        if window.runner.is_running("retrain"):
            self.emit("PHASE retrain start")

    def start_export(self) -> None:
        window = self.window
        window.export_dialog()
        dialog = window.last_dialog
        dialog.path_edit.setText(self.export_path)
        dialog.radios["all"].setChecked(True)
        dialog.accept()
        if window.runner.is_running("export"):
            self.emit(f"PHASE export start {self.export_path}")

    # ------------------------------------------------------------------ what the window says
    def _on_labels_changed(self, task: str, rows) -> None:
        project = self.window.project
        seq = project.edit_history(1)[0][0]
        values = np.unique(project.collection.user[task][np.asarray(rows, dtype=np.int64)])
        value = str(int(values[0])) if len(values) == 1 else "mixed"
        self.acks += 1
        self.emit(f"ACK {seq} {task} {len(rows)} {value}")

    def _on_retrain_finished(self, outcome) -> None:
        version = outcome.predictions.versions.get("spam", "-")
        self.emit(f"PHASE retrain done {version}")

    def _on_export_finished(self, path: str, n: int) -> None:
        self.emit(f"PHASE export done {path} {n}")

    def _on_task_ended(self, task) -> None:
        # The runner ends a task just before it hands the result to the window: for a
        # retrain, the moment its predictions start being saved.
        if task.kind == "retrain" and not task.worker.stop_requested():
            self.emit("PHASE retrain result")

    def _on_task_progressed(self, task) -> None:
        if (
            task.kind == "retrain"
            and not self._finishing_sent
            and task.total
            and task.done >= 0.99 * task.total
        ):
            self._finishing_sent = True
            self.emit("PHASE retrain finishing")


def run(argv: list[str] | None = None) -> int:
    """``run PROJECT ...``: open the window on PROJECT and play the script; see the module."""
    parser = argparse.ArgumentParser(prog="python -m guiapp.qt.driver run")
    parser.add_argument("project")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--export", required=True, help="CSV path the script exports to")
    parser.add_argument("--out", help="transcript file or FIFO (default: stdout)")
    parser.add_argument("--settings", help="settings .ini (default: beside the project)")
    parser.add_argument("--no-retrain", action="store_true")
    args = parser.parse_args(argv)

    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    from PySide6.QtWidgets import QApplication

    from guiapp.qt.main_window import MainWindow
    from guiapp.qt.settings import Settings

    app = QApplication.instance() or QApplication([sys.argv[0]])
    settings_path = args.settings or str(Path(args.project).with_suffix(".settings.ini"))
    settings = Settings.at(settings_path)
    # The script is the user, and has decided: its bulk edits must not wait for a question.
    settings.confirm_bulk_labels = False
    window = MainWindow(settings)
    window.show()
    script = Script(
        window,
        np.random.default_rng(args.seed),
        args.export,
        emit,
        retrain=not args.no_retrain,
    )
    failures: list[str] = []

    def opened() -> None:
        window.project_opened.disconnect(opened)
        script.start()

    def failed(exc, tb="") -> None:
        failures.append(f"{type(exc).__name__}: {exc}\n{tb}")
        emit(f"ERROR {type(exc).__name__}: {exc}".replace("\n", " "))
        app.exit(1)

    window.project_opened.connect(opened)
    # Any error the window shows is a failed trial: say so and stop (the box still opens).
    show = window.notifier.error
    window.notifier.error = lambda exc, tb="": (failed(exc, tb), show(exc, tb))[1]
    window.editor.failed.connect(failed)
    window.open_project(args.project)
    code = app.exec()
    if failures:
        sys.stderr.write("\n".join(failures))
    return code or (1 if failures else 0)


# ---------------------------------------------------------------------- fork server
def _reap(*_args) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(request: dict) -> None:
    """In the forked child: become a process group, redirect, run, never return."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)  # stdout is the server's answer pipe: not ours
        err = request.get("err")
        if err:
            fd = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 2)
        os.environ.update(request.get("env", {}))
        code = run(list(request["argv"]))
    except BaseException:  # noqa: BLE001 - the trial reads this in its stderr file
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    """Import everything once, then fork one ``run`` per request line (see the module)."""
    # What a window process imports before it shows a project (the themes' clustering
    # module pulls in scikit-learn when a project with themes opens).
    import PySide6.QtCore  # noqa: F401
    import PySide6.QtGui  # noqa: F401
    import PySide6.QtWidgets  # noqa: F401

    import guiapp.core.clustering  # noqa: F401
    import guiapp.core.export  # noqa: F401
    import guiapp.core.session  # noqa: F401
    import guiapp.qt.main_window  # noqa: F401
    import guiapp.qt.model_dialogs  # noqa: F401
    import guiapp.qt.settings  # noqa: F401

    signal.signal(signal.SIGCHLD, _reap)
    sys.stdout.write("SERVING\n")
    sys.stdout.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        return serve()
    if argv[:1] == ["run"]:
        return run(argv[1:])
    sys.stderr.write("usage: python -m guiapp.qt.driver run PROJECT ... | serve\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
