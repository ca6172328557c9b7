"""User edits as command objects that can be applied and inverted.

glue's rule: every interaction maps to a command object rather than acting directly. A label
change -- one row or a million -- is one :class:`SetLabels`; applying it returns its inverse,
so undo is "apply the inverse" and redo is "apply the inverse's inverse" (Orange's undo
commands work the same way). The window's ``QUndoStack`` only wraps these.

Commands change a :class:`~guiapp.core.collection.Collection` in memory;
:meth:`guiapp.core.project.Project.apply` makes the change durable on disk first and then
applies it, so nothing the user sees accepted can be lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from guiapp.core.collection import Collection, predicted_codes
from guiapp.core.messages import CLASSES, NO_LABEL, TASKS


@dataclass(frozen=True, eq=False)
class SetLabels:
    """Set the user label of ``task`` on ``rows`` to ``values`` (and ``corrected`` /
    ``confirmed`` flags: see :class:`~guiapp.core.collection.Collection`)."""

    task: str
    rows: np.ndarray  # int64 store rows, unique, ascending
    values: np.ndarray  # int8 label code per row (-1 clears the label)
    corrected: np.ndarray  # bool per row
    text: str  # what the Edit menu says: "mark 1,204 messages as spam"
    confirmed: np.ndarray | None = None  # bool per row; None: none confirmed

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}")
        if self.confirmed is None:
            object.__setattr__(self, "confirmed", np.zeros(len(self.rows), dtype=bool))
        if not (len(self.rows) == len(self.values) == len(self.corrected) == len(self.confirmed)):
            raise ValueError("rows, values, corrected and confirmed must have the same length")

    def __len__(self) -> int:
        return len(self.rows)

    def changes(self, collection: Collection) -> bool:
        """Whether applying this would change anything."""
        user = collection.user[self.task][self.rows]
        corr = collection.corrected[self.task][self.rows]
        conf = collection.confirmed[self.task][self.rows]
        return bool(
            np.any(user != self.values)
            or np.any(corr != self.corrected)
            or np.any(conf != self.confirmed)
        )

    def inverse_for(self, collection: Collection) -> SetLabels:
        """The command that undoes this one, read from the collection's current state."""
        return SetLabels(
            self.task,
            self.rows,
            collection.user[self.task][self.rows].copy(),
            collection.corrected[self.task][self.rows].copy(),
            self.text[len("undo ") :] if self.text.startswith("undo ") else "undo " + self.text,
            collection.confirmed[self.task][self.rows].copy(),
        )

    def apply_to(self, collection: Collection) -> SetLabels:
        """Apply in memory; returns the inverse. Use ``Project.apply`` to persist too."""
        inverse = self.inverse_for(collection)
        collection.user[self.task][self.rows] = self.values
        collection.corrected[self.task][self.rows] = self.corrected
        collection.confirmed[self.task][self.rows] = self.confirmed
        collection.revision += 1
        return inverse


def _rows(rows) -> np.ndarray:
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    return rows


def describe(task: str, value: int, count: int) -> str:
    noun = "message" if count == 1 else "messages"
    number = f"{count:,} {noun}" if count != 1 else "1 message"
    if value == NO_LABEL:
        return f"clear the {task} label of {number}"
    return f"mark {number} as {CLASSES[task][value]}"


def set_label(collection: Collection, task: str, rows, value: int | str) -> SetLabels:
    """The command that gives every row in ``rows`` the label ``value`` for ``task``.

    ``value`` is a class name ("spam", "negative", ...) or code; -1 / None / "" clears the
    label. Rows whose label already is ``value`` are still included (so the command is what
    the user asked for) but it is a no-op for them. Setting a label marks a row *corrected*
    where the model predicted something else (or nothing) and *confirmed* where it predicted
    ``value``. Clearing an imported label is a correction; clearing a label given in Triage
    returns the row to neither; a row without a label stays as it was.
    """
    code = label_code(task, value)
    rows = _rows(rows)
    if len(rows) and (rows[0] < 0 or rows[-1] >= len(collection)):
        raise IndexError(f"row out of range 0..{len(collection) - 1}")
    values = np.full(len(rows), code, dtype=np.int8)
    if code == NO_LABEL:
        has = collection.user[task][rows] != NO_LABEL
        given = collection.corrected[task][rows] | collection.confirmed[task][rows]
        corrected = np.where(has, ~given, collection.corrected[task][rows])
        confirmed = np.zeros(len(rows), dtype=bool)
    else:
        prob = collection.spam_prob if task == "spam" else collection.sentiment_prob
        confirmed = predicted_codes(task, prob[rows]) == code
        corrected = ~confirmed
    return SetLabels(task, rows, values, corrected, describe(task, code, len(rows)), confirmed)


def label_code(task: str, value) -> int:
    if value is None or value == "" or value == NO_LABEL:
        return NO_LABEL
    if isinstance(value, str):
        try:
            return CLASSES[task].index(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a {task} label ({', '.join(CLASSES[task])})"
            ) from None
    code = int(value)
    if not 0 <= code < len(CLASSES[task]):
        raise ValueError(f"{value!r} is not a {task} label code")
    return code
