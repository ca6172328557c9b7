"""The window's dialogs: column mapping, import problems, retrain choice, export, shortcuts.

Each dialog only collects a choice or shows a result; the work is done by the window's
tasks over :mod:`guiapp.core`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from guiapp.qt import style

NO_COLUMN = "(none)"


def ok_cancel_buttons(dialog: QDialog, ok_text: str) -> QDialogButtonBox:
    """An OK (named ``ok_text``) / Cancel button box that accepts or rejects ``dialog``."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {style.MUTED_TEXT};")
    return label


def _table(headers: list[str], rows: list[list[str]], parent: QWidget) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers), parent)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setWordWrap(False)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 10)
    table.setAlternatingRowColors(True)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            text = str(cell)
            item = QTableWidgetItem(" ".join(text.split())[:200])
            item.setToolTip(text[:1000])
            table.setItem(r, c, item)
    return table


# ----------------------------------------------------------------------------- columns
class ColumnMappingDialog(QDialog):
    """Choose which column of a table holds the text (and, optionally, the labels)."""

    def __init__(self, preview, candidates: list[str] | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Choose the message column")
        self.resize(860, 480)
        self.preview = preview
        columns = list(preview.columns)
        candidates = list(candidates or preview.text_candidates or [])
        layout = QVBoxLayout(self)
        name = Path(preview.path).name
        layout.addWidget(
            QLabel(
                f"<b>{name}</b> has several columns that could hold the message text. "
                "Choose the one to read; the others are kept and exported as they are."
            )
        )
        form = QFormLayout()
        self.text_combo = QComboBox(self)
        ordered = candidates + [c for c in columns if c not in candidates]
        for column in ordered:
            suffix = "  (likely)" if column in candidates[:1] else ""
            self.text_combo.addItem(column + suffix, column)
        if preview.text_column in ordered:
            self.text_combo.setCurrentIndex(ordered.index(preview.text_column))
        form.addRow("Message text:", self.text_combo)
        self.label_combos: dict[str, QComboBox] = {}
        guessed = dict(preview.label_columns or {})
        for task, title in (("spam", "Spam labels:"), ("sentiment", "Sentiment labels:")):
            combo = QComboBox(self)
            combo.addItem(NO_COLUMN, None)
            for column in columns:
                combo.addItem(column, column)
            if guessed.get(task) in columns:
                combo.setCurrentIndex(columns.index(guessed[task]) + 1)
            form.addRow(title, combo)
            self.label_combos[task] = combo
        layout.addLayout(form)
        layout.addWidget(_muted(f"First rows of the file ({preview.encoding}):"))
        self.table = _table(columns, preview.rows, self)
        header = self.table.horizontalHeader()
        if len(columns) <= 4:
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        else:
            header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
            for i in range(len(columns)):
                self.table.setColumnWidth(i, 200)
        layout.addWidget(self.table, 1)
        self.text_combo.currentIndexChanged.connect(self._highlight)
        self._highlight()
        buttons = ok_cancel_buttons(self, "Import")
        layout.addWidget(buttons)

    def _highlight(self) -> None:
        """Tint the chosen text column of the preview."""
        chosen = self.text_column()
        tint = QColor(style.CORRECTED_COLOUR)
        tint.setAlpha(40)
        for c, column in enumerate(self.preview.columns):
            item = self.table.horizontalHeaderItem(c)
            if item is not None:
                font = item.font()
                font.setBold(column == chosen)
                item.setFont(font)
            for r in range(self.table.rowCount()):
                cell = self.table.item(r, c)
                if cell is not None:
                    cell.setBackground(tint if column == chosen else QBrush())

    def text_column(self) -> str:
        return self.text_combo.currentData()

    def label_columns(self) -> dict[str, str | None]:
        return {task: combo.currentData() for task, combo in self.label_combos.items()}


# ----------------------------------------------------------------------------- problems
def _short_location(location) -> str:
    """The file name (not its folder), member and line: what the user needs to find it."""
    parts = [Path(location.file).name]
    if location.member:
        parts.append(location.member)
    if location.line is not None:
        parts.append(f"line {location.line}")
    if location.record is not None:
        parts.append(f"message {location.record}")
    return ", ".join(parts)


class ProblemsDialog(QDialog):
    """What an import skipped, each with its place; the rest was loaded."""

    def __init__(self, problems, loaded: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import problems")
        self.resize(820, 420)
        self.problems = list(problems)
        layout = QVBoxLayout(self)
        n = len(self.problems)
        layout.addWidget(
            QLabel(
                f"<b>{loaded:,} messages were imported.</b> "
                f"{n:,} part{'s' if n != 1 else ''} of the input "
                f"{'were' if n != 1 else 'was'} left out or read only in part "
                "(each line says which):"
            )
        )
        rows = [[_short_location(p.location), p.reason] for p in self.problems]
        self.table = _table(["Where", "Problem"], rows, self)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for r, problem in enumerate(self.problems):
            self.table.item(r, 0).setToolTip(str(problem.location))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 320)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy to Clipboard", self)
        copy.clicked.connect(self.copy)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)

    def text(self) -> str:
        return "\n".join(str(p) for p in self.problems)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())


