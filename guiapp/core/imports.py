"""The heavy libraries imported once, by one thread at a time, before threads use them.

Python's import locks are per module. When two threads import parts of scikit-learn at the
same time, each can end up holding a module the other needs; Python breaks that deadlock by
handing one of them the *partially initialised* module, and the import fails::

    ImportError: cannot import name 'clone' from partially initialized module 'sklearn.base'

(the window's warm-up and the task opening a project, at start-up; the spam and sentiment
retrains, which run side by side, each importing ``sklearn.model_selection``). So code that
runs model or theme code on more than one thread first calls :func:`import_heavy`: the first
caller imports :data:`HEAVY_MODULES` whole while the others wait on one lock, and every
later call returns at once. Who calls it: every task the window runs
(:class:`guiapp.qt.workers.TaskWorker`, before the task), a task's child process
(:mod:`guiapp.qt.processes`) and :func:`guiapp.core.models.training.side_by_side`.
"""

from __future__ import annotations

import gc
import importlib
import threading
from collections.abc import Callable, Iterable

#: What any task may import lazily: scikit-learn and SciPy through the model and theme
#: code, and the scikit-learn modules the model code imports inside functions.
HEAVY_MODULES: tuple[str, ...] = (
    "guiapp.core.models",
    "guiapp.core.clustering",
    "guiapp.core.export",
    "sklearn.model_selection",
)

_LOCK = threading.Lock()
_imported: set[str] = set()


def import_heavy(
    extra: Iterable[str] = (), *, stop_requested: Callable[[], bool] | None = None
) -> None:
    """Import :data:`HEAVY_MODULES` and ``extra``, one thread at a time (see the module).

    Returns at once when they were imported already. With ``stop_requested`` it may return
    early, between two modules, once a stop is requested.

    The cyclic garbage collector is paused meanwhile and what was imported is frozen out of
    its reach afterwards (``gc.freeze``): a full collection set off by the imports'
    allocations took 60-75 ms with the interpreter lock held, a stall of the window when the
    imports run on a worker thread; once frozen, later collections take a few ms.
    """
    wanted = [m for m in (*HEAVY_MODULES, *extra) if m not in _imported]
    if not wanted:
        return
    with _LOCK:
        enabled = gc.isenabled()
        gc.disable()
        try:
            for module in wanted:
                if stop_requested is not None and stop_requested():
                    return
                if module not in _imported:
                    importlib.import_module(module)
                    _imported.add(module)
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
