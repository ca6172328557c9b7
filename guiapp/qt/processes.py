"""Run a core function in a child process, with the same progress and cancel hooks.

Why a process: a worker *thread* shares the interpreter lock with the GUI thread, and some
long library calls hold it for half a second or more (sparse-matrix slicing in the model
fits, k-means steps). The window then stutters while a retrain runs. A child process has
its own interpreter: the GUI thread is never blocked, whatever the work does.

The child is started with ``spawn`` (never ``fork`` from a process that runs Qt threads),
receives the function and its (picklable) arguments, reports ``on_progress`` through a
pipe and polls a shared event for ``stop_requested``. The result, or the exception with its
formatted traceback, comes back through the same pipe. Nothing here imports Qt.

What the child is sent matters as much: pickling a million messages' texts to start it held
the interpreter lock in the worker thread for up to 0.6 s (measured with
``benchmarks/bench_stall.py``), and the GUI thread with it. A :class:`CollectionRef` stands
for a collection instead: it carries the label and prediction arrays (a copy, a few MB) and
the project file the texts are in; the child reads the texts from that file itself
(:func:`guiapp.core.project.read_messages`, read-only) and calls the function with a real
:class:`~guiapp.core.collection.Collection`. In a worker thread the ref resolves to the
collection's own (immutable) texts.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from guiapp.core.collection import Collection
from guiapp.core.errors import Cancelled
from guiapp.core.imports import import_heavy

PROGRESS_INTERVAL = 0.05
POLL_SECONDS = 0.05
#: After a stop request, how long the child may take to notice before it is terminated.
STOP_GRACE_SECONDS = 5.0
#: The child's CPU priority (Unix niceness): background work yields the cores to the GUI
#: thread. Measured with benchmarks/bench_stall.py on 2 cores: at normal priority the GUI
#: thread waited up to 100 ms in the run queue, runnable but not scheduled, while a child
#: and its threads kept both cores busy (see ``_lower_priority``).
CHILD_NICENESS = 10


#: What a :class:`CollectionRef` can carry (``needs``): arrays of a collection by name.
REF_ARRAYS = {
    "labels": ("user", "corrected"),  # the user's labels, and which of them are corrections
    "predictions": ("spam_prob", "sentiment_prob"),
    "themes": ("cluster",),
}


@dataclass
class CollectionRef:
    """A snapshot of an open project's collection for a background task, cheap to make on
    the GUI thread and to send to a child process.

    Only the arrays the task reads (``needs``, keys of :data:`REF_ARRAYS`) are copied --
    later label edits cannot reach the copies; the others come back as "nothing yet" (no
    labels, no predictions, no themes). The texts are never copied: a worker thread uses the
    collection's own (immutable) frame, a child process reads the first ``n_rows`` messages
    from the project file at ``path``. On the way to a child the arrays go through files
    (:meth:`staged`): pickling 26 MB of arrays held the interpreter lock for 20-100 ms,
    writing them releases it.

    Make one with :meth:`of` on the GUI thread; :class:`~guiapp.qt.workers.TaskWorker` and
    the child process call the task's function with :meth:`resolve`'s collection instead.
    """

    path: Path
    n_rows: int
    arrays: dict[str, np.ndarray]
    """``"user/<task>"``, ``"corrected/<task>"``, ``"spam_prob"``, ``"sentiment_prob"``,
    ``"cluster"`` -- those the task needs."""
    model_versions: dict[str, str]
    revision: int
    messages: Any = field(default=None, repr=False)
    """The collection's texts, for a worker thread; never pickled."""
    files: dict[str, str] = field(default_factory=dict)
    """Arrays written by :meth:`staged` (name -> .npy path), read back by :meth:`resolve`."""

    @classmethod
    def of(cls, project, needs: tuple[str, ...] = ("labels", "predictions", "themes")):
        c = project.collection
        arrays: dict[str, np.ndarray] = {}
        for need in needs:
            for name in REF_ARRAYS[need]:
                value = getattr(c, name)
                if isinstance(value, dict):
                    arrays.update({f"{name}/{t}": a.copy() for t, a in value.items()})
                else:
                    arrays[name] = value.copy()
        return cls(
            path=Path(project.path),
            n_rows=len(c),
            arrays=arrays,
            model_versions=dict(c.model_versions),
            revision=c.revision,
            messages=c.messages,
        )

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["messages"] = None  # the child reads them from the project file
        return state

    def staged(self, folder: str | Path) -> CollectionRef:
        """A copy whose arrays are in .npy files in ``folder`` (cheap to pickle)."""
        files = {}
        for i, (name, array) in enumerate(self.arrays.items()):
            target = Path(folder) / f"{i}.npy"
            # np.save writes a contiguous array's memory as it is, outside the GIL.
            np.save(target, np.ascontiguousarray(array), allow_pickle=False)
            files[name] = str(target)
        return dataclasses.replace(self, arrays={}, files=files)

    def resolve(self, *, on_progress=None, stop_requested=None) -> Collection:
        """The collection this stands for (texts read from the project file if not here)."""
        arrays = dict(self.arrays)
        arrays.update({n: np.load(f, allow_pickle=False) for n, f in self.files.items()})
        messages = self.messages
        if messages is None:
            from guiapp.core.project import read_messages

            messages = read_messages(
                self.path, self.n_rows, on_progress=on_progress, stop_requested=stop_requested
            )
        by_task: dict[str, dict[str, np.ndarray]] = {"user": {}, "corrected": {}}
        plain = {}
        for name, array in arrays.items():
            kind, _, task = name.partition("/")
            if task:
                by_task[kind][task] = array
            else:
                plain[name] = array
        return Collection(
            messages,
            user=by_task["user"],
            corrected=by_task["corrected"],
            spam_prob=plain.get("spam_prob"),
            sentiment_prob=plain.get("sentiment_prob"),
            cluster=plain.get("cluster"),
            model_versions=dict(self.model_versions),
            revision=self.revision,
            source=self.path,
        )