# ----------------------------------------------------------------------------- retrain
class RetrainDialog(QDialog):
    """Which models to retrain, with how many of the user's labels each would learn from."""

    def __init__(self, counts: dict[str, tuple[int, int]], defaults: dict[str, bool], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Retrain models")
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Adapt this project's models to <b>your labels</b>. "
                "You can keep labelling while it runs.",
                self,
            )
        )
        self.boxes: dict[str, QCheckBox] = {}
        for task, title in (("spam", "Spam model"), ("sentiment", "Sentiment model")):
            labelled, corrected = counts.get(task, (0, 0))
            if labelled:
                text = f"{title} — {labelled:,} labelled by you, {corrected:,} corrected in Triage"
            else:
                text = f"{title} — no labels yet: nothing to learn from"
            box = QCheckBox(text, self)
            box.setEnabled(labelled > 0)
            box.setChecked(labelled > 0 and defaults.get(task, True))
            box.toggled.connect(self._update)
            layout.addWidget(box)
            self.boxes[task] = box
        layout.addWidget(
            _muted(
                "A new version is kept only where it measures better on your labels; it "
                "belongs to this project (other projects keep their own models). Models ▸ "
                "Model Versions goes back to an earlier one or to the shipped model."
            )
        )
        self.buttons = ok_cancel_buttons(self, "Retrain")
        layout.addWidget(self.buttons)
        self._update()

    def tasks(self) -> list[str]:
        return [task for task, box in self.boxes.items() if box.isChecked()]

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.tasks()))


# ----------------------------------------------------------------------------- export
EXPORT_SCOPES = (
    ("all", "All messages"),
    ("labelled", "Messages labelled by you"),
    ("filter", "Messages in the current filter"),
    ("selection", "Selected messages"),
)


EXPORT_FORMATS = (
    ("csv", "CSV", ".csv", "CSV files (*.csv)"),
    ("xlsx", "Excel workbook", ".xlsx", "Excel workbooks (*.xlsx)"),
)


class ExportDialog(QDialog):
    """Scope, format and path of a labelled export, and whether a CSV is made safe for
    spreadsheets (the window remembers the last format and that choice)."""

    def __init__(
        self,
        counts: dict[str, int],
        path: str,
        scope: str = "all",
        parent=None,
        *,
        format: str = "csv",
        spreadsheet_safe: bool = False,
    ):
        super().__init__(parent)
        self.setWindowTitle("Export labelled messages")
        self.resize(560, 0)
        layout = QVBoxLayout(self)
        group = QGroupBox("Messages to export", self)
        box = QVBoxLayout(group)
        self.scope_group = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        for key, title in EXPORT_SCOPES:
            count = counts.get(key, 0)
            radio = QRadioButton(f"{title}  ({count:,})", group)
            radio.setEnabled(count > 0)
            self.scope_group.addButton(radio)
            self.radios[key] = radio
            box.addWidget(radio)
        chosen = scope if counts.get(scope, 0) else "all"
        self.radios[chosen].setChecked(True)
        layout.addWidget(group)

        form = QFormLayout()
        self.format_combo = QComboBox(self)
        self.format_combo.setAccessibleName("Format")
        for key, title, _suffix, _filter in EXPORT_FORMATS:
            self.format_combo.addItem(title, key)
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(format)))
        form.addRow("Format:", self.format_combo)
        row = QHBoxLayout()
        self.path_edit = QLineEdit(path, self)
        self.path_edit.setAccessibleName("Export file")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form.addRow("File:", row)
        layout.addLayout(form)
        self.safe_box = QCheckBox("Safe for spreadsheets", self)
        self.safe_box.setChecked(spreadsheet_safe)
        layout.addWidget(self.safe_box)
        self.format_note = _muted("")
        layout.addWidget(self.format_note)
        layout.addWidget(
            _muted(
                "One row per message: text columns, your label or the model's (and which), "
                "scores, theme and keywords, whether you corrected it."
            )
        )
        self.buttons = ok_cancel_buttons(self, "Export")
        layout.addWidget(self.buttons)
        self.path_edit.textChanged.connect(self._update)
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        self.safe_box.toggled.connect(self._update)
        self._on_format_changed()

    def scope(self) -> str:
        for key, radio in self.radios.items():
            if radio.isChecked():
                return key
        return "all"

    def format(self) -> str:
        return self.format_combo.currentData()

    def spreadsheet_safe(self) -> bool:
        """Whether the CSV escapes formula-like cells (a workbook never needs it)."""
        return self.format() == "csv" and self.safe_box.isChecked()

    def _suffix(self) -> str:
        return next(f[2] for f in EXPORT_FORMATS if f[0] == self.format())

    def path(self) -> str:
        text = self.path_edit.text().strip()
        if text and not text.lower().endswith(self._suffix()):
            text += self._suffix()
        return text

    def _browse(self) -> None:
        filter_ = next(f[3] for f in EXPORT_FORMATS if f[0] == self.format())
        path, _ = QFileDialog.getSaveFileName(
            self, "Export labelled messages", self.path_edit.text(), filter_
        )
        if path:
            self.path_edit.setText(path)

    def _on_format_changed(self) -> None:
        # The file name follows the format: "x.csv" becomes "x.xlsx" and back.
        text = self.path_edit.text().strip()
        for _key, _title, suffix, _filter in EXPORT_FORMATS:
            if text.lower().endswith(suffix) and suffix != self._suffix():
                self.path_edit.setText(text[: -len(suffix)] + self._suffix())
                break
        self.safe_box.setEnabled(self.format() == "csv")
        self._update()

    def _update(self) -> None:
        if self.format() == "xlsx":
            note = (
                "Every cell is written as text, so a spreadsheet never runs one as a formula. "
                "Excel holds up to 1,048,575 rows and 32,767 characters a cell."
            )
        elif self.safe_box.isChecked():
            note = (
                "Texts that start with = + - or @ get a leading ' so a spreadsheet does not "
                "run them as formulas (Triage removes it when you import the file again). "
                "Other programs (pandas, R) will see the '."
            )
        else:
            note = (
                "Every text is written exactly as it is, for pandas, R or Triage. Opened in a "
                "spreadsheet, a text starting with = could run as a formula: tick "
                "\u201cSafe for spreadsheets\u201d or choose Excel workbook for that."
            )
        self.format_note.setText(note)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.path()))
        # Tall enough for the wrapped notes at this width (the minimum Qt derives for a
        # dialog with wrapping labels squeezed the radio buttons together).
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)


