"""Dialogs about models: what a retrain changed, the versions to go back to, sharing a
model (export, import), and models that cannot be used (with a one-click retrain)."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from guiapp.core import report as report_words
from guiapp.core import session
from guiapp.core.errors import ModelError
from guiapp.core.messages import CLASSES, TASKS
from guiapp.qt import style
from guiapp.qt.dialogs import ok_cancel_buttons

TASK_TITLES = {"spam": "Spam model", "sentiment": "Sentiment model"}
MIN_CLASS = 10  # guiapp.core.models.retrain.MIN_CLASS (not imported: it loads scikit-learn)
SKOPS_FILTER = "Triage shared models (*.skops)"


def _pct(value) -> str:
    return report_words.percent(value)


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
    """One task's figures, each measured on labels its model was not fitted on."""

    def __init__(self, report: session.TaskReport, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        task = report.task.capitalize()
        if report.kept:
            what = (
                f"uses <code>{html.escape(report.version)}</code>: no adapted version measured "
                "better on your labels"
            )
        else:
            what = (
                f"→ new version <code>{html.escape(report.version or '(being saved)')}</code>, "
                f"adapted from {html.escape(report.start_version)}"
            )
        layout.addWidget(
            QLabel(
                f"<p><b>{html.escape(task)} model</b> {what}<br>Learnt from "
                f"<b>{report.n_user_labels:,}</b> of your labels ({report.n_corrected:,} "
                f"corrected in Triage).</p>",
                self,
            )
        )
        rows = [
            ("New model", f"cross-validated on your {report.n_user_labels:,} labels", report.new)
        ]
        if report.previous != report.start_version:
            rows.append(
                (
                    f"In use before ({report.previous})",
                    f"on the {report.n_added:,} labels added since it was trained",
                    report.previous_figures,
                )
            )
        rows.append(
            (
                f"Started from ({report.start_version})",
                f"on all {report.n_user_labels:,} of your labels",
                report.start,
            )
        )
        metrics = _small_table(len(rows), ["Model", "Measured", "Accuracy", "Macro recall"], self)
        for r, (name, measured, figures) in enumerate(rows):
            metrics.setItem(r, 0, _item(name, bold=r == 0))
            metrics.setItem(r, 1, _item(measured))
            for c, key in ((2, "accuracy"), (3, "macro_recall")):
                value = None if figures is None else figures.get(key)
                metrics.setItem(r, c, _item(_pct(value), align_right=True))
        header = metrics.horizontalHeader()
        for column in (0, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(metrics)
        # Plain text: escaping it for HTML showed the entities ("&#x27;after&#x27;").
        method = QLabel(f"New model measured by {report.method}.", self)
        method.setTextFormat(Qt.TextFormat.PlainText)
        method.setWordWrap(True)
        method.setStyleSheet(f"color: {style.MUTED_TEXT};")
        layout.addWidget(method)

        new = report.new
        row = QHBoxLayout()
        classes = list(report.classes)
        per_class = _small_table(len(classes), ["Class", "Precision", "Recall", "Labels"], self)
        for r, name in enumerate(classes):
            support = int(((new or {}).get("per_class") or {}).get(name, {}).get("support", 0))
            item = _item(name, bold=True)
            item.setForeground(QColor(style.LABEL_COLOURS[report.task][r]))
            per_class.setItem(r, 0, item)
            for c, key in ((1, "precision"), (2, "recall")):
                text = report_words.class_cell(new, name, key)
                cell = _item(text, align_right=True)
                cell.setToolTip(
                    f"fewer than {MIN_CLASS} labels of {name}"
                    if text == report_words.NOT_ENOUGH
                    else ""
                )
                per_class.setItem(r, c, cell)
            per_class.setItem(r, 3, _item(f"{support:,}", align_right=True))
        box = QVBoxLayout()
        box.addWidget(QLabel("<b>Per class</b> (new model, cross-validated)", self))
        box.addWidget(per_class)
        row.addLayout(box, 3)

        confusion = _small_table(len(classes), ["true \\ predicted", *classes], self)
        matrix = (new or {}).get("confusion") or [[0] * len(classes) for _ in classes]
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
        box.addWidget(QLabel("<b>Confusion matrix</b> (cross-validated)", self))
        box.addWidget(confusion)
        row.addLayout(box, 4)
        layout.addLayout(row)
        noun = "message" if report.changed_unlabelled == 1 else "messages"
        layout.addWidget(
            QLabel(
                f"<b>{report.changed_unlabelled:,}</b> of your unlabelled {noun} changed label "
                f"({report.flipped:,} predictions changed in all).",
                self,
            )
        )
        for note in report.notes:
            label = QLabel(note, self)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)
            label.setStyleSheet(f"color: {style.MUTED_TEXT};")
            layout.addWidget(label)
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
        basis = "when the retrain started"
        summary = (
            f"<h3>Retrained {html.escape(' and '.join(outcome.reports))}</h3>"
            f"<p><b>{flipped:,}</b> message{'s' if flipped != 1 else ''} now "
            f"{'have' if flipped != 1 else 'has'} a different predicted label. "
            f'<span style="color:{style.MUTED_TEXT}">Computed from your labels as they were '
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
        if edit_number is not None:  # for whoever checks it against the project's edit log
            self.summary.setToolTip(f"The labels after the project's edit {edit_number:,}")
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


class ModelVersionsDialog(QDialog):
    """The project's model versions per task, with where each came from and one
    yardstick (the project's labels it was not fitted on); make another one current."""

    version_chosen = Signal(str, str)  # task, version

    def __init__(self, versions: dict[str, list[session.VersionInfo]], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Model versions")
        self.resize(1000, 420)
        self.versions = versions
        self.current = {
            t: next((v.version for v in infos if v.active), "") for t, infos in versions.items()
        }
        layout = QVBoxLayout(self)
        intro = QLabel(
            "The models of this project: every retrain here adds a version; other projects "
            "keep their own, and the shipped models are never changed. Each figure is measured "
            "on this project's labels that the model was not trained on.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["Version", "Origin", "Accuracy", "Macro recall", "Measured"])
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setStyleSheet("QTreeView::item { padding: 3px 2px; }")
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column, width in ((0, 250), (1, 330), (2, 90), (3, 100)):
            self.tree.setColumnWidth(column, width)
        self.tree.itemSelectionChanged.connect(self._update)
        self.tree.itemDoubleClicked.connect(lambda *_: self._use())
        layout.addWidget(self.tree, 1)
        self.card = QLabel(self)
        self.card.setWordWrap(True)
        self.card.setTextFormat(Qt.TextFormat.PlainText)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card.setStyleSheet(f"color: {style.MUTED_TEXT};")
        layout.addWidget(self.card)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.use_button = QPushButton("&Use This Version", self)
        self.use_button.clicked.connect(self._use)
        buttons.addButton(self.use_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.reload()

    def reload(self) -> None:
        self.tree.clear()
        for task in TASKS:
            parent = QTreeWidgetItem([TASK_TITLES[task]])
            font = parent.font(0)
            font.setBold(True)
            parent.setFont(0, font)
            self.tree.addTopLevelItem(parent)
            for info in self.versions.get(task, []):
                name = ("Shipped model" if info.shipped else info.version) + (
                    "  — in use" if info.active else ""
                )
                measured = info.accuracy is not None or info.macro_recall is not None
                item = QTreeWidgetItem(
                    [
                        name,
                        info.origin,
                        _pct(info.accuracy) if measured else "—",
                        _pct(info.macro_recall) if measured else "—",
                        info.measured_on,
                    ]
                )
                for column in (2, 3):
                    item.setTextAlignment(
                        column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                item.setData(0, Qt.ItemDataRole.UserRole, (task, info.version))
                item.setToolTip(0, f"{info.version}: {info.description}")
                if info.active:
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


# ----------------------------------------------------------------------------- sharing
def _muted(text: str, parent: QWidget | None = None, *, plain: bool = False) -> QLabel:
    label = QLabel(text, parent)
    if plain:  # text from a file: never read as markup
        label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {style.MUTED_TEXT};")
    return label


def _fit_to_width(dialog: QDialog, width: int) -> None:
    """Size a dialog of word-wrapped labels to ``width`` and the height its text needs
    there (a top-level layout does not ask its labels' height for a width by itself: the
    text came out cut off)."""
    layout = dialog.layout()
    layout.activate()
    if layout.hasHeightForWidth():
        height = layout.totalHeightForWidth(width)
    else:
        height = layout.totalSizeHint().height()
    dialog.resize(width, height)


def export_file_name(task: str, version: str) -> str:
    """The default name of an exported model: the version id (it names the task)."""
    name = version if version.startswith(f"{task}-") else f"{task}-{version}"
    return f"{name}.skops"


class ExportModelDialog(QDialog):
    """Which model (task, version) to export, and where; the core writes the ``.skops``
    file and its card beside it."""

    def __init__(
        self,
        versions: dict[str, list[session.VersionInfo]],
        active: dict[str, str],
        folder: str,
        parent=None,
    ):
        """``versions``: per task, the versions to offer (:func:`session.list_versions`);
        ``active``: per task, the version id in use (preselected)."""
        super().__init__(parent)
        self.setWindowTitle("Export model")
        self.versions = versions
        self.active = dict(active)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Write a model to share with another Triage user. It is saved in "
                "<b>skops</b> format, which runs no code when it is loaded, with its card "
                "(what it was trained on, how well it did) beside it."
            )
        )
        layout.itemAt(0).widget().setWordWrap(True)
        form = QFormLayout()
        self.task_combo = QComboBox(self)
        for task in TASKS:
            self.task_combo.addItem(TASK_TITLES[task], task)
        self.version_combo = QComboBox(self)
        self.version_combo.setMinimumContentsLength(40)
        form.addRow("&Model:", self.task_combo)
        form.addRow("&Version:", self.version_combo)
        row = QHBoxLayout()
        self.path_edit = QLineEdit(self)
        self.path_edit.setAccessibleName("Exported model file")
        browse = QPushButton("&Browse…", self)
        browse.clicked.connect(self._browse)
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        file_label = QLabel("&File:", self)
        file_label.setBuddy(self.path_edit)
        form.addRow(file_label, row)
        layout.addLayout(form)
        self.card_note = _muted("", self, plain=True)
        layout.addWidget(self.card_note)
        self.buttons = ok_cancel_buttons(self, "Export")
        layout.addWidget(self.buttons)
        self._folder = folder
        self._auto_name = ""
        self.task_combo.currentIndexChanged.connect(self._fill_versions)
        self.version_combo.currentIndexChanged.connect(self._on_version_changed)
        self.path_edit.textChanged.connect(self._update)
        self._fill_versions()
        _fit_to_width(self, 620)

    def task(self) -> str:
        return str(self.task_combo.currentData())

    def version(self) -> str:
        data = self.version_combo.currentData()
        return str(data) if data is not None else ""

    def path(self) -> str:
        text = self.path_edit.text().strip()
        if text and not text.lower().endswith(".skops"):
            text += ".skops"
        return text

    def card_path(self) -> str:
        path = self.path()
        return path[: -len(".skops")] + ".card.json" if path else ""

    def select(self, task: str, version: str | None = None) -> None:
        """Choose ``task`` and ``version`` (default: the one in use)."""
        self.task_combo.setCurrentIndex(max(0, self.task_combo.findData(task)))
        if version is not None:
            self.version_combo.setCurrentIndex(max(0, self.version_combo.findData(version)))

    def _fill_versions(self) -> None:
        task = self.task()
        self.version_combo.blockSignals(True)
        self.version_combo.clear()
        current = 0
        for info in self.versions.get(task, []):
            title = info.title
            if info.version == self.active.get(task) or (
                info.shipped and self.active.get(task) == "shipped"
            ):
                title += "  — in use"
                current = self.version_combo.count()
            self.version_combo.addItem(title, info.version)
            self.version_combo.setItemData(
                self.version_combo.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole
            )
        self.version_combo.setCurrentIndex(current)
        self.version_combo.blockSignals(False)
        self._on_version_changed()

    def _on_version_changed(self) -> None:
        version = self.version()
        name = export_file_name(self.task(), version) if version else ""
        text = self.path_edit.text().strip()
        # Follow the chosen version unless the user typed a name of their own.
        if not text or Path(text).name == self._auto_name:
            folder = str(Path(text).parent) if text else self._folder
            self.path_edit.setText(str(Path(folder) / name) if name else "")
        self._auto_name = name
        self._update()

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export model", self.path_edit.text(), SKOPS_FILTER
        )
        if path:
            self.path_edit.setText(path)

    def _update(self) -> None:
        ok = bool(self.version() and self.path())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        if ok:
            self.card_note.setText(
                f"Writes {Path(self.path()).name} and its card "
                f"{Path(self.card_path()).name}; share both files."
            )
        else:
            self.card_note.setText(
                "No model version to export." if not self.version() else "Choose a file."
            )


def _metric_rows(card: dict) -> list[tuple[str, str]]:
    metrics = card.get("metrics") or {}
    parts = []
    for key, name in (("accuracy", "accuracy"), ("macro_recall", "macro recall")):
        if metrics.get(key) is not None:
            parts.append(f"{name} {_pct(metrics[key])}")
    if not parts:
        return [("Quality", "not measured")]
    where = str(metrics.get("split", "")).strip()
    text = ", ".join(parts) + (f" (on {where})" if where else "")
    return [("Quality", text)]


def _when(stamp) -> str:
    """An ISO time stamp of a card (UTC) as a person reads it."""
    text = str(stamp or "")
    if not text:
        return "(unknown)"
    utc = text.endswith("+00:00") or text.endswith("Z")
    return text[:16].replace("T", " ") + (" UTC" if utc else "")


def card_summary(card: dict) -> list[tuple[str, str]]:
    """(field, value) rows of what an export card says, for a person to check."""
    task = str(card.get("task", ""))
    export = card.get("export") or {}
    env = card.get("environment") or {}
    training = card.get("training") or {}
    rows = [
        ("Model", TASK_TITLES.get(task, task or "(unknown)")),
        ("Classes", ", ".join(map(str, card.get("classes") or CLASSES.get(task, ())))),
        ("Trained", _when(card.get("created"))),
    ]
    if training.get("rows"):
        text = f"{int(training['rows']):,} messages"
        if card.get("n_user_labels"):
            text += f", {int(card['n_user_labels']):,} of them labelled by its user"
        rows.append(("Training data", text))
    rows += _metric_rows(card)
    rows.append(("scikit-learn", str(env.get("scikit_learn", "") or "(unknown)")))
    rows.append(("Version", str(export.get("from_version") or card.get("version", ""))))
    if export.get("exported"):
        rows.append(("Exported", _when(export["exported"])))
    return rows


class ImportModelDialog(QDialog):
    """What a shared model's card says, before it is checked and added as a version; and
    whether to use it at once."""

    def __init__(self, card: dict, model_path: str | Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import model")
        self.card = card
        self.model_path = Path(model_path)
        task = str(card.get("task", ""))
        layout = QVBoxLayout(self)
        title = QLabel(
            f"<b>{html.escape(self.model_path.name)}</b> — what its card says "
            "(Triage checks it against the file when importing):"
        )
        title.setWordWrap(True)
        layout.addWidget(title)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.fields: dict[str, QLabel] = {}
        for name, value in card_summary(card):
            label = QLabel(value, self)
            label.setTextFormat(Qt.TextFormat.PlainText)  # the card's text, never markup
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"<b>{html.escape(name)}:</b>", label)
            self.fields[name] = label
        layout.addLayout(form)
        description = str(card.get("description", "")).strip()
        if description:
            layout.addWidget(_muted(description, self, plain=True))
        self.use_box = QCheckBox(
            f"&Use it now: make it the {task} model in use and predict the collection again",
            self,
        )
        self.use_box.setChecked(True)
        layout.addWidget(self.use_box)
        layout.addWidget(
            _muted(
                "It is added as a new version in your data folder; the models in use now "
                "stay available under Models ▸ Model Versions.",
                self,
            )
        )
        self.buttons = ok_cancel_buttons(self, "Import")
        layout.addWidget(self.buttons)
        _fit_to_width(self, 620)

    def task(self) -> str:
        return str(self.card.get("task", ""))

    def use_now(self) -> bool:
        return self.use_box.isChecked()


# ----------------------------------------------------------------------------- problems
def problem_text(task: str, error: ModelError) -> str:
    """One task's problem in plain words (rich text): the reason, then the file."""
    reason = error.reason.strip()
    reason = reason[:1].upper() + reason[1:]
    return (
        f"<p><b>{html.escape(TASK_TITLES.get(task, task))}</b>: {html.escape(reason)}<br>"
        f'<span style="color:{style.MUTED_TEXT}">{html.escape(error.path)}</span></p>'
    )


class ModelProblemsDialog(QDialog):
    """Models that could not be used, why, and -- where a retrain replaces them -- a
    "Retrain Now" button for exactly those tasks."""

    retrain_requested = Signal(list)  # tasks

    def __init__(self, errors: dict[str, ModelError], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Models cannot be used")
        self.errors = {t: errors[t] for t in TASKS if t in errors}
        self.retrain_tasks = [t for t, e in self.errors.items() if e.remedy == "retrain"]
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        many = len(self.errors) != 1
        names = " and ".join(t for t in self.errors)
        heading = QLabel(
            f"<h3>The {html.escape(names)} model{'s' if many else ''} cannot be used</h3>"
            f"Triage could not load {'them' if many else 'it'}, so there are no new "
            f"{html.escape(names)} predictions. Your labels are kept and shown.",
            self,
        )
        heading.setWordWrap(True)
        layout.addWidget(heading)
        self.text = QLabel("".join(problem_text(t, e) for t, e in self.errors.items()), self)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.text)
        advice = []
        if self.retrain_tasks:
            advice.append(
                "<b>Retrain Now</b> makes a new "
                + " and a new ".join(self.retrain_tasks)
                + " model with this version of Triage, from the shipped training data plus "
                "your labels, and predicts the collection with it. You can keep working "
                "while it runs."
            )
        others = {e.remedy for t, e in self.errors.items() if e.remedy and e.remedy != "retrain"}
        advice += [html.escape(r) for r in sorted(others)]
        if not self.retrain_tasks:
            advice.append(
                "Choose another version under Models ▸ Model Versions, or import a model."
            )
        self.advice = _muted("<br>".join(advice), self)
        layout.addWidget(self.advice)
        self.buttons = QDialogButtonBox(self)
        self.retrain_button: QPushButton | None = None
        if self.retrain_tasks:
            self.retrain_button = QPushButton("&Retrain Now", self)
            self.retrain_button.setDefault(True)
            self.retrain_button.clicked.connect(self._on_retrain_clicked)
            self.buttons.addButton(self.retrain_button, QDialogButtonBox.ButtonRole.AcceptRole)
            self.later_button = self.buttons.addButton(
                "&Not Now", QDialogButtonBox.ButtonRole.RejectRole
            )
        else:
            self.later_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        _fit_to_width(self, 640)

    def _on_retrain_clicked(self) -> None:
        self.retrain_requested.emit(list(self.retrain_tasks))
        self.accept()
