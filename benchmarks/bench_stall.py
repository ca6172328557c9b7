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

Each late tick is also broken down (:class:`Ticker`): the GUI thread's CPU time in the gap
(work on it), its run-queue wait (runnable but not scheduled: the cores were busy), the rest
(blocked: the interpreter lock, a lock, I/O) and the machine's steal time (the hypervisor ran
something else). Per phase the JSON has the worst gaps' breakdowns and the sums over all
gaps over 20 ms, with the load average and the phase's steal: on a shared 2-core machine the
worst gap depends as much on the load as on the window. ``--child-niceness 0`` runs the tasks'
child processes at normal priority, for comparison.

``--dump-stalls`` perturbs what it measures: re-arming faulthandler's watchdog, and the dump
itself, hold the GIL and wait for the watchdog thread; on busy cores this adds "blocked"
stalls. Take the figures from a run without it, the stacks from a run with it.

Usage::

    python -m benchmarks.bench_stall                  # 1,000,000 rows
    python -m benchmarks.bench_stall --rows 100000 --json out.json
    python -m benchmarks.bench_stall --dump-stalls stalls.txt   # then benchmarks/stall_report.py
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from benchmarks import _common as C  # noqa: E402
from benchmarks.bench_window import PaintWatch, until_painted  # noqa: E402
from guiapp.qt import processes  # noqa: E402

TICK = 0.010
SETTLE = 1.5  # seconds of ticking after a task ended (its result being applied, repaint)


#: With --dump-stalls, the watchdog is re-armed at most this often (see Ticker._tick).
REARM = 0.03
#: Late ticks (lateness over this) get a breakdown of where the gap went.
BREAKDOWN_OVER = 0.020


class ThreadClock:
    """The calling thread's CPU time, run-queue wait and context switches, cheaply.

    Linux's ``/proc/self/task/<tid>/schedstat`` holds the thread's time on a CPU and its
    time *runnable but waiting for a CPU* (the OS did not schedule it), both in ns; whatever
    else passes in a gap between two reads the thread slept: waiting for the event loop's
    next timer (the normal 10 ms), or blocked -- on the interpreter lock (another thread
    of this process holds it) or another lock, or on I/O. ``getrusage(RUSAGE_THREAD)`` adds
    the voluntary / involuntary context switches. Elsewhere only ``time.thread_time``.
    """

    def __init__(self) -> None:
        self._fd: int | None = None
        try:
            self._fd = os.open(
                f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY
            )
        except OSError:
            self._fd = None
        self._rusage = getattr(resource, "RUSAGE_THREAD", None)
        try:
            self._stat: int | None = os.open("/proc/stat", os.O_RDONLY)
            self._hz = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            self._stat = None

    def read(self) -> tuple[float, float, int, int, float]:
        """(cpu s, run-queue wait s, voluntary switches, involuntary switches, steal s).

        Steal: the time the hypervisor ran something else on this machine's virtual CPUs
        (all of them, in 10 ms clock ticks): a guest thread cannot tell it from its own time.
        """
        if self._fd is not None:
            fields = os.pread(self._fd, 128, 0).split()
            cpu, queued = int(fields[0]) / 1e9, int(fields[1]) / 1e9
        else:
            cpu, queued = time.thread_time(), 0.0
        steal = 0.0
        if self._stat is not None:
            line = os.pread(self._stat, 256, 0).split(b"\n", 1)[0].split()
            if len(line) > 8:
                steal = int(line[8]) / self._hz
        if self._rusage is not None:
            r = resource.getrusage(self._rusage)
            return cpu, queued, r.ru_nvcsw, r.ru_nivcsw, steal
        return cpu, queued, 0, 0, steal


