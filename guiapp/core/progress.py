"""Progress and cancel hooks shared by every long core function.

Long work in the core is a plain function that takes two optional callables, as Orange's
``TaskState`` and superqt's workers expect:

- ``on_progress(done, total, text)`` -- called between batches; ``total`` may be 0 when
  unknown;
- ``stop_requested() -> bool`` -- polled between batches; when it answers True the
  function raises :class:`~guiapp.core.errors.Cancelled` before changing anything the
  caller owns.

The command line passes a tqdm bar; the window passes a worker's signal and flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from guiapp.core.errors import Cancelled

ProgressFn = Callable[[int, int, str], None]
StopFn = Callable[[], bool]


def _no_progress(done: int, total: int, text: str) -> None:
    return None


def _never() -> bool:
    return False


@dataclass
class Hooks:
    """The pair of hooks, with defaults that do nothing."""

    on_progress: ProgressFn | None = None
    stop_requested: StopFn | None = None

    def progress(self, done: int, total: int, text: str = "") -> None:
        if self.on_progress is not None:
            self.on_progress(done, total, text)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the caller asked to stop."""
        if self.stop_requested is not None and self.stop_requested():
            raise Cancelled()

    def step(self, done: int, total: int, text: str = "") -> None:
        """Report progress, then honour a stop request."""
        self.progress(done, total, text)
        self.check()

    def scaled(self, start: float, end: float) -> Hooks:
        """Hooks for a sub-task that maps its own 0..total onto ``start..end`` of 1000."""
        if self.on_progress is None:
            return Hooks(None, self.stop_requested)
        parent = self.on_progress

        def sub(done: int, total: int, text: str) -> None:
            frac = (done / total) if total else 0.0
            parent(int(1000 * (start + (end - start) * frac)), 1000, text)

        return Hooks(sub, self.stop_requested)


def hooks(on_progress: ProgressFn | None = None, stop_requested: StopFn | None = None) -> Hooks:
    return Hooks(on_progress, stop_requested)
