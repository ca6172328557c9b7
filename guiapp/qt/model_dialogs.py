"""Dialogs about models: what a retrain changed, and the versions to go back to."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from guiapp.core import session
from guiapp.qt import style


def _pct(value) -> str:
    return "—" if value is None else f"{float(value):.1%}"


def _delta(before, after) -> str:
    if before is None or after is None:
        return ""
    d = float(after) - float(before)
    colour = "#2e7d32" if d > 0.0005 else "#c62828" if d < -0.0005 else style.MUTED_TEXT
    return f'<span style="color:{colour}">{d:+.1%}</span>'


def _item(text: str, *, align_right: bool = False, bold: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if bold:
        font = item.font()
        font.setBold(True)
        item.setFont(font)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    return item


def _small_table(rows: int, headers: list[str], parent: QWidget) -> QTableWidget:
    table = QTableWidget(rows, len(headers), parent)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    height = table.horizontalHeader().sizeHint().height() + rows * 26 + 4
    table.setFixedHeight(height)
    for r in range(rows):
        table.setRowHeight(r, 26)
    return table


class _TaskPage(QWidget):
    def __init__(self, report: session.TaskReport, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        cv = report.cv
        header = (
            f"<p><b>{html.escape(report.task.capitalize())} model</b> → version "
            f"<code>{html.escape(report.version)}</code> "
            f'<span style="color:{style.MUTED_TEXT}">(was {html.escape(report.previous or "shipped")})'
            f"</span><br>Trained on the shipped data plus <b>{report.n_user_labels:,}</b> of your "
            f"labels ({report.n_corrected:,} corrected in Triage).</p>"
        )
        layout.addWidget(QLabel(header))
        layout.addWidget(
            QLabel(
                "<b>On your labelled messages</b> "
                f'<span style="color:{style.MUTED_TEXT}">({cv.get("method", "cross-validated")})</span>'
            )
        )
        metrics = _small_table(2, ["", "Before", "After", "Change"], self)
        for r, (key, name) in enumerate(
            (("accuracy", "Accuracy"), ("macro_recall", "Macro recall"))
        ):
            before, after = cv.get("before", {}).get(key), cv.get("after", {}).get(key)
            metrics.setItem(r, 0, _item(name, bold=True))
            metrics.setItem(r, 1, _item(_pct(before), align_right=True))
            metrics.setItem(r, 2, _item(_pct(after), align_right=True))
            label = QLabel(_delta(before, after))
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            label.setContentsMargins(0, 0, 6, 0)
            metrics.setCellWidget(r, 3, label)
        layout.addWidget(metrics)
        if cv.get("note"):
            note = QLabel(html.escape(cv["note"]))
            note.setWordWrap(True)
            note.setStyleSheet(f"color: {style.MUTED_TEXT};")
            layout.addWidget(note)

        row = QHBoxLayout()
        classes = list(report.classes)
        per_class = _small_table(len(classes), ["Class", "Precision", "Recall", "Messages"], self)
        for r, name in enumerate(classes):
            stats = report.per_class.get(name, {})
            item = _item(name, bold=True)
            item.setForeground(QColor(style.LABEL_COLOURS[report.task][r]))
            per_class.setItem(r, 0, item)
            per_class.setItem(r, 1, _item(_pct(stats.get("precision")), align_right=True))
            per_class.setItem(r, 2, _item(_pct(stats.get("recall")), align_right=True))
            per_class.setItem(r, 3, _item(f"{int(stats.get('support', 0)):,}", align_right=True))
        box = QVBoxLayout()
        box.addWidget(QLabel("<b>Per class</b> (after)"))
        box.addWidget(per_class)
        row.addLayout(box, 3)

        confusion = _small_table(len(classes), ["true \\ predicted", *classes], self)
        matrix = report.confusion
        peak = max((max(r) for r in matrix), default=0) or 1
        for r, name in enumerate(classes):
            confusion.setItem(r, 0, _item(name, bold=True))
            for c in range(len(classes)):
                value = int(matrix[r][c]) if r < len(matrix) and c < len(matrix[r]) else 0
                item = _item(f"{value:,}", align_right=True)
                shade = QColor("#1565c0" if r == c else "#c62828")
                shade.setAlpha(int(20 + 120 * value / peak) if value else 0)
                item.setBackground(shade)
                confusion.setItem(r, c + 1, item)
        box = QVBoxLayout()
        box.addWidget(QLabel("<b>Confusion matrix</b> (after)"))
        box.addWidget(confusion)
        row.addLayout(box, 4)
        layout.addLayout(row)
        layout.addWidget(
            QLabel(
                f"<b>{report.flipped:,}</b> predictions changed in the collection with this model."
            )
        )
        layout.addStretch(1)


class RetrainReportDialog(QDialog):
    """What a retrain changed, per task; a button filters the table to the flipped rows."""

    show_flipped_requested = Signal()

    def __init__(
        self,
        outcome: session.RetrainOutcome,
        parent=None,
        *,
        edit_number: int | None = None,
        later: int = 0,
    ):
        """``edit_number``: the project's last logged edit when the retrain read the labels;
        ``later``: label changes made while it ran (saved, but not learnt from)."""
        super().__init__(parent)
        self.setWindowTitle("Retrain report")
        self.resize(720, 560)
        layout = QVBoxLayout(self)
        flipped = len(outcome.flipped)
        basis = (
            f"edit #{edit_number:,} of this project"
            if edit_number is not None
            else "the start of the retrain"
        )
        summary = (
            f"<h3>Retrained {html.escape(' and '.join(outcome.reports))}</h3>"
            f"<p><b>{flipped:,}</b> message{'s' if flipped != 1 else ''} now "
            f"{'have' if flipped != 1 else 'has'} a different predicted label. "
            f'<span style="color:{style.MUTED_TEXT}">Computed from your labels as of '
            f"{basis}.</span>"
        )
        if later:
            many = later != 1
            summary += (
                f"<br><b>{later:,} label change{'s' if many else ''} you made while it ran "
                f"{'are' if many else 'is'} not in these models</b> (saved; "
                f"{'they' if many else 'it'} will count in the next retrain)."
            )
        summary += "</p>"
        self.summary = QLabel(summary)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.tabs = QTabWidget(self)
        for task, report in outcome.reports.items():
            self.tabs.addTab(_TaskPage(report, self), task.capitalize())
        layout.addWidget(self.tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.flipped_button = QPushButton(f"Show the {flipped:,} Changed Messages", self)
        self.flipped_button.setEnabled(flipped > 0)
        self.flipped_button.clicked.connect(self._on_flipped_clicked)
        buttons.addButton(self.flipped_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _on_flipped_clicked(self) -> None:
        self.show_flipped_requested.emit()
        self.accept()


def _measured_on(info: session.VersionInfo) -> str:
    if info.shipped:
        return (
            f"held-out test data ({info.measured_on})" if info.measured_on else "held-out test data"
        )
    if "cross-validation" in info.measured_on:
        return "your labels, cross-validated"
    return "your labels (training)" if info.measured_on else ""


class ModelVersionsDialog(QDialog):
    """Every model version per task; make an earlier one (or the shipped one) current."""

    version_chosen = Signal(str, str)  # task, version

    def __init__(self, current: dict[str, str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Model versions")
        self.resize(920, 400)
        self.current = dict(current)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Every retrain saves a new version in your data folder; the shipped models are "
                "never changed. Choose a version to predict with it again."
            )
        )
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(
            ["Version", "Your labels", "Accuracy", "Macro recall", "Measured on"]
        )
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setStyleSheet("QTreeView::item { padding: 3px 2px; }")
        header = self.tree.header()
        header.setStretchLastSection(True)
        self.tree.setColumnWidth(0, 330)
        for column, width in ((1, 90), (2, 80), (3, 95)):
            self.tree.setColumnWidth(column, width)
        self.tree.itemSelectionChanged.connect(self._update)
        self.tree.itemDoubleClicked.connect(lambda *_: self._use())
        layout.addWidget(self.tree, 1)
        self.card = QLabel(self)
        self.card.setWordWrap(True)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card.setStyleSheet(f"color: {style.MUTED_TEXT};")
        layout.addWidget(self.card)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.use_button = QPushButton("Use This Version", self)
        self.use_button.clicked.connect(self._use)
        buttons.addButton(self.use_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.reload()

    def reload(self) -> None:
        self.tree.clear()
        for task in ("spam", "sentiment"):
            parent = QTreeWidgetItem([f"{task.capitalize()} model"])
            font = parent.font(0)
            font.setBold(True)
            parent.setFont(0, font)
            self.tree.addTopLevelItem(parent)
            for info in session.list_versions(task):
                current = info.version == self.current.get(task)
                name = info.title + ("  — in use" if current else "")
                item = QTreeWidgetItem(
                    [
                        name,
                        "—" if info.shipped else f"{info.n_user_labels:,}",
                        _pct(info.accuracy),
                        _pct(info.macro_recall),
                        _measured_on(info),
                    ]
                )
                for column in (1, 2, 3):
                    item.setTextAlignment(
                        column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                item.setData(0, Qt.ItemDataRole.UserRole, (task, info.version))
                item.setToolTip(0, info.description)
                if current:
                    for column in range(5):
                        f = item.font(column)
                        f.setBold(True)
                        item.setFont(column, f)
                parent.addChild(item)
            parent.setExpanded(True)
        self._update()

    def _chosen(self):
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _update(self) -> None:
        chosen = self._chosen()
        self.use_button.setEnabled(chosen is not None and self.current.get(chosen[0]) != chosen[1])
        items = self.tree.selectedItems()
        self.card.setText(items[0].toolTip(0) if items and chosen else "")

    def _use(self) -> None:
        chosen = self._chosen()
        if chosen is None or self.current.get(chosen[0]) == chosen[1]:
            return
        self.version_chosen.emit(*chosen)
        self.accept()
