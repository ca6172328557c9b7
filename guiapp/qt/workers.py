"""Long work off the GUI thread: plain core functions run in a ``QThreadPool``.

A task is a plain function that takes ``on_progress(done, total, text)`` and
``stop_requested()`` keyword arguments (the core's convention) and returns a result. The
:class:`TaskRunner` owns the threads:

- it runs the function in a :class:`TaskWorker` (a ``QRunnable`` whose signals live on a
  separate ``QObject`` created in ``__init__``, on the GUI thread, as superqt does -- a
  ``QObject`` created inside ``run()`` would live on the worker thread and its slots could
  run there);
- a worker never touches the store or a widget: the caller hands it a snapshot and gets the
  result back on the GUI thread;
- starting a task of a kind that is already running asks the old one to stop and drops its
  late result (every run has an id; only the newest id of a kind is delivered);
- a task may have a ``commit`` step: a function of the result that runs on the worker
  thread after the work (in a child process or not) and makes the result durable -- writes
  it to the project -- before the window shows it. Once it has run, the result is
  delivered even if a stop was requested meanwhile (what is saved is shown);
- every failure takes one path: ``on_error`` if the caller gave one, else the runner's
  ``error_reporter`` (the window's notifier);
- :meth:`TaskRunner.shutdown` asks every task to stop and waits a bounded time;
- before its function, every task imports the heavy libraries through
  :func:`guiapp.core.imports.import_heavy` (one thread at a time: two threads importing
  scikit-learn at once can get a partially initialised module), plus the runner's
  ``preload`` modules.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from guiapp.core.errors import Cancelled
from guiapp.core.imports import import_heavy
from guiapp.qt.processes import resolve_refs, run_in_process

#: Seconds between progress signals from one worker. Each one repaints the task's progress
#: bar synchronously (QProgressBar.setValue repaints at once): at 20 per second they took
#: some 1.5 s of the GUI thread's 10 s of work over bench_stall's run (py-spy); ten per
#: second still move the bar smoothly.
PROGRESS_INTERVAL = 0.1
_run_ids = itertools.count(1)

#: Every live runner, so tests can fail when a test leaves a worker running.
RUNNERS: weakref.WeakSet[TaskRunner] = weakref.WeakSet()


class _WorkerSignals(QObject):
    progressed = Signal(int, int, int, str)  # run id, done, total, text
    succeeded = Signal(int, object)  # run id, result
    committed = Signal(int, object)  # run id, result: its commit step ran (deliver it)
    failed = Signal(int, object, str)  # run id, exception, formatted traceback
    cancelled = Signal(int)
    ended = Signal(int)  # always last, whatever happened


class TaskWorker(QRunnable):
    """Runs ``fn(*args, on_progress=, stop_requested=, **kwargs)`` on a pool thread."""

    def __init__(
        self,
        run_id: int,
        fn: Callable[..., Any],
        args: tuple,
        kwargs: dict,
        *,
        in_process: bool = False,
        commit: Callable[[Any], Any] | None = None,
        preload: tuple[str, ...] = (),
    ):
        super().__init__()
        self.in_process = in_process
        self._preload = preload
        self._commit = commit
        self.setAutoDelete(False)  # the runner keeps a reference until ``ended``
        self.run_id = run_id
        self.signals = _WorkerSignals()  # created here, on the GUI thread
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._stop = threading.Event()
        self._last_progress = 0.0

    def request_stop(self) -> None:
        self._stop.set()

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _on_progress(self, done: int, total: int, text: str = "") -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL or (total and done >= total):
            self._last_progress = now
            self.signals.progressed.emit(self.run_id, int(done), int(total), str(text))

    def run(self) -> None:
        try:
            # Also for a child process's task: its result is unpickled on this thread.
            import_heavy(self._preload)
            if self.in_process:
                result = run_in_process(
                    self._fn,
                    self._args,
                    self._kwargs,
                    on_progress=self._on_progress,
                    stop_requested=self.stop_requested,
                )
            else:
                args, kwargs = resolve_refs(self._args, self._kwargs)
                result = self._fn(
                    *args,
                    on_progress=self._on_progress,
                    stop_requested=self.stop_requested,
                    **kwargs,
                )
            committed = False
            if self._commit is not None and not self._stop.is_set():
                result = self._commit(result)
                committed = True
        except Cancelled:
            self.signals.cancelled.emit(self.run_id)
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the notifier
            tb = getattr(exc, "child_traceback", None) or traceback.format_exc()
            self.signals.failed.emit(self.run_id, exc, tb)
        else:
            if committed:
                self.signals.committed.emit(self.run_id, result)
            elif self._stop.is_set():
                self.signals.cancelled.emit(self.run_id)
            else:
                self.signals.succeeded.emit(self.run_id, result)
        finally:
            self.signals.ended.emit(self.run_id)


@dataclass
class Task:
    kind: str
    title: str
    run_id: int
    worker: TaskWorker
    on_result: Callable[[Any], None] | None
    on_error: Callable[[BaseException, str], None] | None
    on_cancelled: Callable[[], None] | None
    quiet: bool = False  # no progress bar (fast interactive work such as a search)
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int = 0
    text: str = ""

    def cancel(self) -> None:
        self.worker.request_stop()


class TaskRunner(QObject):
    """Starts, cancels and routes the results of background tasks; see the module docstring."""

    task_started = Signal(object)  # Task
    task_progressed = Signal(object)  # Task
    task_ended = Signal(object)  # Task

    def __init__(self, parent=None, *, max_threads: int = 4, preload: tuple[str, ...] = ()):
        super().__init__(parent)
        #: Modules every task imports before it runs, with the heavy libraries (the window's
        #: Qt modules that import them: see :func:`guiapp.core.imports.import_heavy`).
        self.preload = tuple(preload)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.error_reporter: Callable[[BaseException, str], None] | None = None
        #: Tests that run hundreds of small imports set this False: ``in_process`` tasks
        #: then run on a pool thread like the others (same function, same hooks), without
        #: a child process's start-up. The app never changes it.
        self.use_processes = True
        self._current: dict[str, Task] = {}  # kind -> newest task
        self._running: dict[int, Task] = {}  # run id -> task, until its worker ends
        self._closed = False
        RUNNERS.add(self)

    # ------------------------------------------------------------------ control
    def start(
        self,
        kind: str,
        fn: Callable[..., Any],
        *args: Any,
        title: str = "",
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException, str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        quiet: bool = False,
        in_process: bool = False,
        commit: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> Task:
        """Run ``fn`` in the pool as the newest task of ``kind`` (the older one is cancelled).

        ``in_process=True`` runs it in a child process (see :mod:`guiapp.qt.processes`):
        for heavy work that would otherwise hold the interpreter lock against the GUI
        thread; ``fn`` and its arguments must then be picklable (pass a collection as a
        :class:`~guiapp.qt.processes.CollectionRef`).

        ``commit(result)`` runs on the worker thread once ``fn`` returned, unless a stop was
        requested: it saves the result (never touches a widget) and returns what
        ``on_result`` gets. A committed result is delivered even if the task was cancelled
        or replaced after its commit (the window checks it still belongs to the project);
        ``on_result`` of a committed result runs in commit order.
        """
        if self._closed:
            raise RuntimeError("the task runner is shut down")
        self.cancel(kind)
        run_id = next(_run_ids)
        worker = TaskWorker(
            run_id,
            fn,
            args,
            kwargs,
            in_process=in_process and self.use_processes,
            commit=commit,
            preload=self.preload,
        )
        task = Task(kind, title or kind, run_id, worker, on_result, on_error, on_cancelled, quiet)
        signals = worker.signals
        signals.progressed.connect(self._on_worker_progressed)
        signals.succeeded.connect(self._on_worker_succeeded)
        signals.committed.connect(self._on_worker_committed)
        signals.failed.connect(self._on_worker_failed)
        signals.cancelled.connect(self._on_worker_cancelled)
        signals.ended.connect(self._on_worker_ended)
        self._current[kind] = task
        self._running[run_id] = task
        self.pool.start(worker)
        self.task_started.emit(task)
        return task

    def cancel(self, kind: str) -> None:
        """Ask the running task of ``kind`` to stop; its result, if any, will be dropped."""
        task = self._current.pop(kind, None)
        if task is not None:
            task.cancel()
            self.task_ended.emit(task)

    def cancel_all(self) -> None:
        for kind in list(self._current):
            self.cancel(kind)

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` was called (no task can start)."""
        return self._closed

    def is_running(self, kind: str) -> bool:
        return kind in self._current

    def current(self, kind: str) -> Task | None:
        return self._current.get(kind)

    def active_count(self) -> int:
        """Workers still running (including cancelled ones that have not returned yet)."""
        return len(self._running)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every worker returned (or the timeout passed); True if all did."""
        return self.pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        """Stop everything and wait at most ``timeout_ms``; later results are dropped."""
        self._closed = True
        self.cancel_all()
        return self.wait(timeout_ms)

    # ------------------------------------------------------------------ routing
    def _live(self, run_id: int) -> Task | None:
        """The task if it is still the newest of its kind (else its signals are stale)."""
        task = self._running.get(run_id)
        if task is None or self._closed or self._current.get(task.kind) is not task:
            return None
        return task

    def _on_worker_progressed(self, run_id: int, done: int, total: int, text: str) -> None:
        task = self._live(run_id)
        if task is not None:
            task.done, task.total, task.text = done, total, text
            self.task_progressed.emit(task)

    def _on_worker_succeeded(self, run_id: int, result: Any) -> None:
        task = self._live(run_id)
        if task is not None:
            self._deliver(task, result)

    def _on_worker_committed(self, run_id: int, result: Any) -> None:
        task = self._running.get(run_id)
        if task is not None and not self._closed:
            self._deliver(task, result)

    def _deliver(self, task: Task, result: Any) -> None:
        self._finish(task)
        if task.on_result is not None:
            try:
                task.on_result(result)
            except Exception as exc:  # noqa: BLE001 - a failing handler is still reported
                self._report(task, exc, traceback.format_exc())

    def _on_worker_failed(self, run_id: int, exc: BaseException, tb: str) -> None:
        task = self._live(run_id)
        if task is None:
            return
        self._finish(task)
        self._report(task, exc, tb)

    def _on_worker_cancelled(self, run_id: int) -> None:
        task = self._running.get(run_id)
        if task is None:
            return
        if self._current.get(task.kind) is task:
            self._finish(task)
        if task.on_cancelled is not None and not self._closed:
            task.on_cancelled()

    def _on_worker_ended(self, run_id: int) -> None:
        task = self._running.pop(run_id, None)
        if task is not None and self._current.get(task.kind) is task:
            # Ended without a result signal being delivered (should not happen).
            self._finish(task)

    def _finish(self, task: Task) -> None:
        if self._current.get(task.kind) is task:
            del self._current[task.kind]
            self.task_ended.emit(task)

    def _report(self, task: Task, exc: BaseException, tb: str) -> None:
        handler = task.on_error or self.error_reporter
        if handler is not None:
            handler(exc, tb)
