"""How long the GUI thread stalls while the window's long tasks run in the background.

Offscreen, no pytest. A 10 ms ``QTimer`` (precise) ticks on the GUI thread through the real
event loop; its worst lateness (gap between ticks minus 10 ms) is the longest time the
window could not answer the user. Three tasks run one after the other, as a user would start
them from the window, after its start-up:

0. start-up: the window is shown; once it has painted it imports, on a worker thread, the
   modules its tasks will need (``MainWindow`` ``WARM_UP_MODULES``); measured until that
   warm-up ended plus 1.5 s;
1. import: ``MainWindow.open_paths`` on the cached 1,000,000-row short-message CSV (read,
   predict both models, find themes with the window's default k, save the project) -- then
   the window shows the new project;
2. retrain: the corpus labels of 50,000 SMS rows (spam) and 50,000 tweet rows (sentiment)
   are set in the window, then ``MainWindow.retrain`` (both models);
3. re-clustering: ``MainWindow.recluster(20)``.

Each runs until the window says it applied the result (``project_opened``,
``retrain_finished``, ``clustering_applied``) plus 1.5 s. The worst lateness is split into
"during" (ticks while a background task of that kind ran, in a thread or a child process)
and "applying" (the rest: handing over from one background task to the next, the result
handlers on the GUI thread -- showing a new million-row project, writing predictions into
the table -- and what they start). Peak memory after the import is the window with
1,000,000 messages loaded and classified (the import itself runs in a child process,
whose peak is reported beside it).

Usage::

    python -m benchmarks.bench_stall                  # 1,000,000 rows
    python -m benchmarks.bench_stall --rows 100000 --json out.json
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from benchmarks import _common as C  # noqa: E402
from benchmarks.bench_window import PaintWatch, until_painted  # noqa: E402

TICK = 0.010
SETTLE = 1.5  # seconds of ticking after a task ended (its result being applied, repaint)


class Ticker:
    """A 10 ms precise timer on the GUI thread, recording when each tick ran.

    With ``dump_to`` (an open file), every tick re-arms :func:`faulthandler.dump_traceback_later`
    so that a tick later than ``dump_after`` seconds makes faulthandler's C watchdog thread
    (which needs no GIL) write the stacks of every thread, mid-stall, to that file.
    """

    def __init__(self, dump_to=None, dump_after: float = 0.06) -> None:
        self.times: list[float] = []
        self.dump_to = dump_to
        self.dump_after = dump_after
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(int(TICK * 1000))
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.times.append(time.perf_counter())
        if self.dump_to is not None:
            faulthandler.cancel_dump_traceback_later()
            faulthandler.dump_traceback_later(self.dump_after, file=self.dump_to)

    def start(self) -> None:
        self.times = [time.perf_counter()]
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        if self.dump_to is not None:
            faulthandler.cancel_dump_traceback_later()

    def worst(self, keep) -> tuple[float, float]:
        """(worst lateness in s, when that gap ended) over tick gaps whose end ``keep``
        (a function of the end times' array, returning a mask) selects."""
        t = np.asarray(self.times)
        if len(t) < 2:
            return float("nan"), float("nan")
        gaps = np.diff(t) - TICK
        mask = keep(t[1:])
        if not mask.any():
            return float("nan"), float("nan")
        i = int(np.argmax(np.where(mask, gaps, -np.inf)))
        return float(gaps[i]), float(t[1 + i])

    def gaps(self, keep) -> np.ndarray:
        t = np.asarray(self.times)
        return (np.diff(t) - TICK)[keep(t[1:])] if len(t) > 1 else np.zeros(0)


def run_task(app, window, kind: str, start, done_signal, ticker: Ticker, timeout=900.0) -> dict:
    """Start a task from the window and run the real event loop until ``done_signal`` (the
    window has applied the result) plus SETTLE seconds. Ticks are split into those that
    ended while a background task of ``kind`` ran ("during") and the rest (handing over
    between tasks, applying results on the GUI thread, what follows them: "applying")."""
    loop = QEventLoop()
    running: dict[int, float] = {}
    spans: list[tuple[float, float]] = []
    done: dict[str, float] = {}

    def on_started(task) -> None:
        if task.kind == kind:
            running[task.run_id] = time.perf_counter()

    def on_ended(task) -> None:
        if task.run_id in running:
            spans.append((running.pop(task.run_id), time.perf_counter()))

    def on_done(*_args) -> None:
        if "at" not in done:
            done["at"] = time.perf_counter()
            QTimer.singleShot(int(SETTLE * 1000), loop.quit)

    window.runner.task_started.connect(on_started)
    window.runner.task_ended.connect(on_ended)
    done_signal.connect(on_done)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(int(timeout * 1000))
    if ticker.dump_to is not None:
        ticker.dump_to.write(f"=== task {kind}\n")
        ticker.dump_to.flush()
    ticker.start()
    began = time.perf_counter()
    start()
    loop.exec()
    ticker.stop()
    guard.stop()
    window.runner.task_started.disconnect(on_started)
    window.runner.task_ended.disconnect(on_ended)
    done_signal.disconnect(on_done)
    if "at" not in done:
        raise RuntimeError(f"{kind}: the window did not apply a result within {timeout:.0f} s")

    def in_worker(ends: np.ndarray) -> np.ndarray:
        mask = np.zeros(len(ends), dtype=bool)
        for a, b in spans:
            mask |= (ends >= a) & (ends <= b)
        return mask

    def rest(ends: np.ndarray) -> np.ndarray:
        return ~in_worker(ends) & (ends >= began)

    during, during_at = ticker.worst(in_worker)
    applying, applying_at = ticker.worst(rest)
    gaps = ticker.gaps(in_worker)
    return {
        "task_seconds": round(done["at"] - began, 2),
        "background_tasks": len(spans),
        "background_seconds": round(sum(b - a for a, b in spans), 2),
        "worst_stall_during_ms": round(during * 1000, 1),
        "worst_stall_during_at_s": round(during_at - began, 2),
        "worst_stall_applying_result_ms": round(applying * 1000, 1),
        "worst_stall_applying_at_s": round(applying_at - began, 2),
        "p99_lateness_during_ms": round(float(np.percentile(gaps, 99)) * 1000, 1)
        if len(gaps)
        else None,
        "ticks_during": len(gaps),
    }


def label_truth(window, n: int, per_task: int) -> dict[str, int]:
    """Set the corpus labels of ``per_task`` rows per task, as a user would in the window."""
    truth = C.short_truth(n)
    counts = {}
    for task in ("spam", "sentiment"):
        rows = np.flatnonzero(truth[task] >= 0)[:per_task]
        for code in np.unique(truth[task][rows]):
            window.label_rows(task, rows[truth[task][rows] == code], int(code))
        counts[task] = len(rows)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=50_000, help="labels per task to retrain")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--dump-stalls",
        type=Path,
        help="write every thread's stack here whenever the GUI thread is 60 ms late "
        "(see benchmarks/stall_report.py)",
    )
    args = parser.parse_args(argv)
    dump_file = open(args.dump_stalls, "w") if args.dump_stalls else None  # noqa: SIM115

    csv_path = C.short_csv(args.rows)
    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-stall-"))
    os.environ["TRIAGE_DATA_DIR"] = str(tmp / "data")

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    from guiapp.qt.main_window import MainWindow
    from guiapp.qt.settings import Settings

    window = MainWindow(Settings.at(tmp / "settings.ini"))
    window.resize(1440, 900)
    ticker = Ticker(dump_file)
    figures: dict = {
        "rows": args.rows,
        "cores": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }

    class _WarmUp(QObject):
        ended = Signal()

    warm_up = _WarmUp()
    window.runner.task_ended.connect(
        lambda task: warm_up.ended.emit() if task.kind == "warm-up" else None
    )
    figures["startup"] = run_task(app, window, "warm-up", window.show, warm_up.ended, ticker)

    errors: list[str] = []
    window.notifier.error = lambda exc, tb=None: errors.append(f"{type(exc).__name__}: {exc}")

    figures["import"] = run_task(
        app,
        window,
        "open",
        lambda: window.open_paths([str(csv_path)]),
        window.project_opened,
        ticker,
    )
    if window.project is None or len(window.project.collection) != args.rows:
        raise RuntimeError(f"the import did not open {args.rows:,} messages: {errors}")
    watch = PaintWatch(window.table.viewport())
    before = watch.count
    window.table.viewport().update()
    until_painted(app, watch, before)
    figures["import"]["peak_rss_mb_loaded_and_classified"] = round(C.peak_rss_mb(), 1)
    figures["import"]["rss_mb_loaded_and_classified"] = round(C.current_rss_mb(), 1)
    figures["import"]["k"] = int(window.project.collection.clustering.k)
    # The window imports in a child process: its peak (the largest waited-for child's).
    figures["import"]["child_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
    )

    figures["labels_set"] = label_truth(window, args.rows, args.labels)
    figures["retrain"] = run_task(
        app, window, "retrain", window.retrain, window.retrain_finished, ticker
    )
    figures["recluster"] = run_task(
        app, window, "cluster", lambda: window.recluster(20), window.clustering_applied, ticker
    )
    figures["peak_rss_mb_end"] = round(C.peak_rss_mb(), 1)
    figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
    figures["errors"] = errors
    figures["worst_stall_ms"] = max(
        max(f["worst_stall_during_ms"], f["worst_stall_applying_result_ms"])
        for f in (figures["startup"], figures["import"], figures["retrain"], figures["recluster"])
    )
    window.runner.shutdown(5000)
    window.close()
    if window.project is not None:
        window.project.close()

    shutil.rmtree(tmp, ignore_errors=True)
    if dump_file is not None:
        dump_file.close()
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
