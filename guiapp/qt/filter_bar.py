"""The filter bar above the table: a debounced search box and the facets.

It only edits a :class:`~guiapp.core.query.FilterSpec` and says so (``filter_changed``);
the window computes the masks (the search in a worker) and hands them to the model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QWidget,
)
from superqt import QLabeledDoubleRangeSlider

from guiapp.core.messages import CLASSES, KINDS, NO_LABEL
from guiapp.core.query import FilterSpec

SEARCH_DELAY_MS = 250
SLIDER_DELAY_MS = 150

#: Facet name -> counts provider: returns {value: count} over the whole collection.
CountsProvider = Callable[[str], dict[object, int]]


class _Facet(QToolButton):
    """A drop-down of checkable values; nothing checked means "any"."""

    changed = Signal()

    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.title = title
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.menu_ = QMenu(self)
        self.setMenu(self.menu_)
        self._choices: list[tuple[object, str]] = []
        self._selected: set[object] = set()
        self.counts: Callable[[], dict[object, int]] | None = None
        self.menu_.aboutToShow.connect(self._rebuild)
        self._update_text()

    def set_choices(self, choices: list[tuple[object, str]]) -> None:
        self._choices = list(choices)
        known = {value for value, _ in self._choices}
        self._selected &= known
        self._update_text()

    def selected(self) -> frozenset | None:
        return frozenset(self._selected) if self._selected else None

    def set_selected(self, values) -> None:
        self._selected = set(values or ())
        self._update_text()

    def _rebuild(self) -> None:
        counts = self.counts() if self.counts is not None else {}
        self.menu_.clear()
        any_action = self.menu_.addAction("Any")
        any_action.setCheckable(True)
        any_action.setChecked(not self._selected)
        any_action.triggered.connect(self._clear)
        self.menu_.addSeparator()
        for value, name in self._choices:
            count = counts.get(value)
            text = f"{name}\t{count:,}" if count is not None else name
            action = QAction(text, self.menu_)
            action.setCheckable(True)
            action.setChecked(value in self._selected)
            action.toggled.connect(lambda on, v=value: self._toggle(v, on))
            self.menu_.addAction(action)

    def _clear(self) -> None:
        if self._selected:
            self._selected.clear()
            self._update_text()
            self.changed.emit()

    def _toggle(self, value, on: bool) -> None:
        if on:
            self._selected.add(value)
        else:
            self._selected.discard(value)
        self._update_text()
        self.changed.emit()

    def _update_text(self) -> None:
        names = [name for value, name in self._choices if value in self._selected]
        if not names:
            self.setText(f"{self.title}: any")
            self.setStyleSheet("")
        else:
            shown = ", ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else "")
            self.setText(f"{self.title}: {shown}")
            self.setStyleSheet("QToolButton { font-weight: 600; }")


class FilterBar(QWidget):
    """Search box + facets + score range; emits the whole :class:`FilterSpec` on change."""

    filter_changed = Signal(object)  # FilterSpec

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: np.ndarray | None = None
        self._rows_label = ""
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(6)

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search text, subject, sender…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(180)
        self.search.setAccessibleName("Search")
        layout.addWidget(self.search, 3)

        self.kind = _Facet("Kind", self)
        self.kind.set_choices([(k, k) for k in KINDS])
        self.spam = _Facet("Spam", self)
        self.spam.set_choices([(1, "spam"), (0, "ham"), (NO_LABEL, "no label")])
        self.sentiment = _Facet("Sentiment", self)
        self.sentiment.set_choices(
            [(i, name) for i, name in enumerate(CLASSES["sentiment"])] + [(NO_LABEL, "no label")]
        )
        self.cluster = _Facet("Theme", self)
        self.corrected = _Facet("Corrected", self)
        self.corrected.set_choices([(True, "corrected by you"), (False, "not corrected")])
        for facet in (self.kind, self.spam, self.sentiment, self.cluster, self.corrected):
            layout.addWidget(facet)
            facet.changed.connect(self._emit)

        self.score_task = QComboBox(self)
        self.score_task.addItem("P(spam)", "spam")
        self.score_task.addItem("Sentiment conf.", "sentiment")
        self.score_task.setToolTip("Show only messages whose score is in this range")
        layout.addWidget(self.score_task)
        self.score = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal, self)
        self.score.setRange(0.0, 1.0)
        self.score.setSingleStep(0.01)
        self.score.setDecimals(2)
        self.score.setValue((0.0, 1.0))
        # Each bound once, as an editable value at its end of the slider (superqt's default
        # also labels the handles, so "0.00" and "1.00" were printed twice).
        self.score.setHandleLabelPosition(QLabeledDoubleRangeSlider.LabelPosition.NoLabel)
        self.score.setEdgeLabelMode(QLabeledDoubleRangeSlider.EdgeLabelMode.LabelIsValue)
        self.score.setMinimumWidth(130)
        self.score.setToolTip("Score between: narrow it to find the uncertain ones")
        layout.addWidget(self.score, 2)

        self.rows_chip = QPushButton(self)
        self.rows_chip.setVisible(False)
        self.rows_chip.setToolTip("Click to show all rows again")
        self.rows_chip.setStyleSheet(
            "QPushButton { background: #1565c0; color: white; border-radius: 9px;"
            " padding: 2px 10px; font-weight: 600; }"
        )
        self.rows_chip.clicked.connect(self.clear_rows)
        layout.addWidget(self.rows_chip)

        self.clear_button = QToolButton(self)
        self.clear_button.setText("Clear")
        self.clear_button.setToolTip("Clear all filters (Esc in the search box)")
        self.clear_button.clicked.connect(self.clear)
        layout.addWidget(self.clear_button)

        self.shown_label = QLabel(self)
        self.shown_label.setMinimumWidth(10)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.search.returnPressed.connect(self._flush_search)
        self._slider_timer = QTimer(self)
        self._slider_timer.setSingleShot(True)
        self._slider_timer.setInterval(SLIDER_DELAY_MS)
        self._slider_timer.timeout.connect(self._emit)
        self.score.valueChanged.connect(lambda _: self._slider_timer.start())
        self.score_task.currentIndexChanged.connect(self._on_score_task_changed)
        self._emitting = True

    # ------------------------------------------------------------------ spec
    def spec(self) -> FilterSpec:
        corrected = self.corrected.selected()
        lo, hi = self.score.value()
        return FilterSpec(
            text=self.search.text(),
            kinds=self.kind.selected(),
            spam=self.spam.selected(),
            sentiment=self.sentiment.selected(),
            clusters=self.cluster.selected(),
            corrected=None if corrected is None or len(corrected) != 1 else next(iter(corrected)),
            score_task=self.score_task.currentData(),
            score_range=(round(float(lo), 4), round(float(hi), 4)),
            rows=self._rows,
            rows_label=self._rows_label,
        )

    def set_clusters(self, names: list[str]) -> None:
        """Theme choices after a (re-)clustering: value = theme number, 0-based."""
        self.cluster.set_choices([(i, f"{i + 1} · {n}") for i, n in enumerate(names)])

    def show_cluster(self, number: int | None) -> None:
        self.cluster.set_selected(None if number is None else {number})
        self._emit()

    def show_rows(self, rows: np.ndarray, label: str) -> None:
        """Restrict the table to an explicit set of store rows (e.g. flipped predictions)."""
        self._rows = np.asarray(rows, dtype=np.int64)
        self._rows_label = label
        self.rows_chip.setText(f"{label}  ✕")
        self.rows_chip.setVisible(True)
        self._emit()

    def clear_rows(self) -> None:
        self._rows = None
        self._rows_label = ""
        self.rows_chip.setVisible(False)
        self._emit()

    def clear(self) -> None:
        self._emitting = False
        try:
            self.search.clear()
            for facet in (self.kind, self.spam, self.sentiment, self.cluster, self.corrected):
                facet.set_selected(None)
            self.score.setValue((0.0, 1.0))
            self._rows = None
            self._rows_label = ""
            self.rows_chip.setVisible(False)
        finally:
            self._emitting = True
        self._search_timer.stop()
        self._slider_timer.stop()
        self._emit()

    def set_counts_provider(self, provider: CountsProvider) -> None:
        self.kind.counts = lambda: provider("kind")
        self.spam.counts = lambda: provider("spam")
        self.sentiment.counts = lambda: provider("sentiment")
        self.cluster.counts = lambda: provider("cluster")
        self.corrected.counts = lambda: provider("corrected")

    def _flush_search(self) -> None:
        self._search_timer.stop()
        self._emit()

    def _on_score_task_changed(self) -> None:
        if self.score.value() != (0.0, 1.0):
            self._emit()

    def _emit(self) -> None:
        if self._emitting:
            self.filter_changed.emit(self.spec())

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Escape:
            self.clear()
            return
        super().keyPressEvent(event)
