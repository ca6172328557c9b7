"""The in-memory state of one open collection, as numpy columns.

:class:`Collection` is what the window's table model adapts and what the command line
classifies: the messages (Arrow-backed strings, one row per message), and beside them one
numpy array per column the user sees -- the user's labels (int8 codes, -1 none), whether the
user changed them in Triage (``corrected``), the models' probabilities (float32, NaN until
predicted) and the cluster of each row. Row numbers ("store rows") are stable for the life of
the collection; views sort and filter with index arrays over them.

Label edits go through :mod:`guiapp.core.commands`, never by writing the arrays directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from guiapp.core.messages import (
    CLASSES,
    LABEL_COLUMN,
    NO_LABEL,
    TASKS,
    TEXT_COLUMNS,
    empty_frame,
)


@dataclass
class Collection:
    messages: pd.DataFrame
    """The text columns of the schema (``TEXT_COLUMNS``), RangeIndex 0..n-1."""
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Original columns of tabular inputs, row-aligned with ``messages`` (may be empty)."""
    user: dict[str, np.ndarray] = field(default_factory=dict)
    """Per task, the user's label codes (int8, -1 none)."""
    corrected: dict[str, np.ndarray] = field(default_factory=dict)
    """Per task, True where the user corrected the model in Triage: gave a label other than
    the model's prediction at the time (or removed an imported label)."""
    confirmed: dict[str, np.ndarray] = field(default_factory=dict)
    """Per task, True where the user gave in Triage the label the model had predicted: a
    confirmation, shown and counted apart from corrections (never both)."""
    spam_prob: np.ndarray = field(default=None)  # type: ignore[assignment]
    """P(spam) per row, float32, NaN until predicted."""
    sentiment_prob: np.ndarray = field(default=None)  # type: ignore[assignment]
    """(n, 3) probabilities of negative / neutral / positive, float32, NaN until predicted."""
    cluster: np.ndarray = field(default=None)  # type: ignore[assignment]
    """Cluster number per row, int32, -1 when not clustered."""
    clustering: object | None = None
    """The :class:`guiapp.core.clustering.Clustering` the ``cluster`` column came from."""
    model_versions: dict[str, str] = field(default_factory=dict)
    """Per task, the version id of the model that made the current predictions."""
    revision: int = 0
    """Bumped on every label change; background results computed from an older revision
    know they are stale (see ``guiapp.core.commands``)."""
    source: Path | None = None
    """The project file this collection belongs to (its models are that project's), or
    None: a collection of files, predicted by the shipped models."""

    def __post_init__(self) -> None:
        n = len(self.messages)
        for task in TASKS:
            column = LABEL_COLUMN[task]
            if task not in self.user:
                if column in self.messages.columns:
                    self.user[task] = self.messages[column].to_numpy(dtype=np.int8, copy=True)
                else:
                    self.user[task] = np.full(n, NO_LABEL, dtype=np.int8)
            if task not in self.corrected:
                self.corrected[task] = np.zeros(n, dtype=bool)
            if task not in self.confirmed:
                self.confirmed[task] = np.zeros(n, dtype=bool)
        # The arrays above own the labels from here on; the frame keeps text only.
        self.messages = self.messages.loc[:, list(TEXT_COLUMNS)].reset_index(drop=True)
        if self.spam_prob is None:
            self.spam_prob = np.full(n, np.nan, dtype=np.float32)
        if self.sentiment_prob is None:
            self.sentiment_prob = np.full((n, len(CLASSES["sentiment"])), np.nan, dtype=np.float32)
        if self.cluster is None:
            self.cluster = np.full(n, -1, dtype=np.int32)
        if len(self.extra) != n and len(self.extra.columns) == 0:
            self.extra = pd.DataFrame(index=pd.RangeIndex(n))
        self._check_lengths()

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls) -> Collection:
        return cls(empty_frame())

    @classmethod
    def from_load(cls, result) -> Collection:
        """From a :class:`guiapp.core.io.LoadResult` (messages with imported labels)."""
        return cls(result.messages, extra=result.extra)

    def _check_lengths(self) -> None:
        n = len(self.messages)
        arrays = [
            *self.user.values(),
            *self.corrected.values(),
            *self.confirmed.values(),
            self.spam_prob,
            self.cluster,
        ]
        if (
            any(len(a) != n for a in arrays)
            or self.sentiment_prob.shape[0] != n
            or len(self.extra) != n
        ):
            raise ValueError("collection columns have different lengths")

    def __len__(self) -> int:
        return len(self.messages)

    # ------------------------------------------------------------------ derived columns
    def predicted(self, task: str) -> np.ndarray:
        """The model's class code per row (int8), -1 where not predicted."""
        return predicted_codes(task, self.spam_prob if task == "spam" else self.sentiment_prob)

    def label(self, task: str) -> np.ndarray:
        """The label the user sees: theirs where they gave one, else the model's (int8)."""
        user = self.user[task]
        return np.where(user >= 0, user, self.predicted(task)).astype(np.int8)

    def labelled_by_user(self, task: str | None = None) -> np.ndarray:
        """Mask of rows with a user label for ``task`` (or for any task)."""
        tasks = TASKS if task is None else (task,)
        mask = np.zeros(len(self), dtype=bool)
        for t in tasks:
            mask |= self.user[t] >= 0
        return mask

    def any_corrected(self) -> np.ndarray:
        mask = np.zeros(len(self), dtype=bool)
        for t in TASKS:
            mask |= self.corrected[t]
        return mask

    def any_confirmed(self) -> np.ndarray:
        """Rows where the user confirmed a prediction (either task) and corrected none."""
        mask = np.zeros(len(self), dtype=bool)
        for t in TASKS:
            mask |= self.confirmed[t]
        return mask & ~self.any_corrected()

    def score(self, task: str) -> np.ndarray:
        """spam: P(spam); sentiment: the probability of the predicted class (float32)."""
        if task == "spam":
            return self.spam_prob
        # NaN (not predicted) propagates through max.
        return self.sentiment_prob.max(axis=1) if len(self) else np.zeros(0, np.float32)

    def has_predictions(self, task: str) -> bool:
        if task == "spam":
            return bool(len(self)) and not np.isnan(self.spam_prob).all()
        return bool(len(self)) and not np.isnan(self.sentiment_prob).all()

    # ------------------------------------------------------------------ growth
    def append(self, other: Collection) -> np.ndarray:
        """Add another collection's rows at the end; returns their new store rows."""
        start = len(self)
        self.messages = pd.concat([self.messages, other.messages], ignore_index=True)
        self.extra = pd.concat([self.extra, other.extra], ignore_index=True)
        for t in TASKS:
            self.user[t] = np.concatenate([self.user[t], other.user[t]])
            self.corrected[t] = np.concatenate([self.corrected[t], other.corrected[t]])
            self.confirmed[t] = np.concatenate([self.confirmed[t], other.confirmed[t]])
        self.spam_prob = np.concatenate([self.spam_prob, other.spam_prob])
        self.sentiment_prob = np.concatenate([self.sentiment_prob, other.sentiment_prob])
        self.cluster = np.concatenate([self.cluster, other.cluster])
        self.revision += 1
        return np.arange(start, len(self), dtype=np.int64)

    def set_predictions(
        self, task: str, prob: np.ndarray, version: str, rows: np.ndarray | None = None
    ) -> None:
        if task == "spam":
            target = self.spam_prob
        else:
            target = self.sentiment_prob
        if rows is None:
            target[...] = prob
        else:
            target[rows] = prob
        self.model_versions[task] = version


def predicted_codes(task: str, prob: np.ndarray) -> np.ndarray:
    """Class codes (int8) from a task's probabilities as a :class:`Collection` keeps them
    (spam: P(spam) per row; sentiment: (n, 3)); -1 where not predicted (NaN)."""
    if task == "spam":
        codes = (prob >= 0.5).astype(np.int8)
        codes[np.isnan(prob)] = NO_LABEL
        return codes
    missing = np.isnan(prob).any(axis=1)
    codes = np.argmax(np.nan_to_num(prob, nan=-1.0), axis=1).astype(np.int8)
    codes[missing] = NO_LABEL
    return codes
