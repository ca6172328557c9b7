"""Triage's main window: the table, filters, detail pane and themes over one open project.

Everything long (import, prediction, themes, retraining, export, a search over a million
rows) runs as a plain :mod:`guiapp.core` function in the :class:`TaskRunner`; the window
hands it a snapshot and applies the result when it comes back.

The GUI thread must never stall for more than ~50 ms while that happens (measured with
``benchmarks/bench_stall.py``), so the per-row work around a task is done off it too:

- a child process gets a :class:`~guiapp.qt.processes.CollectionRef` (the arrays, and the
  project file to read the texts from), never the pickled texts;
- a result is written to the project on the worker thread (the task's ``commit`` step,
  under the project's lock) *before* the window shows it, so what the user sees is saved;
  the GUI thread then only swaps arrays in memory;
- what a new project's table needs (Arrow columns, predicted label codes) and the label
  codes of new predictions are computed on the worker thread as well. Label edits go through the
:class:`LabelEditor` (saved to the project before the table shows them, one undo step per
action). Errors from anywhere reach the user through the one :class:`Notifier`.
"""

from __future__ import annotations

import gc
import html
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from guiapp.core import query, session
from guiapp.core.collection import Collection
from guiapp.core.errors import InputError, ModelError
from guiapp.core.imports import import_heavy
from guiapp.core.messages import CLASSES, KINDS, NO_LABEL, TASKS
from guiapp.core.project import SUFFIX, DamagedProject, Project, backup_paths, backups
from guiapp.core.project_index import projects_for_sources
from guiapp.core.project_lock import ProjectLocked
from guiapp.qt import style
from guiapp.qt.cluster_panel import ClusterPanel
from guiapp.qt.detail_pane import DetailPane
from guiapp.qt.dialogs import (
    ColumnMappingDialog,
    ExistingProjectDialog,
    ExportDialog,
    ProblemsDialog,
    RetrainDialog,
    ShortcutsDialog,
)
from guiapp.qt.filter_bar import FilterBar
from guiapp.qt.notify import Notifier
from guiapp.qt.processes import CollectionRef
from guiapp.qt.progress import TaskProgress
from guiapp.qt.review import ReviewPanel
from guiapp.qt.settings import Settings
from guiapp.qt.table_model import (
    COLUMNS,
    TEXT_KEYS,
    MessageTableModel,
    prediction_columns,
    prepare_view,
)
from guiapp.qt.table_view import MessageTableView
from guiapp.qt.undo import LabelEditor
from guiapp.qt.workers import TaskRunner

APP_TITLE = "Triage"
DEFAULT_SIZE = (1440, 880)
BULK_CONFIRM_ABOVE = 1_000  # messages one action labels before it asks
CLUSTER_K_KEY = "cluster_k"  # a project's own k for re-grouping ("auto" or a number)


def _project_k(project) -> int | str:
    value = project.load_json(CLUSTER_K_KEY, "auto")
    return value if value == "auto" or (isinstance(value, int) and value > 1) else "auto"


SPLITTER_SHARES = (0.18, 0.60, 0.22)  # themes, table, detail pane
OPEN_FILTER = (
    "Messages (*.csv *.tsv *.tab *.txt *.json *.jsonl *.ndjson *.js *.mbox *.mbx *.eml "
    "*.parquet *.gz *.zip *.triage);;"
    "Tables (*.csv *.tsv *.tab *.parquet);;JSON and tweet archives (*.json *.jsonl *.ndjson *.js);;"
    "Email (*.mbox *.mbx *.eml);;Triage projects (*.triage);;All files (*)"
)
SHUTDOWN_WAIT_MS = 3000
RANKS_DELAY_MS = 1000
LABEL_KEYS: tuple[tuple[str, int, str, str], ...] = (
    ("spam", 1, "S", "Mark as &Spam"),
    ("spam", 0, "H", "Mark as &Ham"),
    ("sentiment", 0, "1", "Mark as &Negative"),
    ("sentiment", 1, "2", "Mark as N&eutral"),
    ("sentiment", 2, "3", "Mark as &Positive"),
)


def _text_ranks(columns, *, on_progress=None, stop_requested=None) -> dict:
    """Sort ranks of each text column (a background task after a project opens)."""
    ranks = {}
    for i, (key, array) in enumerate(columns.items()):
        if stop_requested is not None and stop_requested():
            break
        ranks[key] = query.string_ranks(array)
        if on_progress is not None:
            on_progress(i + 1, len(columns), key)
    return ranks


def _open_for_window(
    open_fn, path, rank_keys=(), *, on_progress=None, stop_requested=None, **options
):
    """``open_fn(path, **options)`` (a :mod:`session` opener), then what the table needs to
    show the project (:func:`prepare_view`), both on the worker thread: (Opened,
    PreparedView)."""
    opened = open_fn(path, on_progress=on_progress, stop_requested=stop_requested, **options)
    try:
        view = prepare_view(opened.project.collection, rank_keys, stop_requested=stop_requested)
    except BaseException:
        opened.project.close()
        raise
    return opened, view


#: The window's modules that import the heavy libraries, imported by every task before it
#: runs (with :data:`guiapp.core.imports.HEAVY_MODULES`, one thread at a time: two threads
#: importing scikit-learn at once failed to open a project about half the time), and by a
#: quiet warm-up task once the window has painted, when no other task started first. A first
#: import of these on a worker thread otherwise stalled the window later by up to 80 ms
#: (scikit-learn and SciPy when a project with themes opens, the model code when a
#: retrain's result is recorded), mostly in the garbage collections the imports set off:
#: see :func:`~guiapp.core.imports.import_heavy`.
WARM_UP_MODULES = ("guiapp.qt.model_dialogs",)


def _warm_up(*, on_progress=None, stop_requested=None) -> None:
    """The warm-up task: its worker imported the modules before calling it."""


def _file_key(path: str | Path) -> str:
    return str(Path(path).resolve())


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).samefile(b)
    except OSError:
        return False


def _close_project(project: Project, *, on_progress=None, stop_requested=None) -> None:
    """Close a project the window no longer shows (a worker thread: closing checkpoints its
    write-ahead log, and waits for a result still being saved to it)."""
    project.close()


def _codes_of(predictions: session.Predictions) -> dict[str, np.ndarray]:
    return prediction_columns(predictions.prob)


def _commit_predictions(project: Project, predictions: session.Predictions):
    """Worker thread: save predictions of every row to the project before they are shown;
    (predictions, their label codes) for the window."""
    session.save_predictions(project, predictions)
    return predictions, _codes_of(predictions)


def _commit_version(project: Project, predictions: session.Predictions):
    """Worker thread: save predictions by another model version and make it current."""
    session.save_predictions(project, predictions)
    for task, version in predictions.versions.items():
        session.record_version(project, task, version)
    return predictions, _codes_of(predictions)


def _commit_retrain(project: Project, outcome: session.RetrainOutcome):
    """Worker thread: save a retrain's predictions and model records before they are shown."""
    session.save_retrain(project, outcome)
    return outcome, _codes_of(outcome.predictions)


def _commit_clustering(project: Project, clustering):
    """Worker thread: the themes' column for every row, saved with the themes."""
    column = session.clustering_column(project.collection, clustering)
    session.save_clustering(project, clustering, column)
    return clustering, column