class Ticker:
    """A 10 ms precise timer on the GUI thread, recording when each tick ran.

    Every tick also reads the GUI thread's :class:`ThreadClock`, so that each late tick's
    gap splits into CPU time on the GUI thread (work done on it: Python, Qt painting),
    run-queue wait (runnable, not scheduled: the cores were busy with other threads or
    processes) and sleep beyond the expected 10 ms (blocked: the interpreter lock, held by
    another thread of the window process, or I/O).

    With ``dump_to`` (an open file), every tick re-arms :func:`faulthandler.dump_traceback_later`
    so that a tick later than ``dump_after`` seconds makes faulthandler's C watchdog thread
    (which needs no GIL) write the stacks of every thread, mid-stall, to that file; the
    tick that ends such a stall writes its breakdown after the stacks (``Stall ...`` line,
    read by :mod:`benchmarks.stall_report`).
    """

    def __init__(self, dump_to=None, dump_after: float = 0.06) -> None:
        self.times: list[float] = []
        self.clocks: list[tuple[float, float, int, int, float]] = []
        self.dump_to = dump_to
        self.dump_after = dump_after
        self.clock: ThreadClock | None = None
        self._armed_at = -1.0
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(int(TICK * 1000))
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        clock = self.clock.read()
        rearm = False
        if self.dump_to is not None:
            # Re-arming joins faulthandler's watchdog thread and starts a new one, with the
            # GIL held: on busy cores the join waits until that thread is scheduled, which
            # showed as the GUI thread "blocked" 60-130 ms. So at most every REARM s (the
            # dump then comes 60-90 ms into a stall).
            rearm = now - self._armed_at >= REARM or now - self.times[-1] > self.dump_after
            if rearm:
                faulthandler.cancel_dump_traceback_later()
            if now - self.times[-1] > self.dump_after:
                b = _breakdown(now - self.times[-1], self.clocks[-1], clock)
                self.dump_to.write(
                    "Stall {late:.1f} ms: cpu {cpu:.1f}, run queue {queued:.1f}, "
                    "blocked {blocked:.1f} ms; switches {voluntary} voluntary, "
                    "{involuntary} involuntary; steal {steal:.0f} ms\n".format(**b)
                )
                self.dump_to.flush()
        self.times.append(now)
        self.clocks.append(clock)
        if rearm:
            self._armed_at = now
            faulthandler.dump_traceback_later(self.dump_after + REARM, file=self.dump_to)

    def start(self) -> None:
        if self.clock is None:
            self.clock = ThreadClock()  # on the GUI thread
        self.times = [time.perf_counter()]
        self.clocks = [self.clock.read()]
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        if self.dump_to is not None:
            faulthandler.cancel_dump_traceback_later()
            self._armed_at = -1.0

    def worst(self, keep) -> tuple[float, float, int]:
        """(worst lateness in s, when that gap ended, its index) over tick gaps whose end
        ``keep`` (a function of the end times' array, returning a mask) selects."""
        t = np.asarray(self.times)
        if len(t) < 2:
            return float("nan"), float("nan"), -1
        gaps = np.diff(t) - TICK
        mask = keep(t[1:])
        if not mask.any():
            return float("nan"), float("nan"), -1
        i = int(np.argmax(np.where(mask, gaps, -np.inf)))
        return float(gaps[i]), float(t[1 + i]), i

    def gaps(self, keep) -> np.ndarray:
        t = np.asarray(self.times)
        return (np.diff(t) - TICK)[keep(t[1:])] if len(t) > 1 else np.zeros(0)

    def worst_without_steal(self, keep) -> float | None:
        """Worst lateness (ms) over the selected gaps during which no steal was counted."""
        t = np.asarray(self.times)
        if len(t) < 2:
            return None
        steal = np.diff(np.asarray([c[4] for c in self.clocks]))
        gaps = np.diff(t) - TICK
        mask = keep(t[1:]) & (steal == 0)
        return round(float(gaps[mask].max()) * 1000, 1) if mask.any() else None

    def breakdown(self, i: int) -> dict:
        """Where gap ``i`` (between ticks i and i+1) went, in ms (see the class docstring)."""
        return _breakdown(self.times[i + 1] - self.times[i], self.clocks[i], self.clocks[i + 1])

    def late_breakdown(self, keep, over: float = BREAKDOWN_OVER) -> dict:
        """Sum of the breakdowns of the selected gaps later than ``over`` s: how many, and
        how much of their lateness was CPU on the GUI thread, run-queue wait and blocked."""
        t = np.asarray(self.times)
        if len(t) < 2:
            return {"stalls": 0}
        gaps = np.diff(t) - TICK
        late = np.flatnonzero(keep(t[1:]) & (gaps > over))
        total = {"late": 0.0, "cpu": 0.0, "queued": 0.0, "blocked": 0.0, "steal": 0.0}
        for i in late:
            b = self.breakdown(int(i))
            for key in total:
                total[key] += b[key]
        kinds = {"cpu": 0, "queued": 0, "blocked": 0}
        for i in late:
            b = self.breakdown(int(i))
            kinds[max(kinds, key=lambda k: b[k])] += 1
        out = {"stalls": len(late)}
        out.update({f"{k}_ms": round(v, 1) for k, v in total.items()})
        out["mostly"] = kinds
        return out


