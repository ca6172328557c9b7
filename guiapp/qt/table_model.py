"""The message table: one ``QAbstractTableModel`` adapting a core ``Collection``.

The model owns no data. It reads the collection's numpy columns and Arrow strings, and keeps
one index array, ``order`` (view row -> store row), that it rebuilds from a sort permutation
and a filter mask. Sorting and filtering therefore happen inside the model with numpy and
pyarrow: a ``QSortFilterProxyModel`` over a million rows takes minutes to sort
(see STYLE.md), this takes a tenth of a second.

Everything that costs time per row over a whole collection (an Arrow string column of
each text column, which of them are empty, the model's label codes) can be computed off the
GUI thread with :func:`prepare_view` and handed to :meth:`MessageTableModel.set_collection`;
the model keeps the label codes until the window says the predictions changed.

Label edits do not write the collection: ``setData`` hands the request to ``label_editor``
(the window's undo stack turns it into a core command), and the window tells the model what
changed with :meth:`labels_changed` -- one ``dataChanged`` for any number of rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from guiapp.core import query
from guiapp.core.collection import Collection, predicted_codes
from guiapp.core.extraction import readable_text
from guiapp.core.messages import CLASSES, NO_LABEL, TASKS
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
LabelPaintRole = Qt.ItemDataRole.UserRole + 5  # (text, code, by the user) for the delegate

# data() runs some 1,700 times per repaint of the table: roles are compared as plain ints
# (Qt passes ints; comparing with an IntEnum member costs ten times as much).
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_EDIT = int(Qt.ItemDataRole.EditRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_STORE = int(StoreRowRole)
_CODE = int(LabelCodeRole)
_SOURCE = int(LabelSourceRole)
_SCORE = int(ScoreRole)
_PAINT = int(LabelPaintRole)
_TEXTUAL = frozenset({_DISPLAY, _ACCESSIBLE})
_HANDLED_ROLES = frozenset(
    {_DISPLAY, _EDIT, _TOOLTIP, _FOREGROUND, _FONT, _ALIGN, _ACCESSIBLE}
    | {_STORE, _CODE, _SOURCE, _SCORE, _PAINT}
)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_CENTRE = int(Qt.AlignmentFlag.AlignCenter)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_EDITABLE_FLAGS = _FLAGS | Qt.ItemFlag.ItemIsEditable


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    tip: str
    task: str | None = None  # label / score columns belong to a task
    width: int = 100


COLUMNS: tuple[Column, ...] = (
    Column("corrected", "✎", "✎ you corrected the model, ✓ you confirmed it", width=28),
    Column("text", "Message", "The message text (first line)", width=400),
    Column("spam", "Spam", "Your label where you gave one, else the model's", "spam", 66),
    Column("spam_score", "P(spam)", "The spam model's probability of spam", "spam", 68),
    Column(
        "sentiment", "Sentiment", "Your label where you gave one, else the model's", "sentiment", 86
    ),
    Column(
        "sentiment_score",
        "Conf.",
        "The sentiment model's probability of its class",
        "sentiment",
        58,
    ),
    Column(
        "cluster", "Theme", "k-means theme of unlabelled messages, with its keywords", width=150
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
_KEYS = tuple(c.key for c in COLUMNS)
_EDITABLE = tuple(c.key in LABEL_KEYS for c in COLUMNS)

LabelEditor = Callable[[str, np.ndarray, int], bool]


@dataclass
class PreparedView:
    """What :meth:`MessageTableModel.set_collection` needs of a collection, computed by
    :func:`prepare_view` on a worker thread (a million rows take ~0.3 s)."""

    collection: Collection
    strings: dict[str, pa.Array]
    empty_keys: set[str]
    derived: dict[str, np.ndarray]
    """:func:`prediction_columns` of the collection's predictions."""
    ranks: dict[str, np.ndarray] = field(default_factory=dict)
    order: np.ndarray | None = None
    """The unsorted view order (0..n-1): allocating and filling a million int64 took 3-4 ms
    of the GUI thread's turn that shows a new project."""


