"""How long the GUI thread stalls while the window's long tasks run in the background.

Offscreen, no pytest. A 10 ms ``QTimer`` (precise) ticks on the GUI thread through the real
event loop; its worst lateness (gap between ticks minus 10 ms) is the longest time the
window could not answer the user. Three tasks run one after the other, as a user would start
them from the window:

1. import: ``MainWindow.open_paths`` on the cached 1,000,000-row short-message CSV (read,
   predict both models, find themes with the window's default k, save the project) -- then
   the window shows the new project;
2. retrain: the corpus labels of 50,000 SMS rows (spam) and 50,000 tweet rows (sentiment)
   are set in the window, then ``MainWindow.retrain`` (both models);
3. re-clustering: ``MainWindow.recluster(20)``.

For each, the worst lateness is split into "while the worker runs" and "when its result is
applied" (the result handler runs on the GUI thread: showing a new million-row project, or
writing new predictions into the table). Peak memory after the import is the window with
1,000,000 messages loaded and classified.

Usage::

    python -m benchmarks.bench_stall                  # 1,000,000 rows
    python -m benchmarks.bench_stall --rows 100000 --json out.json
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
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

    def worst(self, start: float, end: float) -> tuple[float, float]:
        """(worst lateness in s, when it ended) over tick gaps ending in [start, end]."""
        t = np.asarray(self.times)
        if len(t) < 2:
            return float("nan"), float("nan")
        gaps = np.diff(t) - TICK
        ends = t[1:]
        keep = (ends >= start) & (ends <= end)
        if not keep.any():
            return float("nan"), float("nan")
        i = int(np.argmax(np.where(keep, gaps, -np.inf)))
        return float(gaps[i]), float(ends[i] - start)


def run_task(app, window, kind: str, start, ticker: Ticker, timeout: float = 900.0) -> dict:
    """Start a task, run the event loop until it ended and SETTLE more seconds; stalls."""
    loop = QEventLoop()
    ended: dict[str, float] = {}

    def on_ended(task) -> None:
        if task.kind == kind and "at" not in ended:
            ended["at"] = time.perf_counter()
            QTimer.singleShot(int(SETTLE * 1000), loop.quit)

    window.runner.task_ended.connect(on_ended)
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
    window.runner.task_ended.disconnect(on_ended)
    if "at" not in ended:
        raise RuntimeError(f"{kind}: did not end within {timeout:.0f} s")
    stop = ended["at"]
    during, during_at = ticker.worst(began, stop)
    after, _ = ticker.worst(stop + 1e-9, stop + SETTLE)
    gaps = np.diff(np.asarray(ticker.times)) - TICK
    mask = np.asarray(ticker.times[1:]) <= stop
    return {
        "task_seconds": round(stop - began, 2),
        "worst_stall_during_ms": round(during * 1000, 1),
        "worst_stall_during_at_s": round(during_at, 2),
        "worst_stall_applying_result_ms": round(after * 1000, 1),
        "p99_lateness_during_ms": round(float(np.percentile(gaps[mask], 99)) * 1000, 1)
        if mask.any()
        else None,
        "ticks_during": int(mask.sum()),
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
    window.show()
    app.processEvents()
    ticker = Ticker(dump_file)
    figures: dict = {
        "rows": args.rows,
        "cores": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }

    errors: list[str] = []
    window.notifier.error = lambda exc, tb=None: errors.append(f"{type(exc).__name__}: {exc}")

    figures["import"] = run_task(
        app, window, "open", lambda: window.open_paths([str(csv_path)]), ticker
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

    figures["labels_set"] = label_truth(window, args.rows, args.labels)
    figures["retrain"] = run_task(app, window, "retrain", window.retrain, ticker)
    figures["recluster"] = run_task(app, window, "cluster", lambda: window.recluster(20), ticker)
    figures["peak_rss_mb_end"] = round(C.peak_rss_mb(), 1)
    figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
    figures["errors"] = errors
    figures["worst_stall_ms"] = max(
        max(f["worst_stall_during_ms"], f["worst_stall_applying_result_ms"])
        for f in (figures["import"], figures["retrain"], figures["recluster"])
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