def _breakdown(gap: float, before: tuple, after: tuple) -> dict:
    """A tick gap of ``gap`` s between two :meth:`ThreadClock.read` results, in ms: the
    lateness (gap - 10 ms), the GUI thread's CPU time, its run-queue wait, the rest of the
    lateness spent blocked (sleep beyond the timer's 10 ms), and the context switches."""
    cpu = after[0] - before[0]
    queued = after[1] - before[1]
    late = gap - TICK
    # The thread sleeps up to 10 ms by design (the timer's interval); past that it is blocked.
    blocked = max(0.0, gap - cpu - queued - TICK)
    return {
        "late": late * 1000,
        "cpu": cpu * 1000,
        "queued": queued * 1000,
        "blocked": blocked * 1000,
        "voluntary": after[2] - before[2],
        "involuntary": after[3] - before[3],
        "steal": (after[4] - before[4]) * 1000,
    }


class GcWatch:
    """Python's cyclic collections on the GUI thread: how many, and the longest (ms), per
    generation -- a full collection over everything a big project holds runs with the GIL
    held on whichever thread's allocation set it off."""

    def __init__(self) -> None:
        self.gui = threading.get_ident()
        self.started: float | None = None
        self.runs: list[tuple[int, float]] = []  # (generation, seconds)
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if threading.get_ident() != self.gui:
            return
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started is not None:
            self.runs.append((info["generation"], time.perf_counter() - self.started))
            self.started = None

    def take(self) -> dict:
        runs, self.runs = self.runs, []
        out = {}
        for generation in (0, 1, 2):
            times = [t for g, t in runs if g == generation]
            if times:
                out[f"gen{generation}"] = {
                    "count": len(times),
                    "max_ms": round(max(times) * 1000, 1),
                    "total_ms": round(sum(times) * 1000, 1),
                }
        return out


GC_WATCH: GcWatch | None = None


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
    if GC_WATCH is not None:
        GC_WATCH.take()
    began = time.perf_counter()
    cpu = time.thread_time()
    start()
    start_cpu = time.thread_time() - cpu
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

    during, during_at, during_i = ticker.worst(in_worker)
    applying, applying_at, applying_i = ticker.worst(rest)
    gaps = ticker.gaps(in_worker)

    def rounded(b: dict) -> dict:
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in b.items()}

    steal = ticker.clocks[-1][4] - ticker.clocks[0][4]
    return {
        "load_average": round(os.getloadavg()[0], 2),
        # CPU time the hypervisor gave to others on this machine's virtual CPUs meanwhile
        # (all of them): no thread of this machine could run then, whatever its priority.
        "steal_seconds": round(steal, 2),
        "task_seconds": round(done["at"] - began, 2),
        # The GUI thread's CPU in the call that starts the task (the first gap has it).
        "start_call_cpu_ms": round(start_cpu * 1000, 1),
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
        # Where the worst gaps went (ms): CPU on the GUI thread, run-queue wait (not
        # scheduled), blocked (the interpreter lock or I/O); and over all gaps > 20 ms.
        "worst_during_breakdown": rounded(ticker.breakdown(during_i)) if during_i >= 0 else None,
        "worst_applying_breakdown": rounded(ticker.breakdown(applying_i))
        if applying_i >= 0
        else None,
        "late_during": ticker.late_breakdown(in_worker),
        "late_applying": ticker.late_breakdown(rest),
        # The same worst gaps among those in which the hypervisor stole no time (steal is
        # counted in 10 ms ticks over all CPUs): what the window and this machine's load
        # made of them, without the host's.
        "worst_stall_during_without_steal_ms": ticker.worst_without_steal(in_worker),
        "worst_stall_applying_without_steal_ms": ticker.worst_without_steal(rest),
        "gc_on_gui_thread": GC_WATCH.take() if GC_WATCH is not None else None,
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
        help="write every thread's stack here whenever the GUI thread is 60-90 ms late "
        "(see benchmarks/stall_report.py)",
    )
    parser.add_argument(
        "--child-niceness",
        type=int,
        help="CPU niceness of the tasks' child processes (default: the window's, "
        "guiapp.qt.processes.CHILD_NICENESS; 0 = normal priority)",
    )
    args = parser.parse_args(argv)
    if args.child_niceness is not None:
        processes.CHILD_NICENESS = args.child_niceness
    dump_file = open(args.dump_stalls, "w") if args.dump_stalls else None  # noqa: SIM115

    csv_path = C.short_csv(args.rows)
    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-stall-"))
    os.environ["TRIAGE_DATA_DIR"] = str(tmp / "data")

    global GC_WATCH
    GC_WATCH = GcWatch()
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
        "child_niceness": processes.CHILD_NICENESS,
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
