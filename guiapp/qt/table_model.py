"""The message table: one ``QAbstractTableModel`` adapting a core ``Collection``.

The model owns no data. It reads the collection's numpy columns and Arrow strings, and keeps
one index array, ``order`` (view row -> store row), that it rebuilds from a sort permutation
and a filter mask. Sorting and filtering therefore happen inside the model with numpy and
pyarrow: a ``QSortFilterProxyModel`` over a million rows takes minutes to sort
(see STYLE.md), this takes a tenth of a second.

Label edits do not write the collection: ``setData`` hands the request to ``label_editor``
(the window's undo stack turns it into a core command), and the window tells the model what
changed with :meth:`labels_changed` -- one ``dataChanged`` for any number of rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from guiapp.core import query
from guiapp.core.collection import Collection
from guiapp.core.messages import CLASSES, NO_LABEL
from guiapp.qt import style

# Qt's item views misbehave past roughly 70 million rows (QTBUG-18490: the header's and
# scroll bar's int arithmetic overflows at the default row height); glue caps its table for
# the same reason. Beyond this the view shows the first rows and the status bar says so.
MAX_VIEW_ROWS = 60_000_000
PREVIEW_CHARS = 240

StoreRowRole = Qt.ItemDataRole.UserRole + 1
LabelCodeRole = Qt.ItemDataRole.UserRole + 2
LabelSourceRole = Qt.ItemDataRole.UserRole + 3  # "user", "model" or ""
ScoreRole = Qt.ItemDataRole.UserRole + 4  # float in 0..1, or None


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    tip: str
    task: str | None = None  # label / score columns belong to a task
    width: int = 100


COLUMNS: tuple[Column, ...] = (
    Column("corrected", "✎", "Corrected by you", width=28),
    Column("text", "Message", "The message text (first line)", width=400),
    Column("spam", "Spam", "Your label where you gave one, else the model's", "spam", 78),
    Column("spam_score", "P(spam)", "The spam model's probability of spam", "spam", 68),
    Column(
        "sentiment", "Sentiment", "Your label where you gave one, else the model's", "sentiment", 92
    ),
    Column(
        "sentiment_score",
        "Conf.",
        "The sentiment model's probability of its class",
        "sentiment",
        58,
    ),
    Column(
        "cluster", "Theme", "k-means theme of unlabelled messages, with its keywords", width=190
    ),
    Column("kind", "Kind", "email, tweet, sms or text", width=56),
    Column("sender", "From", "Sender or author", width=150),
    Column("subject", "Subject", "Email subject", width=180),
    Column("date", "Date", "Date as found in the input", width=120),
)
COLUMN_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}
TEXT_KEYS = ("text", "kind", "sender", "subject", "date")
LABEL_KEYS = ("spam", "sentiment")
SCORE_KEYS = ("spam_score", "sentiment_score")

LabelEditor = Callable[[str, np.ndarray, int], bool]


def preview(text: str) -> str:
    """One line of a message for the table: whitespace collapsed, cut at PREVIEW_CHARS."""
    head = text[: PREVIEW_CHARS * 2]
    line = " ".join(head.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


class MessageTableModel(QAbstractTableModel):
    """A sortable, filterable view of a :class:`Collection`; see the module docstring."""

    order_changed = Signal()
    """The set or order of shown rows changed (sort, filter, new collection)."""
    order_about_to_change = Signal()
    """Emitted before ``layoutAboutToBeChanged`` (the view saves a big selection here)."""

    def __init__(self, collection: Collection | None = None, parent=None):
        super().__init__(parent)
        self.label_editor: LabelEditor | None = None
        self._collection = Collection.empty()
        self._strings: dict[str, pa.Array] = {}
        self._ranks: dict[str, np.ndarray] = {}
        self.empty_keys: set[str] = set()
        self._order = np.zeros(0, dtype=np.int64)
        self._position: np.ndarray | None = None  # store row -> view row (-1 hidden), lazy
        self._permutation: np.ndarray | None = None
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._mask: np.ndarray | None = None
        self._cluster_text: list[str] = []
        self._bold = QFont()
        self._bold.setBold(True)
        self._corrected_brush = QBrush(QColor(style.CORRECTED_COLOUR))
        self._muted_brush = QBrush(QColor(style.MUTED_TEXT))
        if collection is not None:
            self.set_collection(collection)

    # ------------------------------------------------------------------ collection
    @property
    def collection(self) -> Collection:
        return self._collection

    def set_collection(self, collection: Collection) -> None:
        """Show another collection (or the same one after rows were appended)."""
        self.beginResetModel()
        self._collection = collection
        self._strings = {key: query.arrow_strings(collection.messages[key]) for key in TEXT_KEYS}
        self._ranks = {}  # text column -> string_ranks, computed on the first sort by it
        self.empty_keys = {
            key
            for key, array in self._strings.items()
            if not len(array) or not (pc.max(pc.utf8_length(array)).as_py() or 0)
        }
        self._permutation = None
        self._mask = None
        self._order = np.arange(len(collection), dtype=np.int64)
        self._position = None
        self._refresh_cluster_text()
        if self._sort is not None:
            column, sort_order = self._sort
            self._permutation = self._sort_permutation(column, sort_order)
            self._order = self._permutation
        self.endResetModel()
        self.order_changed.emit()

    def text_columns(self) -> dict[str, pa.Array]:
        """The non-empty Arrow text columns (immutable: safe to hand to a worker)."""
        return {k: a for k, a in self._strings.items() if k not in self.empty_keys}

    def set_ranks(self, ranks: dict[str, np.ndarray]) -> None:
        """Sort ranks of text columns computed in the background (``query.string_ranks``)."""
        n = len(self._collection)
        self._ranks.update({k: r for k, r in ranks.items() if len(r) == n})

    def search_columns(self) -> dict[str, pa.Array]:
        """The Arrow columns a search runs over (immutable: safe to hand to a worker);
        columns no message fills (subject of SMS, sender of an export) are skipped."""
        return {
            key: self._strings[key]
            for key in query.SEARCH_COLUMNS
            if key == "text" or key not in self.empty_keys
        }

    def _refresh_cluster_text(self) -> None:
        clustering = self._collection.clustering
        terms = getattr(clustering, "top_terms", None) or []
        names = getattr(clustering, "names", None) or []
        texts = []
        for i in range(max(len(terms), len(names))):
            name = names[i] if i < len(names) and names[i] else ""
            keywords = ", ".join(list(terms[i])[:4]) if i < len(terms) else ""
            texts.append(f"{i + 1} · {name or keywords}")
        self._cluster_text = texts

    # ------------------------------------------------------------------ mapping
    @property
    def order(self) -> np.ndarray:
        """View rows -> store rows (read-only use)."""
        return self._order

    def store_row(self, view_row: int) -> int:
        return int(self._order[view_row])

    def store_rows(self, view_rows) -> np.ndarray:
        return self._order[np.asarray(view_rows, dtype=np.int64)]

    def view_positions(self) -> np.ndarray:
        """Store row -> view row, -1 where the row is filtered out."""
        if self._position is None:
            pos = np.full(len(self._collection), -1, dtype=np.int64)
            pos[self._order] = np.arange(len(self._order), dtype=np.int64)
            self._position = pos
        return self._position

    def view_row(self, store_row: int) -> int:
        return int(self.view_positions()[store_row])

    # ------------------------------------------------------------------ Qt model API
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return min(len(self._order), MAX_VIEW_ROWS)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tip
        if role == Qt.ItemDataRole.TextAlignmentRole and column.key in SCORE_KEYS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if COLUMNS[index.column()].key in LABEL_KEYS:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role not in _HANDLED_ROLES:
            return None
        row = index.row()
        if row >= len(self._order):
            return None
        store = int(self._order[row])
        key = COLUMNS[index.column()].key
        if role == StoreRowRole:
            return store
        c = self._collection

        if key in LABEL_KEYS:
            user = int(c.user[key][store])
            if role == LabelSourceRole:
                if user != NO_LABEL:
                    return "user"
                return "model" if self._predicted(key, store) != NO_LABEL else ""
            code = user if user != NO_LABEL else self._predicted(key, store)
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return CLASSES[key][code] if code != NO_LABEL else ""
            if role == LabelCodeRole:
                return code
            if role == Qt.ItemDataRole.EditRole:
                return user
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(style.label_colour(key, code))
            if role == Qt.ItemDataRole.FontRole:
                return self._bold if user != NO_LABEL else None
            if role == Qt.ItemDataRole.ToolTipRole:
                return self._label_tip(key, store, user)
            return None

        if key in SCORE_KEYS:
            task = COLUMNS[index.column()].task
            value = float(c.score(task)[store]) if task == "spam" else self._sentiment_score(store)
            missing = math.isnan(value) or value < 0
            if role == ScoreRole:
                return None if missing else value
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return "" if missing else f"{value:.2f}"
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if role == Qt.ItemDataRole.ToolTipRole:
                return None if missing else f"{value:.4f}"
            return None

        if key == "corrected":
            tasks = [t for t in LABEL_KEYS if c.corrected[t][store]]
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return "✎" if tasks else ""
            if role == Qt.ItemDataRole.ToolTipRole:
                return ("You corrected: " + ", ".join(tasks)) if tasks else None
            if role == Qt.ItemDataRole.ForegroundRole:
                return self._corrected_brush
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignCenter)
            return None

        if key == "cluster":
            number = int(c.cluster[store])
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                if number < 0:
                    return ""
                if number < len(self._cluster_text):
                    return self._cluster_text[number]
                return str(number + 1)
            if role == Qt.ItemDataRole.ForegroundRole:
                return self._muted_brush
            if role == Qt.ItemDataRole.ToolTipRole and 0 <= number < len(self._cluster_text):
                return self._cluster_tip(number)
            return None

        # text columns
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            value = self._strings[key][store].as_py() or ""
            if key == "text":
                return preview(value)
            if key == "date" and len(value) >= 16 and value[10:11] == "T":
                return value[:10] + " " + value[11:16]  # ISO-8601 to the minute
            return value
        if role == Qt.ItemDataRole.ToolTipRole and key == "text":
            value = self._strings[key][store].as_py() or ""
            return value[:600] + ("…" if len(value) > 600 else "")
        if role == Qt.ItemDataRole.ForegroundRole and key in ("kind", "date"):
            return self._muted_brush
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        key = COLUMNS[index.column()].key
        if key not in LABEL_KEYS or self.label_editor is None:
            return False
        try:
            code = int(value) if value is not None and value != "" else NO_LABEL
        except (TypeError, ValueError):
            if value in CLASSES[key]:
                code = CLASSES[key].index(value)
            else:
                return False
        if not (code == NO_LABEL or 0 <= code < len(CLASSES[key])):
            return False
        store = np.array([self.store_row(index.row())], dtype=np.int64)
        return bool(self.label_editor(key, store, code))

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        self._sort = (column, Qt.SortOrder(order))
        permutation = self._sort_permutation(column, Qt.SortOrder(order))
        self._relayout(permutation, self._mask)

    # ------------------------------------------------------------------ filter / sort
    @property
    def sort_state(self) -> tuple[int, Qt.SortOrder] | None:
        return self._sort

    def set_mask(self, mask: np.ndarray | None) -> None:
        """Show only store rows where ``mask`` is True (None: all rows)."""
        if mask is not None and len(mask) != len(self._collection):
            raise ValueError("filter mask has the wrong length")
        self._relayout(self._permutation, mask)

    @property
    def mask(self) -> np.ndarray | None:
        return self._mask

    def _sort_permutation(self, column: int, order: Qt.SortOrder) -> np.ndarray:
        descending = order == Qt.SortOrder.DescendingOrder
        key = COLUMNS[column].key
        c = self._collection
        if key in TEXT_KEYS:
            if key not in self._ranks:
                self._ranks[key] = query.string_ranks(self._strings[key])
            return query.rank_permutation(self._ranks[key], descending)
        if key in LABEL_KEYS:
            values = c.label(key)
        elif key == "spam_score":
            values = c.score("spam")
        elif key == "sentiment_score":
            values = self._sentiment_scores()
        elif key == "cluster":
            values = c.cluster
        else:  # corrected: corrected rows first when descending
            values = c.any_corrected().astype(np.int8)
        return query.numeric_permutation(values, descending)

    def _relayout(self, permutation: np.ndarray | None, mask: np.ndarray | None) -> None:
        """Replace ``order``; persistent indexes (current row, editors) follow their rows."""
        n = len(self._collection)
        new_order = query.view_order(permutation, mask, n)
        self.order_about_to_change.emit()
        # PySide6 only exposes the argument-less overload of the layout signals (no
        # VerticalSortHint), so the selection model would track a big selection cell by cell:
        # the view (MessageTableView) saves and restores big selections itself.
        self.layoutAboutToBeChanged.emit()
        old_order = self._order
        persistent = self.persistentIndexList()
        self._permutation = permutation
        self._mask = mask
        self._order = new_order
        self._position = None
        if persistent:
            positions = self.view_positions()
            rows = np.array([p.row() for p in persistent], dtype=np.int64)
            valid = (rows >= 0) & (rows < len(old_order))
            new_rows = np.full(len(rows), -1, dtype=np.int64)
            new_rows[valid] = positions[old_order[rows[valid]]]
            new_indexes = [
                self.index(int(r), p.column()) if r >= 0 else QModelIndex()
                for p, r in zip(persistent, new_rows, strict=True)
            ]
            self.changePersistentIndexList(persistent, new_indexes)
        self.layoutChanged.emit()
        self.order_changed.emit()

    # ------------------------------------------------------------------ change notices
    def labels_changed(self, task: str | None = None) -> None:
        """User labels changed (any rows): repaint the label and mark columns, one signal."""
        if not len(self._order):
            return
        keys = ["corrected", *(LABEL_KEYS if task is None else (task,))]
        columns = [COLUMN_INDEX[k] for k in keys]
        self.dataChanged.emit(
            self.index(0, min(columns)),
            self.index(self.rowCount() - 1, max(columns)),
        )

    def predictions_changed(self) -> None:
        if len(self._order):
            self.dataChanged.emit(
                self.index(0, COLUMN_INDEX["spam"]),
                self.index(self.rowCount() - 1, COLUMN_INDEX["sentiment_score"]),
            )

    def clusters_changed(self) -> None:
        self._refresh_cluster_text()
        if len(self._order):
            column = COLUMN_INDEX["cluster"]
            self.dataChanged.emit(self.index(0, column), self.index(self.rowCount() - 1, column))

    # ------------------------------------------------------------------ helpers
    def _predicted(self, task: str, store: int) -> int:
        c = self._collection
        if task == "spam":
            p = float(c.spam_prob[store])
            return NO_LABEL if math.isnan(p) else int(p >= 0.5)
        probs = c.sentiment_prob[store]
        if np.isnan(probs).any():
            return NO_LABEL
        return int(np.argmax(probs))

    def _sentiment_score(self, store: int) -> float:
        probs = self._collection.sentiment_prob[store]
        if np.isnan(probs).any():
            return math.nan
        return float(probs.max())

    def _sentiment_scores(self) -> np.ndarray:
        probs = self._collection.sentiment_prob
        scores = probs.max(axis=1) if len(probs) else np.zeros(0, np.float32)
        return scores  # NaN rows stay NaN (max propagates NaN)

    def _label_tip(self, task: str, store: int, user: int) -> str:
        predicted = self._predicted(task, store)
        parts = []
        if user != NO_LABEL:
            how = "you corrected" if self._collection.corrected[task][store] else "imported"
            parts.append(f"Your label: {CLASSES[task][user]} ({how})")
        if predicted != NO_LABEL:
            parts.append(f"Model: {CLASSES[task][predicted]}")
        return "\n".join(parts) if parts else "Not predicted yet"

    def _cluster_tip(self, number: int) -> str:
        terms = getattr(self._collection.clustering, "top_terms", None) or []
        words = ", ".join(list(terms[number])[:10]) if number < len(terms) else ""
        return f"Theme {number + 1}: {words}"


_HANDLED_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.EditRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.AccessibleTextRole,
        StoreRowRole,
        LabelCodeRole,
        LabelSourceRole,
        ScoreRole,
    }
)

__all__ = [
    "COLUMNS",
    "COLUMN_INDEX",
    "LabelCodeRole",
    "LabelSourceRole",
    "MAX_VIEW_ROWS",
    "MessageTableModel",
    "ScoreRole",
    "StoreRowRole",
]