# ----------------------------------------------------------------------------- reopening
class ExistingProjectDialog(QMessageBox):
    """These files already have a project: open it (the default) or import them anew.

    ``projects`` are :class:`~guiapp.core.project_index.ProjectSummary`, newest first;
    :attr:`open_button` opens the first.
    """

    def __init__(self, names: list[str], projects, parent=None):
        super().__init__(parent)
        files = ", ".join(names[:3]) + (f" and {len(names) - 3:,} more" if len(names) > 3 else "")
        self.setWindowTitle("Already in a project")
        self.setIcon(QMessageBox.Icon.Question)
        self.setText(f"{files} {'is' if len(names) == 1 else 'are'} already in a project.")
        newest = projects[0]
        lines = [f"Project: {newest.describe()}", f"File: {newest.path}"]
        if len(projects) > 1:
            lines.append(f"({len(projects) - 1:,} older project(s) were made from the same files.)")
        lines.append(
            "Open it to carry on with your labels, or import the files again into a new, "
            "separate project (this one is kept as it is)."
        )
        self.setInformativeText("\n\n".join(lines))
        self.open_button = self.addButton("Open Project", QMessageBox.ButtonRole.AcceptRole)
        self.new_button = self.addButton("Import as New Project", QMessageBox.ButtonRole.ActionRole)
        self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.open_button)


# ----------------------------------------------------------------------------- shortcuts
class ShortcutsDialog(QDialog):
    def __init__(self, actions, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(520, 560)
        layout = QVBoxLayout(self)
        rows = []
        for action in actions:
            keys = ", ".join(s.toString() for s in action.shortcuts())
            if keys:
                name = action.text().replace("&", "").split("\t")[0].split(":")[0]
                rows.append([name, keys])
        rows += [
            ["Edit the label in a cell", "F2, double-click"],
            ["Next / previous message", "Down, Up"],
            ["Extend the selection", "Shift+Down, Shift+click, Ctrl+click"],
            ["Clear the search and filters", "Esc (in the filter bar)"],
        ]
        table = _table(["Action", "Keys"], rows, self)
        # Both columns as wide as their longest entry, so no key is ever cut ("Ctrl+Sh…");
        # the dialog grows to fit them (up to most of the screen).
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.resizeColumnsToContents()
        table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table = table
        layout.addWidget(table)
        spacing = 3 * table.fontMetrics().horizontalAdvance("M")
        width = table.columnWidth(0) + table.sizeHintForColumn(1) + spacing
        width += table.verticalScrollBar().sizeHint().width() + 2 * table.frameWidth()
        margins = layout.contentsMargins()
        width += margins.left() + margins.right()
        screen = QGuiApplication.primaryScreen()
        limit = screen.availableGeometry().width() * 9 // 10 if screen else width
        self.resize(min(max(width, 480), limit), 560)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


__all__ = [
    "ColumnMappingDialog",
    "ExistingProjectDialog",
    "ExportDialog",
    "ProblemsDialog",
    "RetrainDialog",
    "ShortcutsDialog",
]
