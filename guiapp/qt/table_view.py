"""The message table widget: fixed row height, selection by store rows, label-and-advance."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView

from guiapp.qt import style
from guiapp.qt.delegates import LabelDelegate, ScoreDelegate
from guiapp.qt.table_model import COLUMN_INDEX, COLUMNS, MessageTableModel

# Restoring a selection after a sort costs one range per run of adjacent rows, and painting
# tests every cell against every range: past this many runs the selection is dropped (and
# the status bar says so) rather than making every repaint slow.
MAX_RESTORED_RANGES = 5_000


MAIL_KEYS = ("sender", "subject", "date")
MIN_TEXT_WIDTH = 220


class MessageTableView(QTableView):
    """A ``QTableView`` tuned for a million rows (see STYLE.md, "Big tables")."""

    current_row_changed = Signal(int)  # store row, -1 when none
    selection_dropped = Signal(int)  # rows that could not be kept selected after a sort
    columns_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # Not AnyKeyPressed: single keys (S, H, 1, 2, 3) are label shortcuts, not edits.
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        self.setCornerButtonEnabled(False)
        vertical = self.verticalHeader()
        vertical.setVisible(False)
        # Never ResizeToContents on rows: 39 s for 100k rows (STYLE.md); Fixed costs nothing.
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 10)
        vertical.setMinimumSectionSize(self.fontMetrics().height() + 4)
        header = self.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._on_header_menu)
        self.setItemDelegateForColumn(COLUMN_INDEX["spam"], LabelDelegate("spam", self))
        self.setItemDelegateForColumn(COLUMN_INDEX["sentiment"], LabelDelegate("sentiment", self))
        scores = ScoreDelegate(self)
        self.setItemDelegateForColumn(COLUMN_INDEX["spam_score"], scores)
        self.setItemDelegateForColumn(COLUMN_INDEX["sentiment_score"], scores)
        self._saved_rows: np.ndarray | None = None
        self.empty_text = ""
        self._saved_current: tuple[int, int] | None = None

    # ------------------------------------------------------------------ model
    def setModel(self, model: MessageTableModel) -> None:  # noqa: N802 - Qt override
        super().setModel(model)
        model.order_about_to_change.connect(self._on_model_order_about_to_change)
        model.order_changed.connect(self._on_model_order_changed)
        model.modelReset.connect(lambda: self.current_row_changed.emit(-1))
        self.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        # No sort indicator *before* sorting is enabled: enabling sorts by the indicator's
        # section, which is column 0 by default -- every new collection was then sorted by
        # the "corrected" column, a million-row argsort on the GUI thread, with no indicator
        # to show it.
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        # Connected after setSortingEnabled's own slot, so this runs once the rows are
        # sorted: a sort shows the top of the new order (keeping the selection, whose
        # scroll-into-view had left the view mid-list).
        self.horizontalHeader().sortIndicatorChanged.connect(lambda *_: self.scrollToTop())
        for i, column in enumerate(COLUMNS):
            self.setColumnWidth(i, column.width)

    def set_empty_text(self, text: str) -> None:
        """What the empty table says in its middle ("No messages match ..."), or ""."""
        if text != self.empty_text:
            self.empty_text = text
            self.viewport().update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if self.empty_text and self.model() is not None and self.model().rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(QColor(style.MUTED_TEXT))
            rect = self.viewport().rect().adjusted(24, 24, -24, -24)
            flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
            painter.drawText(rect, int(flags) | int(Qt.TextFlag.TextWordWrap), self.empty_text)
            painter.end()

    def message_model(self) -> MessageTableModel:
        return self.model()  # type: ignore[return-value]

    # ------------------------------------------------------------------ selection
    def selected_view_rows(self) -> np.ndarray:
        """Selected view rows, ascending, without listing every selected index
        (``selectedRows()`` builds one QModelIndex per row: seconds for a million)."""
        selection = self.selectionModel().selection() if self.selectionModel() else []
        parts = [np.arange(r.top(), r.bottom() + 1, dtype=np.int64) for r in selection]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(parts))

    def selected_store_rows(self) -> np.ndarray:
        rows = self.selected_view_rows()
        return np.sort(self.message_model().store_rows(rows)) if len(rows) else rows

    def current_store_row(self) -> int:
        index = self.currentIndex()
        if not index.isValid():
            return -1
        return self.message_model().store_row(index.row())

    def select_view_rows(self, rows: np.ndarray, *, current: int | None = None) -> bool:
        """Select the given view rows (as ranges). False if there were too many runs."""
        model = self.message_model()
        sm = self.selectionModel()
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        rows = rows[(rows >= 0) & (rows < model.rowCount())]
        selection = QItemSelection()
        if len(rows):
            breaks = np.flatnonzero(np.diff(rows) != 1)
            starts = np.concatenate([[rows[0]], rows[breaks + 1]])
            ends = np.concatenate([rows[breaks], [rows[-1]]])
            if len(starts) > MAX_RESTORED_RANGES:
                sm.clearSelection()
                return False
            last = model.columnCount() - 1
            for top, bottom in zip(starts.tolist(), ends.tolist(), strict=True):
                selection.select(model.index(top, 0), model.index(bottom, last))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        sm.select(selection, flags)
        if current is not None and 0 <= current < model.rowCount():
            sm.setCurrentIndex(
                model.index(current, max(self.currentIndex().column(), 1)),
                QItemSelectionModel.SelectionFlag.NoUpdate,
            )
        return True

    def select_store_rows(self, stores: np.ndarray) -> bool:
        positions = self.message_model().view_positions()[np.asarray(stores, dtype=np.int64)]
        return self.select_view_rows(positions[positions >= 0])

    def go_to_view_row(self, row: int) -> None:
        """Make ``row`` the current and only selected row, and scroll to it."""
        model = self.message_model()
        if not 0 <= row < model.rowCount():
            return
        column = self.currentIndex().column() if self.currentIndex().isValid() else 1
        index = model.index(row, column)
        self.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.scrollTo(index)

    def advance(self) -> None:
        """Move to the next row after labelling one message (one key per message)."""
        index = self.currentIndex()
        if index.isValid() and index.row() + 1 < self.message_model().rowCount():
            self.go_to_view_row(index.row() + 1)

    def _on_model_order_about_to_change(self) -> None:
        # Save the selection as store rows and drop it before the layout change, so the
        # selection model does not track it index by index (see table_model._relayout).
        rows = self.selected_view_rows()
        model = self.message_model()
        self._saved_rows = model.store_rows(rows) if len(rows) else None
        self.selectionModel().clearSelection()

    def _on_model_order_changed(self) -> None:
        saved, self._saved_rows = self._saved_rows, None
        if saved is None:
            return
        if not self.select_store_rows(saved):
            self.selection_dropped.emit(len(saved))
        else:
            index = self.currentIndex()
            if index.isValid():
                self.scrollTo(index)

    def _on_current_row_changed(self, current, previous) -> None:
        store = self.message_model().store_row(current.row()) if current.isValid() else -1
        self.current_row_changed.emit(store)

    # ------------------------------------------------------------------ columns
    def fit_columns(self) -> None:
        """Give the Message column the width the label, score and theme columns leave, so
        that they all show without scrolling (a 1280-pixel laptop screen cut off Conf.,
        Theme and Kind); an email's From / Subject / Date follow on the right."""
        others = sum(
            self.columnWidth(i)
            for i, column in enumerate(COLUMNS)
            if column.key not in ("text", *MAIL_KEYS) and not self.isColumnHidden(i)
        )
        room = self.viewport().width() - others
        self.setColumnWidth(COLUMN_INDEX["text"], max(MIN_TEXT_WIDTH, room))

    def hide_empty_columns(self) -> None:
        """Hide From / Subject / Date when no message has one (SMS, tweets), show them
        when some do; the user can still toggle any column from the header menu."""
        empty = self.message_model().empty_keys
        for key in MAIL_KEYS:
            self.setColumnHidden(COLUMN_INDEX[key], key in empty)

    def _on_header_menu(self, pos) -> None:
        menu = QMenu(self)
        self.fill_columns_menu(menu)
        menu.exec(self.horizontalHeader().mapToGlobal(pos))

    def fill_columns_menu(self, menu: QMenu) -> None:
        menu.clear()
        for i, column in enumerate(COLUMNS):
            title = column.title if column.key != "corrected" else "✎ Corrected"
            action = menu.addAction(title)
            action.setCheckable(True)
            action.setChecked(not self.isColumnHidden(i))
            action.setEnabled(column.key != "text")
            action.toggled.connect(lambda on, i=i: self._set_column_visible(i, on))

    def _set_column_visible(self, column: int, visible: bool) -> None:
        self.setColumnHidden(column, not visible)
        self.columns_changed.emit()