def text_strings(collection: Collection) -> tuple[dict[str, pa.Array], set[str]]:
    """Each text column as one contiguous Arrow array, and the columns no message fills."""
    strings = {key: query.arrow_strings(collection.messages[key]) for key in TEXT_KEYS}
    empty = {
        key
        for key, array in strings.items()
        if not len(array) or not (pc.max(pc.utf8_length(array)).as_py() or 0)
    }
    return strings, empty


def prepare_view(
    collection: Collection, rank_keys: Iterable[str] = (), *, stop_requested=None
) -> PreparedView:
    """Compute off the GUI thread what showing ``collection`` needs; ``rank_keys``: text
    columns to rank for sorting now (the column the table is sorted by)."""
    strings, empty = text_strings(collection)
    derived = prediction_columns({t: _probabilities(collection, t) for t in TASKS})
    ranks = {}
    for key in rank_keys:
        if stop_requested is not None and stop_requested():
            break
        if key in strings:
            ranks[key] = query.string_ranks(strings[key])
    order = np.arange(len(collection), dtype=np.int64)
    return PreparedView(collection, strings, empty, derived, ranks, order)


def prediction_columns(prob: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the table derives from new probabilities, per task given (spam: P(spam);
    sentiment: (n, 3)): the label codes (``"spam"``, ``"sentiment"``) and the sentiment
    score (``"sentiment_score"``, the probability of the predicted class). For a worker
    thread; :meth:`MessageTableModel.predictions_changed` takes the result."""
    out = {}
    for task, p in prob.items():
        out[task] = predicted_codes(task, p)
        if task == "sentiment":
            out["sentiment_score"] = _row_max(p)
    return out


def _row_max(prob: np.ndarray) -> np.ndarray:
    # NaN rows (not predicted) stay NaN: max propagates NaN.
    return prob.max(axis=1) if len(prob) else np.zeros(0, np.float32)


def _probabilities(collection: Collection, task: str) -> np.ndarray:
    return collection.spam_prob if task == "spam" else collection.sentiment_prob


def preview(text: str) -> str:
    """One line of a message for the table: readable text (HTML as text, entities decoded,
    see :func:`~guiapp.core.extraction.readable_text`), whitespace collapsed, cut at
    PREVIEW_CHARS."""
    head = _readable_head(text)[: PREVIEW_CHARS * 2]
    line = " ".join(head.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


@functools.lru_cache(maxsize=4096)
def _readable_head(text: str) -> str:
    # The rows on screen are painted again and again; an HTML mail is parsed once. Its
    # first READABLE_HEAD characters are enough for a preview and a tooltip.
    return readable_text(text[:READABLE_HEAD])


READABLE_HEAD = 30_000


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
        self._n_rows = 0
        self._strings: dict[str, pa.Array] = {}
        self._ranks: dict[str, np.ndarray] = {}
        # prediction_columns (label codes, sentiment score) until the predictions change
        self._derived: dict[str, np.ndarray] = {}
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
        self._confirmed_brush = QBrush(QColor(style.MUTED_TEXT))
        self._muted_brush = QBrush(QColor(style.MUTED_TEXT))
        self._label_brushes = {
            task: {code: QBrush(style.label_colour(task, code)) for code in (NO_LABEL, *codes)}
            for task, codes in ((t, range(len(CLASSES[t]))) for t in LABEL_KEYS)
        }
        if collection is not None:
            self.set_collection(collection)

    # ------------------------------------------------------------------ collection
    @property
    def collection(self) -> Collection:
        return self._collection

    def set_collection(self, collection: Collection, prepared: PreparedView | None = None) -> None:
        """Show another collection (or the same one after rows were appended);
        ``prepared``: its :func:`prepare_view`, computed on a worker thread."""
        if prepared is not None and prepared.collection is not collection:
            prepared = None
        self.beginResetModel()
        self._collection = collection
        self._n_rows = len(collection)
        if prepared is not None:
            self._strings, self.empty_keys = prepared.strings, set(prepared.empty_keys)
            self._derived = dict(prepared.derived)
            for array in self._derived.values():
                array.flags.writeable = False
            # text column -> string_ranks, else computed on the first sort by it
            self._ranks = dict(prepared.ranks)
        else:
            self._strings, self.empty_keys = text_strings(collection)
            self._derived = {}
            self._ranks = {}
        self._permutation = None
        self._mask = None
        order = prepared.order if prepared is not None else None
        if order is None or len(order) != len(collection):
            order = np.arange(len(collection), dtype=np.int64)
        self._order = order
        self._position = None
        self._refresh_cluster_text()
        if self._sort is not None:
            column, sort_order = self._sort
            self._permutation = self._sort_permutation(column, sort_order)
            self._order = self._permutation
        self.endResetModel()
        self.order_changed.emit()

    def _column(self, key: str) -> np.ndarray:
        """A :func:`prediction_columns` column, computed here if no worker gave it."""
        array = self._derived.get(key)
        if array is None or len(array) != self._n_rows:
            task = "sentiment" if key == "sentiment_score" else key
            self._derived.update(prediction_columns({task: _probabilities(self._collection, task)}))
            array = self._derived[key]
            array.flags.writeable = False
        return array

    def predicted_codes(self, task: str) -> np.ndarray:
        """The model's label code per store row (read-only; kept until
        :meth:`predictions_changed`)."""
        return self._column(task)

    def label_codes(self, task: str) -> np.ndarray:
        """The label the user sees per store row: theirs, else the model's (int8)."""
        user = self._collection.user[task]
        return np.where(user >= 0, user, self.predicted_codes(task)).astype(np.int8)

    def text_columns(self) -> dict[str, pa.Array]:
        """The non-empty Arrow text columns (immutable: safe to hand to a worker)."""
        return {k: a for k, a in self._strings.items() if k not in self.empty_keys}

    def has_ranks(self, key: str) -> bool:
        return key in self._ranks

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
        return _EDITABLE_FLAGS if _EDITABLE[index.column()] else _FLAGS

    def data(self, index, role=_DISPLAY):
        if role not in _HANDLED_ROLES or not index.isValid():
            return None
        row = index.row()
        order = self._order
        if row >= len(order):
            return None
        store = int(order[row])
        if role == _STORE:
            return store
        key = _KEYS[index.column()]
        c = self._collection

        if key == "spam" or key == "sentiment":
            user = int(c.user[key][store])
            code = user if user != NO_LABEL else int(self._column(key)[store])
            if role == _PAINT:
                return (CLASSES[key][code], code, user != NO_LABEL) if code != NO_LABEL else None
            if role in _TEXTUAL:
                return CLASSES[key][code] if code != NO_LABEL else ""
            if role == _SOURCE:
                return "user" if user != NO_LABEL else ("model" if code != NO_LABEL else "")
            if role == _CODE:
                return code
            if role == _EDIT:
                return user
            if role == _FOREGROUND:
                return self._label_brushes[key][code]
            if role == _FONT:
                return self._bold if user != NO_LABEL else None
            if role == _TOOLTIP:
                return self._label_tip(key, store, user)
            return None

        if key == "spam_score" or key == "sentiment_score":
            array = c.spam_prob if key == "spam_score" else self._column("sentiment_score")
            value = float(array[store])
            missing = value != value or value < 0  # NaN: not predicted
            if role == _SCORE:
                return None if missing else value
            if role in _TEXTUAL:
                return "" if missing else f"{value:.2f}"
            if role == _ALIGN:
                return _RIGHT
            if role == _TOOLTIP:
                return None if missing else f"{value:.4f}"
            return None

        if key == "corrected":
            # ✎ where the user corrected the model, ✓ where they only confirmed it.
            corrected, confirmed = c.corrected, c.confirmed
            fixed = [t for t in LABEL_KEYS if corrected[t][store]]
            agreed = [t for t in LABEL_KEYS if confirmed[t][store]]
            if role in _TEXTUAL:
                return "✎" if fixed else ("✓" if agreed else "")
            if role == _TOOLTIP:
                tips = [f"You corrected the model: {', '.join(fixed)}"] if fixed else []
                tips += [f"You confirmed the model: {', '.join(agreed)}"] if agreed else []
                return "\n".join(tips) if tips else None
            if role == _FOREGROUND:
                return self._corrected_brush if fixed else self._confirmed_brush
            if role == _ALIGN:
                return _CENTRE
            return None

        if key == "cluster":
            if role in _TEXTUAL:
                number = int(c.cluster[store])
                if number < 0:
                    return ""
                if number < len(self._cluster_text):
                    return self._cluster_text[number]
                return str(number + 1)
            if role == _FOREGROUND:
                return self._muted_brush
            if role == _TOOLTIP:
                number = int(c.cluster[store])
                return self._cluster_tip(number) if 0 <= number < len(self._cluster_text) else None
            return None

        # text columns
        if role in _TEXTUAL:
            value = self._strings[key][store].as_py() or ""
            if key == "text":
                return preview(value)
            if key == "date" and len(value) >= 16 and value[10:11] == "T":
                return value[:10] + " " + value[11:16]  # ISO-8601 to the minute
            return value
        if role == _TOOLTIP and key == "text":
            value = _readable_head(self._strings[key][store].as_py() or "")
            return value[:600] + ("…" if len(value) > 600 else "")
        if role == _FOREGROUND and (key == "kind" or key == "date"):
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
        if column < 0:  # Qt's "no sort column": the store order
            if self._sort is not None:
                self._sort = None
                self._relayout(None, self._mask)
            return
        if column >= len(COLUMNS):
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
        if mask is None and self._mask is None:
            return  # nothing was filtered, nothing is: the order stands
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
            values = self.label_codes(key)
        elif key == "spam_score":
            values = c.score("spam")
        elif key == "sentiment_score":
            values = self._column("sentiment_score")
        elif key == "cluster":
            values = c.cluster
        else:  # corrected rows first when descending, then confirmed ones
            values = c.any_corrected().astype(np.int8) * 2 + c.any_confirmed().astype(np.int8)
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

    def predictions_changed(self, derived: dict[str, np.ndarray] | None = None) -> None:
        """The predictions changed: of every task (``derived`` None), or of the tasks whose
        :func:`prediction_columns` ``derived`` holds (computed on a worker thread)."""
        if derived is None:
            self._derived = {}
        else:
            for array in derived.values():
                array.flags.writeable = False
            self._derived.update(derived)
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
    def _label_tip(self, task: str, store: int, user: int) -> str:
        predicted = int(self._column(task)[store])
        parts = []
        if user != NO_LABEL:
            how = _how(self._collection, task, store)
            parts.append(f"Your label: {CLASSES[task][user]} ({how})")
        if predicted != NO_LABEL:
            parts.append(f"Model: {CLASSES[task][predicted]}")
        elif task == "sentiment" and "sentiment" in self._collection.model_versions:
            parts.append("No sentiment: nothing in it was written by the sender")
        return "\n".join(parts) if parts else "Not predicted yet"

    def _cluster_tip(self, number: int) -> str:
        terms = getattr(self._collection.clustering, "top_terms", None) or []
        words = ", ".join(list(terms[number])[:10]) if number < len(terms) else ""
        return f"Theme {number + 1}: {words}"


def _how(c, task: str, store: int) -> str:
    """Where a user label came from: "you corrected the model", "you confirmed it", "imported"."""
    if c.corrected[task][store]:
        return "you corrected the model"
    if c.confirmed[task][store]:
        return "you confirmed the model"
    return "imported"


__all__ = [
    "COLUMNS",
    "COLUMN_INDEX",
    "LabelCodeRole",
    "LabelPaintRole",
    "LabelSourceRole",
    "MAX_VIEW_ROWS",
    "MessageTableModel",
    "PreparedView",
    "ScoreRole",
    "StoreRowRole",
    "prediction_columns",
    "prepare_view",
]