def resolve_refs(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``args`` and ``kwargs`` with every :class:`CollectionRef` resolved."""

    def one(value):
        return value.resolve() if isinstance(value, CollectionRef) else value

    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


class WorkerProcessDied(RuntimeError):
    """The child process ended without sending a result (killed, out of memory, crashed)."""


def _pack_exception(exc: BaseException) -> tuple:
    """An exception as (class, args, attributes): the core's errors take keyword-only
    arguments (file, reason, line, candidates, ...) that plain pickling cannot rebuild."""
    packed = (type(exc), exc.args, dict(vars(exc)))
    try:
        _unpack_exception(pickle.loads(pickle.dumps(packed)))
    except Exception:  # noqa: BLE001 - an exception that cannot travel is described
        packed = (RuntimeError, (f"{type(exc).__name__}: {exc}",), {})
    return packed


def _unpack_exception(packed: tuple) -> BaseException:
    cls, args, attributes = packed
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(attributes)
    return exc


def _lower_priority(niceness: int, pid: int = 0) -> None:
    """Make process ``pid``'s main thread (0: the calling thread) at least ``niceness``
    nice; threads it starts later inherit that. Linux keeps a niceness per thread, so the
    window's own threads stay as they are. Never raises: where priorities cannot be changed
    the task only runs at normal priority."""
    if niceness <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        if os.getpriority(os.PRIO_PROCESS, pid) < niceness:
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
    except OSError:
        pass


def _child_main(
    conn, stop, niceness: int, fn: Callable[..., Any], args: tuple, kwargs: dict
) -> None:
    _lower_priority(niceness)  # in case the parent's call came after this thread started some
    last = 0.0

    def on_progress(done: int, total: int, text: str = "") -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL or (total and done >= total):
            last = now
            conn.send(("progress", int(done), int(total), str(text)))

    try:
        # Before the task, which may run model code on several threads (a retrain's spam
        # and sentiment side by side): see guiapp.core.imports.
        import_heavy()
        args, kwargs = resolve_refs(args, kwargs)
        result = fn(*args, on_progress=on_progress, stop_requested=stop.is_set, **kwargs)
    except Cancelled:
        conn.send(("cancelled",))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, reported there
        conn.send(("error", _pack_exception(exc), traceback.format_exc()))
    else:
        conn.send(("ok", result))
    finally:
        conn.close()


def run_in_process(
    fn: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    *,
    on_progress: Callable[[int, int, str], None],
    stop_requested: Callable[[], bool],
) -> Any:
    """Run ``fn(*args, on_progress=, stop_requested=, **kwargs)`` in a child process.

    Blocks the calling (worker) thread until the child answers; raises what the child
    raised (:class:`Cancelled` when it stopped on request).
    """
    folder: str | None = None

    def stage(value):
        nonlocal folder
        if not isinstance(value, CollectionRef):
            return value
        folder = folder or tempfile.mkdtemp(prefix="triage-task-")
        return value.staged(folder)

    args = tuple(stage(a) for a in args)
    kwargs = {k: stage(v) for k, v in kwargs.items()}
    try:
        return _run_child(fn, args, kwargs, on_progress, stop_requested)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _run_child(fn, args, kwargs, on_progress, stop_requested) -> Any:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    stop = context.Event()
    niceness = CHILD_NICENESS
    child = context.Process(
        target=_child_main, args=(sender, stop, niceness, fn, args, kwargs), daemon=True
    )
    child.start()
    # At once, before the new interpreter's start-up and imports (numpy's BLAS threads
    # inherit it): the whole of the child's work runs at the lower priority.
    _lower_priority(niceness, child.pid)
    sender.close()  # the child owns the sending end now
    stop_sent_at: float | None = None
    try:
        while True:
            if stop_requested() and stop_sent_at is None:
                stop.set()
                stop_sent_at = time.monotonic()
            if stop_sent_at is not None and time.monotonic() - stop_sent_at > STOP_GRACE_SECONDS:
                child.terminate()
                raise Cancelled()
            if receiver.poll(POLL_SECONDS):
                try:
                    message = receiver.recv()
                except EOFError:
                    message = None
                if message is None:
                    child.join(1.0)
                    raise WorkerProcessDied(
                        f"the worker process ended without an answer (exit code {child.exitcode})"
                    )
                kind = message[0]
                if kind == "progress":
                    on_progress(*message[1:])
                elif kind == "ok":
                    return message[1]
                elif kind == "cancelled":
                    raise Cancelled()
                else:
                    exc = _unpack_exception(message[1])
                    exc.child_traceback = message[2]  # type: ignore[attr-defined]
                    raise exc
            elif not child.is_alive() and not receiver.poll(0):
                raise WorkerProcessDied(
                    f"the worker process ended without an answer (exit code {child.exitcode})"
                )
    finally:
        receiver.close()
        child.join(2.0)
        if child.is_alive():
            child.terminate()
            child.join(2.0)