class MainWindow(QMainWindow):
    project_opened = Signal()
    predictions_applied = Signal()
    clustering_applied = Signal()
    retrain_finished = Signal(object)  # session.RetrainOutcome
    export_finished = Signal(str, int)  # path, rows written
    model_exported = Signal(str, str)  # the .skops file, its card
    model_imported = Signal(object)  # registry.ModelVersion
    model_problems_shown = Signal(object)  # ModelProblemsDialog

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.project: Project | None = None
        #: Projects this window is closing on a worker, and opens waiting for that.
        self._projects_closing: set[str] = set()
        self._open_after_close: dict[str, object] = {}
        self.notifier = Notifier(self)
        self.runner = TaskRunner(self, preload=WARM_UP_MODULES)
        # Through a lambda, so that a replaced notifier method still gets every error.
        self.runner.error_reporter = lambda exc, tb="": self.notifier.error(exc, tb)
        self.editor = LabelEditor(self)
        self.editor.failed.connect(self.notifier.error)
        self.editor.labels_changed.connect(self._on_editor_labels_changed)
        self.last_retrain = None
        #: Per task, why its model could not be used the last time it was asked to predict
        #: (cleared when that task gets predictions); the status bar says so.
        self.model_problems: dict[str, ModelError] = {}
        self.model_problems_dialog = None
        self.last_retrain_basis: tuple[int | None, int] = (None, 0)  # edit #, later changes
        self._spec = query.FilterSpec()
        self._search: tuple[str, np.ndarray | None] = ("", None)  # query -> mask
        self._search_pending = False
        self._closing = False
        self._warmed_up = False

        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        # The first start (no saved geometry) fits the screen: a window manager would clamp
        # a bigger one, and without one (Xvfb, some tiling setups) its right side was lost.
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        width = min(DEFAULT_SIZE[0], screen.width()) if screen else DEFAULT_SIZE[0]
        height = min(DEFAULT_SIZE[1], screen.height()) if screen else DEFAULT_SIZE[1]
        self.resize(width, height)
        self._columns_fitted = False  # the user's saved column widths win over fitting

        # ---- central widgets
        self.model = MessageTableModel(parent=self)
        self.model.label_editor = self._edit_from_table
        self.table = MessageTableView(self)
        self.table.setModel(self.model)
        self.table.current_row_changed.connect(self._on_table_current_row_changed)
        self.table.selection_dropped.connect(
            lambda n: self.notifier.status(
                f"The selection of {n:,} rows was cleared: too scattered to keep after sorting."
            )
        )
        self.model.order_changed.connect(self._schedule_counts)
        self.model.order_changed.connect(self._on_model_order_changed)
        self.filter_bar = FilterBar(self)
        self.filter_bar.filter_changed.connect(self._on_filter_bar_filter_changed)
        self.filter_bar.set_counts_provider(self._facet_counts)
        self.detail = DetailPane(self)
        self.clusters = ClusterPanel(self)
        self.clusters.cluster_selected.connect(self._on_clusters_cluster_selected)
        self.clusters.recluster_requested.connect(self.recluster)
        self.clusters.label_cluster_requested.connect(self.label_cluster)

        # The filter bar spans the window (not just the table) so that the window's
        # minimum width stays that of a small laptop screen.
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("main_splitter")
        self.splitter.addWidget(self.clusters)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([round(width * f) for f in SPLITTER_SHARES])
        self.splitter.setChildrenCollapsible(True)
        centre = QWidget(self)
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        centre_layout.addWidget(self.filter_bar)
        centre_layout.addWidget(self.splitter, 1)
        self.setCentralWidget(centre)

        # ---- status bar
        self.counts_label = QLabel(self)
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)
        self.counts_label.linkActivated.connect(lambda _link: self.show_model_problems())
        # Counts are a permanent widget: temporary messages would be drawn over a normal one.
        self.progress = TaskProgress(self.runner, self)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.counts_label)
        self.notifier.status_message.connect(self.statusBar().showMessage)
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(60)
        self._counts_timer.timeout.connect(self._update_counts)

        self._build_actions()
        self._build_review()
        self._build_menus()
        self._build_toolbar()
        self._restore_state()
        self.runner.task_started.connect(lambda _: self._update_actions())
        self.runner.task_ended.connect(lambda _: self._update_actions())
        self.runner.task_started.connect(lambda _: self._schedule_counts())
        self.runner.task_ended.connect(lambda _: self._schedule_counts())
        self._update_actions()
        self._update_counts()
        self.drop_hint = QLabel(self)
        self.drop_hint.setObjectName("drop_hint")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.drop_hint.setStyleSheet(
            f"QLabel#drop_hint {{ border: 3px dashed {style.CORRECTED_COLOUR};"
            " border-radius: 12px; background: rgba(21, 101, 192, 40);"
            f" color: {style.CORRECTED_COLOUR}; font-size: 18pt; font-weight: 600; }}"
        )
        self.drop_hint.hide()

    # ================================================================== actions
    def _action(self, text, slot, shortcut=None, tip="", checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_open = a(
            "&Open…",
            self.choose_files,
            QKeySequence.StandardKey.Open,
            "Open messages: CSV, TSV, JSON, JSONL, tweets.js, mbox, .eml, a folder",
        )
        self.act_open_folder = a(
            "Open &Folder…", self.choose_folder, "Ctrl+Shift+F", "Open a folder of emails or files"
        )
        self.act_open_project = a(
            "Open &Project…", self.choose_project, "Ctrl+Shift+O", "Open a Triage project (.triage)"
        )
        self.act_save_as = a(
            "Save Project &As…",
            self.save_project_as,
            "Ctrl+Shift+S",
            "Save a copy of this project under another name",
        )
        self.act_export = a(
            "&Export Labelled CSV…",
            self.export_dialog,
            "Ctrl+E",
            "Write messages with labels, scores and themes to a CSV file",
        )
        self.act_quit = a("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_quit.setShortcut(QKeySequence("Ctrl+Q"))
        self.act_undo, self.act_redo = self.editor.make_actions(self)
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        self.act_find = a(
            "&Find…",
            self.focus_search,
            QKeySequence.StandardKey.Find,
            "Search the text, subject and sender",
        )
        self.act_clear_filters = a("&Clear Filters", self.filter_bar.clear, "Ctrl+Shift+L")
        self.act_select_all = a(
            "Select &All Shown", self.table.selectAll, QKeySequence.StandardKey.SelectAll
        )
        self.label_actions: list[QAction] = []
        for task, code, key, text in LABEL_KEYS:
            action = a(
                text,
                lambda _=False, t=task, c=code: self.label_selection(t, c),
                key,
                f"Label the selected messages {CLASSES[task][code]} ({key})",
            )
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.label_actions.append(action)
        self.act_clear_spam = a(
            "Clear Spam Label", lambda: self.label_selection("spam", NO_LABEL), "Shift+S"
        )
        self.act_clear_sentiment = a(
            "Clear Sentiment Label", lambda: self.label_selection("sentiment", NO_LABEL), "Shift+1"
        )
        self.act_advance = a(
            "Advance After Labelling",
            lambda on: None,
            None,
            "Move to the next message after labelling one",
            checkable=True,
        )
        self.act_advance.setChecked(True)
        self.shown_label_actions = []
        for task, code, _key, _text in LABEL_KEYS:
            name = CLASSES[task][code]
            action = QAction(f"All Shown as {name.capitalize()}", self)
            action.triggered.connect(lambda _=False, t=task, c=code: self.label_shown(t, c))
            self.shown_label_actions.append(action)
        self.theme_label_actions = []
        for task, code, _key, _text in LABEL_KEYS:
            name = CLASSES[task][code]
            action = QAction(f"Current Theme as {name.capitalize()}", self)
            action.triggered.connect(lambda _=False, t=task, c=code: self.label_current_theme(t, c))
            self.theme_label_actions.append(action)

        self.act_retrain = a(
            "&Retrain…",
            self.retrain_dialog,
            ["F5", "Ctrl+R"],
            "Train the models on the shipped data plus your labels",
        )
        self.act_cancel_retrain = a("&Cancel Retraining", lambda: self.runner.cancel("retrain"))
        self.act_predict = a(
            "&Predict Again",
            self.predict_all,
            None,
            "Predict every message again with the models in use",
        )
        self.act_versions = a(
            "Model &Versions…",
            self.versions_dialog,
            "Ctrl+M",
            "Earlier retrained models; go back to one or to the shipped model",
        )
        self.act_import_model = a(
            "&Import Model…",
            self.import_model_dialog,
            "Ctrl+Shift+I",
            "Add a model shared by another Triage user (a .skops file and its card)",
        )
        self.act_export_model = a(
            "E&xport Model…",
            self.export_model_dialog,
            "Ctrl+Shift+E",
            "Write a model to share: a .skops file, which runs no code when loaded, and its card",
        )
        self.act_recluster = a(
            "Re-group &Themes",
            lambda: self.recluster(self.clusters.k()),
            "Ctrl+T",
            "Run k-means again over the unlabelled messages",
        )
        self.act_show_flipped = a(
            "Show &Flipped Predictions",
            self.show_flipped,
            "Ctrl+Shift+F5",
            "Messages whose prediction changed in the last retrain",
        )
        self.act_report = a("Last Retrain Rep&ort…", self.show_retrain_report)
        self.act_toggle_detail = a("&Details Pane", self._toggle_detail, "Ctrl+D", checkable=True)
        self.act_toggle_themes = a(
            "&Themes Pane", self._toggle_themes, "Ctrl+Shift+T", checkable=True
        )
        self.act_demo = a(
            "Open &Demo Collection",
            self.open_demo,
            None,
            "400 real emails, SMS and tweets to try Triage on",
        )
        self.act_shortcuts = a("&Keyboard Shortcuts", self.show_shortcuts, "F1")
        self.act_about = a("&About Triage", self.show_about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        m = bar.addMenu("&File")
        m.addAction(self.act_open)
        m.addAction(self.act_open_folder)
        m.addAction(self.act_open_project)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addSeparator()
        m.addAction(self.act_save_as)
        m.addAction(self.act_export)
        m.addSeparator()
        m.addAction(self.act_quit)

        m = bar.addMenu("&Edit")
        self.edit_menu = m
        m.addAction(self.act_undo)
        m.addAction(self.act_redo)
        m.addSeparator()
        m.addAction(self.act_select_all)
        m.addAction(self.act_find)
        m.addAction(self.act_clear_filters)

        m = bar.addMenu("&Label")
        self.label_menu = m
        for action in self.label_actions[:2]:
            m.addAction(action)
        m.addAction(self.act_clear_spam)
        m.addSeparator()
        for action in self.label_actions[2:]:
            m.addAction(action)
        m.addAction(self.act_clear_sentiment)
        m.addSeparator()
        shown = m.addMenu("Label All &Shown")
        for action in self.shown_label_actions:
            shown.addAction(action)
        theme = m.addMenu("Label Current &Theme")
        for action in self.theme_label_actions:
            theme.addAction(action)
        m.addSeparator()
        m.addAction(self.act_advance)
        m.addAction(self.act_review)

        m = bar.addMenu("&Models")
        m.addAction(self.act_retrain)
        m.addAction(self.act_cancel_retrain)
        m.addAction(self.act_report)
        m.addAction(self.act_show_flipped)
        m.addSeparator()
        m.addAction(self.act_predict)
        m.addAction(self.act_versions)
        m.addSeparator()
        m.addAction(self.act_import_model)
        m.addAction(self.act_export_model)
        m.addSeparator()
        m.addAction(self.act_recluster)

        m = bar.addMenu("&View")
        m.addAction(self.act_toggle_themes)
        m.addAction(self.act_toggle_detail)
        self.columns_menu = m.addMenu("&Columns")
        self.columns_menu.aboutToShow.connect(
            lambda: self.table.fill_columns_menu(self.columns_menu)
        )

        m = bar.addMenu("&Help")
        m.addAction(self.act_demo)
        m.addAction(self.act_shortcuts)
        m.addAction(self.act_about)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        icons = QStyle.StandardPixmap
        for action, icon in (
            (self.act_open, icons.SP_DialogOpenButton),
            (self.act_export, icons.SP_DialogSaveButton),
            (self.act_undo, icons.SP_ArrowBack),
            (self.act_redo, icons.SP_ArrowForward),
            (self.act_retrain, icons.SP_BrowserReload),
            (self.act_versions, icons.SP_FileDialogDetailedView),
        ):
            action.setIcon(self.style().standardIcon(icon))
        bar.addAction(self.act_open)
        bar.addAction(self.act_export)
        bar.addSeparator()
        for action, short in ((self.act_undo, "Undo"), (self.act_redo, "Redo")):
            # The menu names the step; the toolbar keeps a short, fixed-width button.
            proxy = QAction(action.icon(), short, self)
            proxy.triggered.connect(action.trigger)

            def sync(a=action, p=proxy):
                p.setEnabled(a.isEnabled())
                p.setToolTip(a.text())

            action.changed.connect(sync)
            sync()
            bar.addAction(proxy)
        bar.addSeparator()
        group = QActionGroup(self)
        group.setExclusive(False)
        for action, short in zip(
            self.label_actions,
            ("Spam  S", "Ham  H", "Negative  1", "Neutral  2", "Positive  3"),
            strict=True,
        ):
            proxy = QAction(short, self)
            proxy.setToolTip(action.statusTip())
            proxy.triggered.connect(action.trigger)
            action.changed.connect(lambda a=action, p=proxy: p.setEnabled(a.isEnabled()))
            bar.addAction(proxy)
            self._colour_tool_button(bar, proxy, action)
        bar.addSeparator()
        bar.addAction(self.act_retrain)
        bar.addAction(self.act_versions)
        bar.addSeparator()
        bar.addAction(self.act_review)
        self.addToolBar(bar)
        self.toolbar = bar

    def _colour_tool_button(self, bar: QToolBar, proxy: QAction, action: QAction) -> None:
        for task, code, _, text in LABEL_KEYS:
            if text == action.text():
                colour = style.LABEL_COLOURS[task][code]
                button = bar.widgetForAction(proxy)
                if button is not None:
                    button.setStyleSheet(
                        f"QToolButton {{ font-weight: 600; }} "
                        f"QToolButton:enabled {{ color: {colour}; }}"
                    )

    @property
    def read_only(self) -> bool:
        """True while the project shown is a read-only view (another Triage edits it)."""
        return self.project is not None and self.project.read_only

    def _update_actions(self) -> None:
        has = self.project is not None
        writable = has and not self.project.read_only
        retraining = self.runner.is_running("retrain")
        for action in (
            self.act_save_as,
            self.act_export,
            self.act_select_all,
            self.act_export_model,
            self.act_review,
        ):
            action.setEnabled(has)
        # A read-only view changes nothing in the project: no labels, predictions, themes
        # or models (Save Project As makes a copy that can be changed).
        for action in (
            self.act_recluster,
            self.act_predict,
            self.act_import_model,
            self.act_versions,
            *self.label_actions,
            self.act_clear_spam,
            self.act_clear_sentiment,
            *self.shown_label_actions,
            *self.theme_label_actions,
        ):
            action.setEnabled(writable)
        self.act_retrain.setEnabled(writable and not retraining)
        self.act_cancel_retrain.setEnabled(retraining)
        self.act_report.setEnabled(self.last_retrain is not None)
        self.act_show_flipped.setEnabled(self.last_retrain is not None)
        self.clusters.set_running(self.runner.is_running("cluster"))
        if not writable:
            self.clusters.run_button.setEnabled(False)
        self.act_toggle_detail.setChecked(self.detail.isVisible() or not self.isVisible())
        self.act_toggle_themes.setChecked(self.clusters.isVisible() or not self.isVisible())

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._warmed_up:
            if not self._splitter_restored:
                # Shares of the width the window really has (the screen may have clamped it).
                self.splitter.setSizes([round(self.width() * f) for f in SPLITTER_SHARES])
            self._warmed_up = True
            # After the first paint, so it does not delay it.
            QTimer.singleShot(0, self, self._start_warm_up)

    def _start_warm_up(self) -> None:
        if not self._closing and not self.runner.closed:
            gc.freeze()  # what start-up imported and built: see WARM_UP_MODULES
            self.runner.start("warm-up", _warm_up, quiet=True)

    # ================================================================== state
    def _restore_state(self) -> None:
        s = self.settings
        if not s.geometry.isEmpty():
            self.restoreGeometry(s.geometry)
        if not s.window_state.isEmpty():
            self.restoreState(s.window_state)
        splitter = s.splitter_state("main")
        self._splitter_restored = not splitter.isEmpty()
        if not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        header = s.header_state
        if not header.isEmpty():
            self.table.horizontalHeader().restoreState(header)
            self._columns_fitted = True
            # A restored sort indicator must not sort the (still empty) model.
            self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def save_state(self) -> None:
        s = self.settings
        s.geometry = self.saveGeometry()
        s.window_state = self.saveState()
        s.set_splitter_state("main", self.splitter.saveState())
        s.header_state = self.table.horizontalHeader().saveState()
        if self.project is not None:
            s.last_project = str(self.project.path)
        s.sync()

    # ================================================================== opening
    def open_initial(self, paths: list[str]) -> None:
        """Given files, else the last project, else the bundled demo collection."""
        if paths:
            self.open_paths(paths)
            return
        last = self.settings.last_project
        if last and Path(last).exists():
            self.open_project(last)
            return
        self.open_demo()

    def open_handed_over(self, paths: list[str]) -> None:
        """What a later ``triage FILE...`` asked this window to open; then come forward."""
        if paths:
            self.open_paths(paths)
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    def open_demo(self) -> None:
        from guiapp.core.paths import demo_collection

        demo = demo_collection()
        target = session.projects_dir() / f"Demo collection{SUFFIX}"
        if target.exists():
            self.open_project(target)
        elif demo.exists():
            self.open_paths([str(demo)], project_path=target)
        else:
            self.notifier.status("No demo collection is bundled; open some messages (Ctrl+O).")

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open messages", self.settings.last_dir, OPEN_FILTER
        )
        if paths:
            self.settings.last_dir = str(Path(paths[0]).parent)
            self.open_paths(paths)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open a folder of messages", self.settings.last_dir
        )
        if path:
            self.settings.last_dir = path
            self.open_paths([path])

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", str(session.projects_dir()), f"Triage projects (*{SUFFIX})"
        )
        if path:
            self.open_project(path)

    def open_paths(
        self,
        paths: list[str],
        *,
        text_column: str | None = None,
        label_columns: dict | None = None,
        project_path: str | Path | None = None,
    ) -> None:
        """Import files into a new project in the background (projects open directly).

        Files that already have a project (made from exactly these files) ask first: open
        that project -- the default, the user's labels are there -- or import anew.
        """
        projects = [p for p in paths if str(p).endswith(SUFFIX)]
        if projects:
            self.open_project(projects[0])
            return
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            self.notifier.error(InputError(missing[0], "no such file or folder"))
            return
        if project_path is None and text_column is None and label_columns is None:
            existing = projects_for_sources(paths, session.projects_dir())
            if existing:
                self._ask_existing_project(paths, existing)
                return
        self._start_import(
            paths, text_column=text_column, label_columns=label_columns, project_path=project_path
        )

    def _ask_existing_project(self, paths: list[str], existing) -> None:
        dialog = ExistingProjectDialog([Path(p).name for p in paths], existing, self)
        self.last_dialog = dialog

        def chosen(button) -> None:
            if button is dialog.open_button:
                self.open_project(existing[0].path)
            elif button is dialog.new_button:
                self._start_import(paths)

        dialog.buttonClicked.connect(chosen)
        dialog.open()

    def _start_import(
        self,
        paths: list[str],
        *,
        text_column: str | None = None,
        label_columns: dict | None = None,
        project_path: str | Path | None = None,
    ) -> None:
        k = "auto"  # a new collection's own k is chosen for it (the shown project's is its own)
        # Reading, predicting and grouping a big import is heavy: a child process does it
        # and leaves a closed project file, which a thread then opens for the window.
        self.runner.start(
            "open",
            session.import_to_file,
            list(paths),
            text_column=text_column,
            label_columns=label_columns,
            project_path=project_path,
            k=k,
            in_process=True,
            title=f"Importing {session.project_name_for(paths)}…",
            on_result=self._on_imported,
            on_error=lambda exc, tb: self._on_import_failed(exc, tb, list(paths), project_path),
            on_cancelled=lambda: self.notifier.status("Import cancelled; nothing was changed."),
        )

    def _on_imported(self, imported: session.Imported) -> None:
        def opened(result) -> None:
            opened, _view = result
            opened.problems, opened.files = imported.problems, imported.files
            opened.notes, opened.created = imported.notes, True
            opened.model_errors = dict(imported.model_errors)
            self._on_opened(result)

        self.runner.start(
            "open",
            _open_for_window,
            session.open_project,
            str(imported.path),
            self._rank_keys(),
            title=f"Opening {imported.path.stem}…",
            on_result=opened,
            on_error=lambda exc, tb: self._on_open_project_failed(exc, tb, str(imported.path)),
        )

    def _on_project_closed(self, key: str) -> None:
        self._projects_closing.discard(key)
        waiting = self._open_after_close.pop(key, None)
        if waiting is not None:
            waiting()

    def open_project(self, path: str | Path, *, read_only: bool = False) -> None:
        """Open a project in the background; ``read_only``: a view that changes nothing
        (offered when another Triage has the project open for editing). A project this
        window is still closing opens once it is closed (its write lock released)."""
        key = _file_key(path)
        if key in self._projects_closing:
            self._open_after_close[key] = lambda: self.open_project(path, read_only=read_only)
            return
        if self.project is not None and _same_file(self.project.path, path):
            if read_only or not self.project.read_only:
                self.notifier.status(f"{Path(path).name} is already open.")
                return
        self.runner.start(
            "open",
            _open_for_window,
            session.open_project,
            str(path),
            self._rank_keys(),
            read_only=read_only,
            title=f"Opening {Path(path).stem}{' read-only' if read_only else ''}…",
            on_result=self._on_opened,
            on_error=lambda exc, tb: self._on_open_project_failed(exc, tb, str(path)),
        )

    def _rank_keys(self) -> tuple[str, ...]:
        """The text column the table is sorted by, if any (ranked while a project opens)."""
        state = self.model.sort_state
        key = COLUMNS[state[0]].key if state is not None else ""
        return (key,) if key in TEXT_KEYS else ()

    def _on_import_failed(self, exc, tb, paths, project_path) -> None:
        from guiapp.core.io import AmbiguousTextColumn, inspect_table

        if isinstance(exc, AmbiguousTextColumn):
            try:
                preview = inspect_table(exc.file)
            except InputError as inner:
                self.notifier.error(inner)
                return
            dialog = ColumnMappingDialog(preview, exc.candidates, self)
            self.last_dialog = dialog
            dialog.accepted.connect(
                lambda: self.open_paths(
                    paths,
                    text_column=dialog.text_column(),
                    label_columns=dialog.label_columns(),
                    project_path=project_path,
                )
            )
            dialog.open()
            return
        self.notifier.error(exc, tb)

    def _on_open_project_failed(self, exc, tb, path: str) -> None:
        if isinstance(exc, ProjectLocked):
            box = self.notifier.project_in_use(exc)
            box.buttonClicked.connect(
                lambda button: (
                    self.open_project(path, read_only=True)
                    if button is box.read_only_button
                    else None
                )
            )
            return
        self.settings.remove_recent(path)
        if isinstance(exc, DamagedProject):
            found = backups(path)
            box = self.notifier.damaged_project(exc, found[0] if found else None)
            if box.recover_button is not None:
                box.buttonClicked.connect(
                    lambda button: (
                        self.recover_project(path) if button is box.recover_button else None
                    )
                )
            return
        self.notifier.error(exc, tb)

    def recover_project(self, path: str | Path) -> None:
        """Copy the damaged project's backup to a new project beside it and open that."""
        self.runner.start(
            "open",
            _open_for_window,
            session.recover_project,
            str(path),
            self._rank_keys(),
            title=f"Recovering {Path(path).stem}…",
            on_result=self._on_opened,
        )

    def _on_opened(self, result) -> None:
        """``result``: (Opened, PreparedView) from :func:`_open_for_window`."""
        opened, view = result
        self.set_project(opened.project, view)
        name = opened.project.load_json("name", opened.project.path.stem)
        n = len(opened.project.collection)
        if opened.created:
            self.notifier.status(f"Imported {n:,} messages into {opened.project.path.name}.")
        else:
            self.notifier.status(f"Opened {name}: {n:,} messages.")
        for note in opened.notes:
            self.notifier.status(note, 15000)
        if opened.problems:
            dialog = ProblemsDialog(opened.problems, n, self)
            self.last_dialog = dialog
            dialog.open()
        if opened.model_errors:
            self.show_model_problems(opened.model_errors)

    def set_project(self, project: Project, view=None) -> None:
        """Show ``project`` (closing the one that was open); ``view``: its
        :func:`~guiapp.qt.table_model.prepare_view`, made on a worker thread."""
        old = self.project
        for kind in ("retrain", "cluster", "predict", "search", "export", "ranks"):
            self.runner.cancel(kind)
        self.project = project
        self.editor.set_project(project)
        self._search = ("", None)
        self.last_retrain = None
        self.model_problems = {}  # the next prediction says again
        collection = project.collection
        self.clusters.set_k(_project_k(project))
        self.model.set_collection(collection, view)
        self.table.hide_empty_columns()
        if not self._columns_fitted:
            self.table.fit_columns()
            self._columns_fitted = True
        # Filters of the previous project mean nothing here: clear them without emitting
        # (the filter is applied once, below, to the new collection).
        self.filter_bar.blockSignals(True)
        try:
            self.filter_bar.clear()
        finally:
            self.filter_bar.blockSignals(False)
        self.filter_bar.set_clusters(self._cluster_names())
        self.clusters.set_clustering(collection.clustering)
        self._apply_filter(self.filter_bar.spec())
        self.detail.show_row(collection, -1)
        if old is not None and old is not project:
            key = _file_key(old.path)
            self._projects_closing.add(key)
            self.runner.start(
                f"close {id(old)}",
                _close_project,
                old,
                quiet=True,
                on_result=lambda _none, key=key: self._on_project_closed(key),
                on_error=lambda _exc, _tb, key=key: self._on_project_closed(key),
            )
        self.settings.last_project = str(project.path)
        self.settings.add_recent(project.path)
        QTimer.singleShot(0, self, self.settings.sync)  # a file write: not in this turn
        name = project.load_json("name", project.path.stem)
        if project.read_only:
            name += " (read-only)"
            self.notifier.status(
                "Opened read-only: labels cannot be changed here. Save Project As makes a "
                "copy you can change.",
                15000,
            )
        self.setWindowTitle(f"{name} — {APP_TITLE}")
        self.setWindowFilePath(str(project.path))
        if len(collection):
            self.table.go_to_view_row(0)
            # Text sorts need one string sort per column: off the GUI thread, once the new
            # project is shown (it competes for the cores with the first paints).
            QTimer.singleShot(RANKS_DELAY_MS, self, lambda c=collection: self._start_ranks(c))
        self._update_actions()
        # Counting a million rows' labels takes ~10 ms: in the next turns of the event loop.
        self._schedule_counts()
        self.project_opened.emit()

    def _start_ranks(self, collection: Collection) -> None:
        model = self.model
        if model.collection is not collection or self.runner.closed:
            return
        columns = {k: a for k, a in model.text_columns().items() if not model.has_ranks(k)}
        if not columns:
            return
        self.runner.start(
            "ranks",
            _text_ranks,
            columns,
            quiet=True,
            on_result=lambda ranks: (
                model.set_ranks(ranks) if model.collection is collection else None
            ),
        )

    def save_project_as(self) -> None:
        if self.project is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save project as", str(self.project.path), f"Triage projects (*{SUFFIX})"
        )
        if path:
            self.save_project_to(path)

    def save_project_to(self, path: str | Path) -> None:
        """Copy the open project to ``path`` (consistent, via SQLite's backup) and switch to it."""
        if self.project is None:
            return
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        if path.resolve() == self.project.path.resolve():
            return
        import sqlite3

        from guiapp.core import project_lock
        from guiapp.core.errors import ProjectError

        try:
            # Held while the copy replaces the file: a project open elsewhere is never
            # replaced under its writer.
            target_lock = project_lock.acquire(path)
        except ProjectError as exc:
            self.notifier.error(ProjectError(path, f"cannot save a copy over it: {exc.reason}"))
            return
        tmp = path.with_name(path.name + ".saving")
        try:
            with self.project._lock:
                dest = sqlite3.connect(str(tmp))
                try:
                    self.project._conn.backup(dest)
                finally:
                    dest.close()
            tmp.replace(path)
        except (OSError, sqlite3.Error) as exc:
            tmp.unlink(missing_ok=True)
            self.notifier.error(ProjectError(path, f"cannot save a copy here: {exc}"))
            return
        finally:
            target_lock.release()
        self.open_project(path)

    # ================================================================== drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        files = [u for u in urls if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            names = ", ".join(Path(u.toLocalFile()).name for u in files[:3])
            more = f" and {len(files) - 3:,} more" if len(files) > 3 else ""
            self._show_drop_hint(f"Drop to open {names}{more}")

    def dragLeaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._show_drop_hint("")

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._show_drop_hint("")
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def _show_drop_hint(self, text: str) -> None:
        """A highlighted frame over the window while files are dragged over it."""
        if not text:
            self.drop_hint.hide()
            return
        self.drop_hint.setText(text)
        self.drop_hint.setGeometry(self.centralWidget().geometry().adjusted(12, 12, -12, -12))
        self.drop_hint.raise_()
        self.drop_hint.show()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = [f for f in self.settings.recent_files if Path(f).exists()]
        for number, path in enumerate(files, start=1):
            action = self.recent_menu.addAction(f"&{number % 10}  {Path(path).stem}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        if not files:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear List")
            clear.triggered.connect(lambda: setattr(self.settings, "recent_files", []))

    # ================================================================== labelling
    @property
    def collection(self) -> Collection | None:
        return self.project.collection if self.project is not None else None

    def label_rows(self, task: str, rows, code: int) -> bool:
        rows = np.asarray(rows, dtype=np.int64)
        if self.project is None or not len(rows):
            return False
        if self.project.read_only:
            self.notifier.status("This project is open read-only: labels cannot be changed.")
            return False
        big = len(rows) > 20_000
        if big:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            command = self.editor.label(task, rows, code)
        finally:
            if big:
                QApplication.restoreOverrideCursor()
        if command is None:
            return False
        if len(rows) > 1:
            self.notifier.status(f"Done: {command.text}. Ctrl+Z undoes it.")
        return True

    def label_selection(self, task: str, code: int) -> None:
        if self.review.active:  # the label keys act on the message under review
            self.review.label(task, code)
            return
        rows = self.table.selected_store_rows()
        if not len(rows):
            current = self.table.current_store_row()
            rows = np.array([current]) if current >= 0 else rows
        if not len(rows):
            self.notifier.status("Select messages to label first.")
            return
        if len(rows) > 1:
            self.label_many(task, rows, code)
        elif self.label_rows(task, rows, code) and self.act_advance.isChecked():
            self.table.advance()

    def label_shown(self, task: str, code: int) -> None:
        self.label_many(task, np.sort(self.model.order), code)

    def label_cluster(self, number: int, task: str, code: int) -> None:
        if self.collection is None:
            return
        self.label_many(task, np.flatnonzero(self.collection.cluster == number), code)

    def label_many(self, task: str, rows: np.ndarray, code: int) -> None:
        """One user action that labels ``rows``: past :data:`BULK_CONFIRM_ABOVE` messages it
        asks first (undo exists, but one mis-click relabelled 110 at once)."""
        if len(rows) <= BULK_CONFIRM_ABOVE or not self.settings.confirm_bulk_labels:
            self.label_rows(task, rows, code)
            return
        from guiapp.core.commands import describe

        what = describe(task, code, len(rows))
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Label many messages?",
            f"{what[0].upper()}{what[1:]}?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText("Edit ▸ Undo (Ctrl+Z) takes it back in one step.")
        go = box.addButton(what[0].upper() + what[1:], QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(go)
        box.setCheckBox(QCheckBox("Do not ask again", box))
        self.last_dialog = box

        def answered(button) -> None:
            if button is go:
                if box.checkBox().isChecked():
                    self.settings.confirm_bulk_labels = False
                self.label_rows(task, rows, code)

        box.buttonClicked.connect(answered)
        box.open()

    def label_current_theme(self, task: str, code: int) -> None:
        store = self.table.current_store_row()
        if store < 0 or self.collection is None:
            return
        number = int(self.collection.cluster[store])
        if number < 0:
            self.notifier.status("This message has no theme.")
            return
        self.label_cluster(number, task, code)

    def _edit_from_table(self, task: str, rows: np.ndarray, code: int) -> bool:
        ok = self.label_rows(task, rows, code)
        return ok

    def _on_editor_labels_changed(self, task: str, rows) -> None:
        self.model.labels_changed(task)
        self.detail.refresh()
        self._schedule_counts()

    # ================================================================== filtering
    def focus_search(self) -> None:
        self.filter_bar.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_bar.search.selectAll()

    def _on_filter_bar_filter_changed(self, spec: query.FilterSpec) -> None:
        self._apply_filter(spec)

    def _apply_filter(self, spec: query.FilterSpec) -> None:
        self._spec = spec
        self.clusters.select_cluster(
            next(iter(spec.clusters)) if spec.clusters and len(spec.clusters) == 1 else None
        )
        if self.collection is None:
            return
        text = spec.text.strip()
        if text != self._search[0]:
            if not query.search_terms(text):
                self._search = ("", None)
                self.runner.cancel("search")
            else:
                self._search_pending = True
                self.runner.start(
                    "search",
                    query.search_mask,
                    self.model.search_columns(),
                    text,
                    title="Searching…",
                    quiet=True,
                    on_result=lambda mask, t=text: self._on_search_done(t, mask),
                )
                return
        self._refresh_view()

    def _on_search_done(self, text: str, mask: np.ndarray | None) -> None:
        self._search_pending = False
        if mask is not None and len(mask) != len(self.model.collection):
            return  # the collection changed under the search: a newer one is coming
        self._search = (text, mask)
        self._refresh_view()

    def _refresh_view(self) -> None:
        collection = self.collection
        if collection is None:
            return
        facets = query.facet_mask(collection, self._spec)
        self.model.set_mask(query.combine(self._search[1], facets))

    def _on_clusters_cluster_selected(self, number) -> None:
        self.filter_bar.show_cluster(number)

    def _facet_counts(self, facet: str) -> dict:
        c = self.collection
        if c is None or not len(c):
            return {}
        if facet == "kind":
            counts = c.messages["kind"].value_counts()
            return {k: int(counts.get(k, 0)) for k in KINDS}
        if facet in TASKS:
            labels = np.bincount(
                self.model.label_codes(facet).astype(np.int64) + 1,
                minlength=len(CLASSES[facet]) + 1,
            )
            return {code - 1: int(n) for code, n in enumerate(labels)}
        if facet == "cluster":
            numbers = c.cluster[c.cluster >= 0]
            return {i: int(n) for i, n in enumerate(np.bincount(numbers))}
        if facet == "corrected":
            corrected = int(c.any_corrected().sum())
            return {True: corrected, False: len(c) - corrected}
        return {}

    def _cluster_names(self) -> list[str]:
        clustering = self.collection.clustering if self.collection is not None else None
        if clustering is None:
            return []
        return [", ".join(t[:3]) for t in clustering.top_terms]

    # ================================================================== status
    def _schedule_counts(self) -> None:
        self._counts_timer.start()

    def _update_counts(self) -> None:
        c = self.collection
        if c is None:
            # While the first collection is being opened its progress says so on its own.
            opening = self.runner.is_running("open")
            self.counts_label.setText(
                ""
                if opening
                else "No collection open. Open messages with Ctrl+O or drop files here."
            )
            return
        total = len(c)
        shown = len(self.model.order)
        by_user = int(c.labelled_by_user().sum())
        corrected = int(c.any_corrected().sum())
        confirmed = int(c.any_confirmed().sum())
        counts = session.label_counts(
            c,
            self.model.order if shown != total else None,
            predicted={t: self.model.predicted_codes(t) for t in TASKS},
        )
        parts = [f"<b>{shown:,}</b> of {total:,} shown"]
        if self._search_pending:
            parts[0] += " (searching…)"
        parts.append(
            f"labelled by you <b>{by_user:,}</b> ({corrected:,} corrected, {confirmed:,} confirmed)"
        )
        for task in TASKS:
            cells = []
            for code, name in enumerate(CLASSES[task]):
                colour = style.LABEL_COLOURS[task][code]
                cells.append(f'<span style="color:{colour}">{name}</span> {counts[task][code]:,}')
            parts.append(" ".join(cells))
        parts += self._prediction_notes()
        if self.model.rowCount() < shown:  # see table_model.MAX_VIEW_ROWS (QTBUG-18490)
            parts.append(
                f"the table lists the first {self.model.rowCount():,}; filter to see the rest"
            )
        self.counts_label.setText(" &nbsp;·&nbsp; ".join(parts))

    def _prediction_notes(self) -> list[str]:
        """Status-bar notes for tasks without predictions, or whose model cannot be used
        (the reason in the tooltip, a link to the dialog that offers the remedy)."""
        notes, tips = [], []
        for task in TASKS:
            codes = self.model.predicted_codes(task)
            problem = self.model_problems.get(task)
            if len(codes) and int(codes.max()) < 0:
                notes.append(f"no {task} predictions")
            elif problem is not None:
                notes.append(f"{task}: the model in use cannot be loaded")
            else:
                continue
            tips.append(f"{task}: {problem}" if problem is not None else f"{task}: not predicted")
        self.counts_label.setToolTip("\n".join(tips))
        if not notes:
            return []
        more = (
            ' <a href="model-problems">Why?</a>'
            if any(t in self.model_problems for t in TASKS)
            else " (Models ▸ Predict Again)"
        )
        return [f'<span style="color:#c62828">⚠ {html.escape("; ".join(notes))}</span>{more}']

    def _on_table_current_row_changed(self, store: int) -> None:
        self.detail.show_row(self.collection, store)

    def _on_model_order_changed(self) -> None:
        """An empty result says so, and the detail pane no longer shows a hidden message."""
        empty = self.collection is not None and self.model.rowCount() == 0
        if empty and len(self.collection):
            self.table.set_empty_text(
                "No messages match the search and filters.\n"
                "Press Esc in the search box or click Clear to see them all."
            )
        else:
            self.table.set_empty_text("")
        if empty:
            self.detail.show_row(self.collection, -1)
        self.detail.set_highlight(query.search_terms(self._spec.text))

    # ================================================================== predictions & themes
    def predict_all(self) -> None:
        """Predict every message again with the models in use (e.g. after a failed load)."""
        if self.project is None:
            return
        project = self.project
        self.runner.start(
            "predict",
            session.predict,
            CollectionRef.of(project, needs=()),  # the texts only
            in_process=True,
            title="Predicting…",
            commit=lambda predictions: _commit_predictions(project, predictions),
            on_result=lambda result: self._on_predicted(result, project),
        )

    def _on_predicted(self, result, project=None) -> None:
        """``result``: (Predictions, label codes) of a commit step, already saved."""
        if self.project is None or (project is not None and project is not self.project):
            return
        predictions, codes = result
        session.apply_predictions(self.project, predictions, save=False)
        for task in predictions.prob:
            self.model_problems.pop(task, None)
        self._after_predictions(codes)
        for note in predictions.notes:
            self.notifier.status(note, 15000)
        if predictions.errors:
            self.show_model_problems(predictions.errors)
        self.predictions_applied.emit()

    def _after_predictions(self, codes: dict[str, np.ndarray] | None = None) -> None:
        self.model.predictions_changed(codes)
        spec = self._spec
        if spec.spam is not None or spec.sentiment is not None or spec.score_active:
            self._refresh_view()  # those facets read the predictions
        self.detail.refresh()
        self._schedule_counts()

    def recluster(self, k) -> None:
        if self.project is None:
            return
        if self.project.read_only:
            self.notifier.status("This project is open read-only: its themes cannot change.")
            return
        project = self.project
        project.save_json(CLUSTER_K_KEY, k)  # this project's k, not the next one's
        self.runner.start(
            "cluster",
            session.cluster,
            CollectionRef.of(project, needs=("labels",)),  # themes of the unlabelled
            k=k,
            in_process=True,
            title="Grouping themes…",
            commit=lambda clustering: _commit_clustering(project, clustering),
            on_result=lambda result: self._on_clustered(project, result),
        )

    def _on_clustered(self, project: Project, result) -> None:
        """``result``: (Clustering, its cluster column) of a commit step, already saved."""
        if project is not self.project:
            return
        clustering, column = result
        session.apply_clustering(project, clustering, save=False, column=column)
        self.model.clusters_changed()
        self.clusters.set_clustering(clustering)
        self.filter_bar.set_clusters(self._cluster_names())
        self.filter_bar.cluster.set_selected(None)
        self._apply_filter(self.filter_bar.spec())
        self.detail.refresh()
        self.notifier.status(f"{clustering.k} themes found.")
        self.clustering_applied.emit()

    # ================================================================== retraining
    def retrain_dialog(self) -> None:
        c = self.collection
        if c is None:
            return
        counts = {t: (int((c.user[t] >= 0).sum()), int(c.corrected[t].sum())) for t in TASKS}
        defaults = {
            "spam": self.settings.retrain_spam,
            "sentiment": self.settings.retrain_sentiment,
        }
        dialog = RetrainDialog(counts, defaults, self)
        self.last_dialog = dialog

        def start() -> None:
            tasks = dialog.tasks()
            self.settings.retrain_spam = "spam" in tasks
            self.settings.retrain_sentiment = "sentiment" in tasks
            self.retrain(tasks)

        dialog.accepted.connect(start)
        dialog.open()

    def retrain(self, tasks=TASKS, *, report: bool = True) -> None:
        """Retrain ``tasks`` in the background; ``report``: show the report dialog when it
        lands (the review mode's automatic retrains do not: the status bar says it)."""
        if self.project is None:
            return
        project = self.project
        # The labels; what the models predicted before comes as the codes the table keeps
        # (immutable: no copy), not as 16 MB of probabilities per million rows.
        ref = CollectionRef.of(project, needs=("labels",))
        before = {t: self.model.predicted_codes(t) for t in tasks}
        edits = project.edit_count()  # the log's number for the labels it learns from
        self.runner.start(
            "retrain",
            session.retrain,
            ref,
            list(tasks),
            revision=ref.revision,
            before=before,
            edit=edits,
            in_process=True,
            title="Retraining…",
            commit=lambda outcome: _commit_retrain(project, outcome),
            on_result=lambda result: self._on_retrained(project, result, edits, report),
            on_cancelled=lambda: self.notifier.status(
                "Retraining cancelled; the models are unchanged."
            ),
        )

    def _on_retrained(
        self, project: Project, result, edits: int | None = None, report: bool = True
    ) -> None:
        """``result``: (RetrainOutcome, label codes) of a commit step, already saved."""
        if project is not self.project:
            return
        outcome, codes = result
        session.apply_retrain(project, outcome, save=False)
        self.last_retrain = outcome
        for task in outcome.predictions.prob:
            self.model_problems.pop(task, None)
        # Label changes made while it ran (they are saved and shown; the models have not
        # seen them): the report says so, with the edit the training data stops at.
        later = project.collection.revision - outcome.revision
        self.last_retrain_basis = (edits, later)
        self._after_predictions(codes)
        self._update_actions()
        flipped = len(outcome.flipped)
        kept = [t for t, r in outcome.reports.items() if r.kept]
        new = [t for t in outcome.reports if t not in kept]
        text = (
            f"Retrained {', '.join(new)}: {flipped:,} predictions changed."
            if new
            else "Retrain kept the models in use: none measured better on your labels."
        )
        if later:
            text += " (Labels you set during the run will count in the next retrain.)"
        self.notifier.status(text, 15000)
        # The report (a dialog of tables) is built in the next turn of the event loop, so
        # that applying the result and building it do not add up in one stall.
        QTimer.singleShot(0, self, lambda: self._after_retrain_applied(outcome, report))

    def _after_retrain_applied(self, outcome, report: bool = True) -> None:
        if outcome is not self.last_retrain:
            return
        if not self._closing and report:
            self.show_retrain_report()
        self.retrain_finished.emit(outcome)

    def show_retrain_report(self) -> None:
        if self.last_retrain is None:
            return
        from guiapp.qt.model_dialogs import RetrainReportDialog

        edits, later = self.last_retrain_basis
        dialog = RetrainReportDialog(self.last_retrain, self, edit_number=edits, later=later)
        dialog.show_flipped_requested.connect(self.show_flipped)
        self.last_dialog = dialog
        dialog.open()

    def show_flipped(self) -> None:
        if self.last_retrain is None:
            return
        rows = np.asarray(self.last_retrain.flipped, dtype=np.int64)
        self.filter_bar.show_rows(rows, f"Flipped in last retrain: {len(rows):,}")

    def versions_dialog(self) -> None:
        # Enabled from the start: a click while a task is importing the model code must
        # wait for it rather than import it at the same time (guiapp.core.imports).
        import_heavy(WARM_UP_MODULES)
        from guiapp.qt.model_dialogs import ModelVersionsDialog

        if self.project is None:
            return
        dialog = ModelVersionsDialog(
            {t: session.list_versions(self.project, t) for t in TASKS}, self
        )
        dialog.version_chosen.connect(self.use_model_version)
        self.last_dialog = dialog
        dialog.open()

    def use_model_version(self, task: str, version: str) -> None:
        """Predict again with an earlier (or the shipped) model and make it current."""
        if self.project is None:
            return
        project = self.project
        self.runner.start(
            "predict",
            session.use_version,
            CollectionRef.of(project, needs=()),
            task,
            version,
            in_process=True,
            title=f"Predicting with {task} model {version}…",
            commit=lambda predictions: _commit_version(project, predictions),
            on_result=lambda result: self._on_version_used(project, result),
        )

    def _on_version_used(self, project: Project, result) -> None:
        """``result``: (Predictions, codes) of a commit step: saved, the version made current."""
        if project is not self.project:
            return
        self._on_predicted(result)
        for task, version in result[0].versions.items():
            self.notifier.status(f"The {task} model is now {version}.")

    # ================================================================== model problems
    def show_model_problems(self, errors: dict[str, ModelError] | None = None) -> None:
        """One dialog for the models that could not be used on this occasion (``errors``;
        None: those the status bar lists), with "Retrain Now" where a retrain helps."""
        if errors:
            self.model_problems.update(errors)
            self._schedule_counts()
        shown = dict(errors or self.model_problems)
        if not shown or self._closing:
            return
        from guiapp.qt.model_dialogs import ModelProblemsDialog

        old = self.model_problems_dialog
        if old is not None and old.isVisible():
            old.reject()  # one dialog: the newer occasion replaces the older
        dialog = ModelProblemsDialog(shown, self)
        dialog.retrain_requested.connect(self.retrain)
        dialog.rejected.connect(
            lambda: self.notifier.status(
                "No predictions from the models that cannot be used; Models ▸ Retrain "
                "replaces them.",
                10000,
            )
        )
        self.model_problems_dialog = dialog
        self.last_dialog = dialog
        dialog.open()
        self.model_problems_shown.emit(dialog)

    # ================================================================== model sharing
    def export_model_dialog(self) -> None:
        """Models ▸ Export Model…: which model, which version (the one in use by default),
        where; then :meth:`export_model`."""
        if self.project is None:
            return
        from guiapp.qt.model_dialogs import ExportModelDialog

        versions = {t: session.list_versions(self.project, t) for t in TASKS}
        active = self.project.active_models()
        folder = self.settings.export_dir or str(Path.home())
        dialog = ExportModelDialog(versions, active, folder, self)
        self.last_dialog = dialog

        def start() -> None:
            path = dialog.path()
            self.settings.export_dir = str(Path(path).parent)
            self.export_model(dialog.task(), dialog.version(), path)

        dialog.accepted.connect(start)
        dialog.open()

    def export_model(self, task: str, version: str, path: str | Path) -> None:
        """Write ``version`` of ``task``'s model as ``path`` (.skops) and its card, in a
        child process (loading and writing the model takes about a second)."""
        from guiapp.core.models import sharing

        self.runner.start(
            "model-export",
            sharing.export_model,
            version,
            str(path),
            task=task,
            source=str(self.project.path) if self.project is not None else None,
            in_process=True,
            title=f"Exporting the {task} model…",
            on_result=lambda paths: self._on_model_exported(task, version, paths),
            on_cancelled=lambda: self.notifier.status("Export cancelled; no file was written."),
        )

    def _on_model_exported(self, task: str, version: str, paths) -> None:
        model_path, card_path = (Path(p) for p in paths)
        self.notifier.info(
            "Model exported",
            f"The {task} model {version} was written to the folder\n{model_path.parent}\n\n"
            f"    {model_path.name}  (the model)\n    {card_path.name}  (its card)\n\n"
            "Share both files; Models ▸ Import Model… in Triage reads them.",
        )
        self.notifier.status(f"Exported the {task} model to {model_path}.")
        self.model_exported.emit(str(model_path), str(card_path))

    def import_model_dialog(self) -> None:
        """Models ▸ Import Model…: choose a shared model file, then :meth:`import_model_file`."""
        if self.project is None:
            return
        from guiapp.qt.model_dialogs import SKOPS_FILTER

        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import a shared model",
            self.settings.last_dir,
            f"{SKOPS_FILTER};;Model cards (*.card.json);;All files (*)",
        )
        if path:
            self.settings.last_dir = str(Path(path).parent)
            self.import_model_file(path)

    def import_model_file(self, path: str | Path) -> None:
        """Show what a shared model's card says and, once confirmed, import it (the file is
        checked against its card then); a card that cannot be read, or that names another
        scikit-learn, is refused at once."""
        from guiapp.core.models import sharing
        from guiapp.qt.model_dialogs import ImportModelDialog

        try:
            card, card_path, model_path = sharing.read_export_card(path)
            if card.get("task") not in TASKS:
                raise ModelError(card_path, f"unknown task {card.get('task')!r} in the card.")
        except ModelError as exc:
            self.notifier.refused_model(path, exc)
            return
        dialog = ImportModelDialog(card, model_path, self)
        self.last_dialog = dialog
        dialog.accepted.connect(lambda: self.import_model(path, use=dialog.use_now()))
        dialog.open()

    def import_model(self, path: str | Path, *, use: bool = True) -> None:
        """Check a shared model (a child process: the file is read with an allow-list of
        types) and store it as a version of this project; ``use``: then predict with it, as
        Models ▸ Model Versions does, which makes it the one in use."""
        from guiapp.core.models import sharing

        if self.project is None:
            return
        project = self.project
        origin = {"kind": "imported", "file": str(Path(path).resolve())}
        self.runner.start(
            "model-import",
            sharing.import_model,
            str(path),
            in_process=True,
            title=f"Importing {Path(path).name}…",
            commit=lambda model: project.add_model_version(model, origin, activate=False),
            on_result=lambda version: self._on_model_imported(version, use),
            on_error=lambda exc, tb: self._on_model_import_failed(path, exc, tb),
            on_cancelled=lambda: self.notifier.status("Import cancelled; nothing was changed."),
        )

    def _on_model_import_failed(self, path, exc: BaseException, tb: str) -> None:
        if isinstance(exc, ModelError):
            self.notifier.refused_model(path, exc)
        else:
            self.notifier.error(exc, tb)

    def _on_model_imported(self, version, use: bool) -> None:
        self.model_imported.emit(version)
        if use and self.project is not None:
            self.notifier.status(f"Imported {version.version}; predicting with it…")
            self.use_model_version(version.task, version.version)
            return
        self.notifier.info(
            "Model imported",
            f"The {version.task} model was added as version\n{version.version}\n\n"
            "Use it from Models ▸ Model Versions.",
        )

    # ================================================================== review mode
    def _build_review(self) -> None:
        """The Review mode (guiapp/qt/review.py): a panel that replaces the table while on."""
        self.review = ReviewPanel(self)
        self.review.hide()
        self.centralWidget().layout().addWidget(self.review, 1)
        self.review.exit_requested.connect(lambda: self.set_review_mode(False))
        self.act_review = self._action(
            "Re&view Mode",
            self.set_review_mode,
            "Ctrl+Shift+R",
            "Label one message at a time, least confident first (Ctrl+Shift+R)",
            checkable=True,
        )
        self.act_review.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.act_review.setIconText("Review")

    def set_review_mode(self, on: bool) -> None:
        on = bool(on) and self.project is not None
        self.act_review.setChecked(on)
        if on == self.review.active:
            return
        self.filter_bar.setVisible(not on)
        self.splitter.setVisible(not on)
        self.review.setVisible(on)
        if on:
            self.review.start()
        else:
            last = self.review.history[-1] if self.review.history else -1
            self.review.stop()
            view_row = int(self.model.view_positions()[last]) if last >= 0 else -1
            if view_row >= 0:
                self.table.go_to_view_row(view_row)  # the table shows where the review got to
            self.table.setFocus()

    # ================================================================== export
    def export_dialog(self) -> None:
        c = self.collection
        if c is None:
            return
        selected = self.table.selected_store_rows()
        counts = {
            "all": len(c),
            "labelled": int(c.labelled_by_user().sum()),
            "filter": len(self.model.order),
            "selection": len(selected),
        }
        folder = self.settings.export_dir or str(Path.home())
        name = self.project.load_json("name", self.project.path.stem) if self.project else "triage"
        fmt = self.settings.export_format if self.settings.export_format == "xlsx" else "csv"
        default = str(Path(folder) / f"{name} labelled.{fmt}")
        scope = "filter" if not self._spec.is_empty() else "all"
        dialog = ExportDialog(
            counts,
            default,
            scope,
            self,
            format=fmt,
            spreadsheet_safe=self.settings.export_spreadsheet_safe,
        )
        self.last_dialog = dialog

        def start() -> None:
            path = dialog.path()
            self.settings.export_dir = str(Path(path).parent)
            self.settings.export_format = dialog.format()
            if dialog.format() == "csv":
                self.settings.export_spreadsheet_safe = dialog.safe_box.isChecked()
            self.export(path, dialog.scope(), selected, spreadsheet_safe=dialog.spreadsheet_safe())

        dialog.accepted.connect(start)
        dialog.open()

    def export(
        self,
        path: str,
        scope: str,
        selected: np.ndarray | None = None,
        *,
        spreadsheet_safe: bool = False,
    ) -> None:
        """Export ``scope`` to ``path`` in the background; the format follows the suffix."""
        from guiapp.core.export import export_messages

        c = self.collection
        if c is None:
            return
        if scope == "all":
            rows = None
        elif scope == "labelled":
            rows = np.flatnonzero(c.labelled_by_user())
        elif scope == "filter":
            rows = np.sort(self.model.order)
        else:
            rows = np.sort(selected if selected is not None else self.table.selected_store_rows())
        snap = session.snapshot(c)
        self.runner.start(
            "export",
            export_messages,
            snap,
            path,
            rows=rows,
            spreadsheet_safe=spreadsheet_safe,
            inputs=[self.project.path, *backup_paths(self.project.path)] if self.project else [],
            title=f"Exporting {Path(path).name}…",
            on_result=lambda result: self._on_exported(path, result),
            on_cancelled=lambda: self.notifier.status("Export cancelled; no file was written."),
        )

    def _on_exported(self, path: str, result) -> None:
        n = result.rows
        notes = "".join(f"\n\n{note[0].upper()}{note[1:]}." for note in result.notes)
        self.notifier.info("Export finished", f"{n:,} messages were written to\n{path}{notes}")
        self.notifier.status(f"Exported {n:,} messages to {path}.")
        self.export_finished.emit(path, n)

    # ================================================================== view
    def _toggle_detail(self, on: bool) -> None:
        self.detail.setVisible(on)

    def _toggle_themes(self, on: bool) -> None:
        self.clusters.setVisible(on)

    def show_shortcuts(self) -> None:
        actions = [a for a in self.actions() if a.shortcuts()]
        dialog = ShortcutsDialog(actions, self)
        self.last_dialog = dialog
        dialog.open()

    def show_about(self) -> None:
        from guiapp import __version__

        QMessageBox.about(
            self,
            "About Triage",
            f"<h3>Triage {html.escape(__version__)}</h3>"
            "<p>Sort large piles of messages: spam and sentiment models, themes, your "
            "corrections, retraining and labelled CSV export.</p>",
        )

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self._closing = True
        self.save_state()
        finished = self.runner.shutdown(SHUTDOWN_WAIT_MS)
        if not finished:
            # A worker ignored the stop request for SHUTDOWN_WAIT_MS; its result is dropped
            # and the project it might write to stays open until the process ends.
            self.notifier.status("A background task did not stop in time.")
        if self.project is not None and finished:
            self.project.close()
        event.accept()


__all__ = ["MainWindow"]
