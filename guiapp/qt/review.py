"""Review mode: one message at a time, in the order that teaches the model most per label.

The panel replaces the table while it is shown. The queue comes from
:mod:`guiapp.core.review` (least confident first after a random warm-up, likely
mislabelled, random sample); this module only keeps the user's place in it:

- a label key labels the message on screen through the window's one labelling path
  (:meth:`MainWindow.label_rows`: a saved, undoable ``SetLabels``) and moves to the next
  message of the queue that still needs a label; Space / → skips, Backspace / ← goes back,
  Ctrl+Z undoes the last label and shows that message again, Esc leaves;
- optionally every N labels it starts the window's own retrain of the task in the
  background; when the new predictions land the queue is rebuilt from them, keeping the
  message on screen (if it still needs a label) and putting skipped ones last;
- "likely mislabelled" needs out-of-fold probabilities of the labelled messages: they are
  computed by :func:`guiapp.core.review.cross_validated_probabilities` in a background task.
"""

from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence, QTextOption
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from guiapp.core import review
from guiapp.core.messages import CLASSES, NO_LABEL, TASKS
from guiapp.qt import style

#: Labels between automatic retrains, unless the user chooses another number.
RETRAIN_EVERY = 25
MESSAGE_WIDTH = 980  # px: the message column's reading width
#: Collections up to this size get their queue at once; bigger ones on a worker thread
#: (ordering a million rows takes 0.2-0.6 s: a stall the window must not have).
SYNC_ROWS = 100_000
TASK_KEYS = {"spam": "S spam · H ham", "sentiment": "1 negative · 2 neutral · 3 positive"}


class ReviewPanel(QWidget):
    """The Review mode over the window's open project (see the module docstring)."""

    exit_requested = Signal()
    queue_rebuilt = Signal()  # a new queue is in place (after start, a change, a retrain)
    current_changed = Signal(int)  # the store row on screen (-1: none)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.setObjectName("review_panel")
        self.active = False
        self.task = "spam"
        self.order = "uncertain"
        self.seed = 0
        self.warm_up = review.WARM_UP
        self.queue = np.zeros(0, dtype=np.int64)
        self.position = 0
        self.history: list[int] = []  # rows shown before the current one, in order
        self.skipped: set[int] = set()
        self.reviewed: set[int] = set()  # labelled here since this task and order were chosen
        self.labelled_here = 0
        self.since_retrain = 0
        self.retrains = 0
        self._own_edit = False
        self._oof: tuple[str, int, np.ndarray, np.ndarray] | None = None  # task, rev, rows, p
        self._waiting = False  # a cross-validation or a queue on a worker thread
        self._warm_up_rows: set[int] = set()  # the random warm-up part of the queue
        self._build()
        window.editor.labels_changed.connect(self._on_editor_labels_changed)
        window.retrain_finished.connect(self._on_window_predictions_changed)
        window.predictions_applied.connect(self._on_window_predictions_changed)
        window.project_opened.connect(self._on_window_project_opened)

    # ------------------------------------------------------------------ widgets
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 12, 24, 12)
        layout.setSpacing(10)

        bar = QHBoxLayout()
        title = QLabel("<b>Review</b>", self)
        bar.addWidget(title)
        bar.addSpacing(12)
        self.task_box = QComboBox(self)
        for task in TASKS:
            self.task_box.addItem(task.capitalize(), task)
        task_label = QLabel("T&ask:", self)
        task_label.setBuddy(self.task_box)
        bar.addWidget(task_label)
        bar.addWidget(self.task_box)
        self.order_box = QComboBox(self)
        for order in review.ORDERS:
            self.order_box.addItem(review.ORDER_NAMES[order], order)
        order_label = QLabel("&Order:", self)
        order_label.setBuddy(self.order_box)
        bar.addWidget(order_label)
        bar.addWidget(self.order_box)
        bar.addSpacing(12)
        self.auto_retrain = QCheckBox("&Retrain every", self)
        self.auto_retrain.setToolTip(
            "Retrain this task's model in the background every N labels and rebuild the "
            "queue from its new predictions"
        )
        self.retrain_every = QSpinBox(self)
        self.retrain_every.setRange(1, 10_000)
        self.retrain_every.setValue(RETRAIN_EVERY)
        self.retrain_every.setSuffix(" labels")
        bar.addWidget(self.auto_retrain)
        bar.addWidget(self.retrain_every)
        bar.addStretch(1)
        self.left_label = QLabel(self)
        self.left_label.setTextFormat(Qt.TextFormat.RichText)
        bar.addWidget(self.left_label)
        layout.addLayout(bar)

        # The message in a column of reading width, centred: long lines at this size
        # across a wide window are hard to follow.
        page = QWidget(self)
        page.setMaximumWidth(MESSAGE_WIDTH)
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.setSpacing(8)
        self.header = QLabel(page)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.header.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        page_layout.addWidget(self.header)
        self.text = QPlainTextEdit(page)
        self.text.setReadOnly(True)
        self.text.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the panel takes the keys
        self.text.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.text.setAccessibleName("Message to review")
        font = QFont(self.text.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * 1.6)
        self.text.setFont(font)
        page_layout.addWidget(self.text, 1)
        centred = QHBoxLayout()
        centred.addStretch(1)
        centred.addWidget(page, 100)
        centred.addStretch(1)
        layout.addLayout(centred, 1)

        buttons = QHBoxLayout()
        self.keys_label = QLabel(self)
        self.keys_label.setTextFormat(Qt.TextFormat.RichText)
        buttons.addWidget(self.keys_label, 1)
        self.back_button = QPushButton("Back", self)
        self.skip_button = QPushButton("Skip", self)
        self.done_button = QPushButton("Leave Review", self)
        for button in (self.back_button, self.skip_button, self.done_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(button)
        layout.addLayout(buttons)

        self.act_skip = self._key_action("Skip", self.skip, ["Space", "Right"])
        self.act_back = self._key_action("Back", self.back, ["Backspace", "Left"])
        self.act_leave = self._key_action("Leave Review", self.exit_requested.emit, ["Escape"])
        self.act_page_down = self._key_action("Scroll Down", lambda: self._scroll(1), ["PgDown"])
        self.act_page_up = self._key_action("Scroll Up", lambda: self._scroll(-1), ["PgUp"])
        self.back_button.clicked.connect(self.back)
        self.skip_button.clicked.connect(self.skip)
        self.done_button.clicked.connect(self.exit_requested.emit)
        self.task_box.currentIndexChanged.connect(self._on_choice_changed)
        self.order_box.currentIndexChanged.connect(self._on_choice_changed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _key_action(self, text, slot, keys) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(k) for k in keys])
        # Only while the panel (or one of its widgets) has focus: elsewhere these keys
        # keep their usual meaning (Space in a dialog, arrows in the table).
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _scroll(self, pages: int) -> None:
        bar = self.text.verticalScrollBar()
        bar.setValue(bar.value() + pages * bar.pageStep())

    # ------------------------------------------------------------------ mode
    def start(self) -> None:
        """Show the mode: build the queue for the chosen task and order."""
        self.active = True
        self.labelled_here = 0
        self.since_retrain = 0
        self.history.clear()
        self.skipped.clear()
        self.reviewed.clear()
        self.rebuild(keep_current=False)
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def stop(self) -> None:
        self.active = False
        self.window.runner.cancel("review-cv")
        self.window.runner.cancel("review-queue")
        self._waiting = False

    @property
    def collection(self):
        return self.window.collection

    @property
    def current(self) -> int:
        """The store row on screen, -1 when the queue is done (or not built yet)."""
        if self._waiting or self.position >= len(self.queue):
            return -1
        return int(self.queue[self.position])

    def needs_label(self, row: int) -> bool:
        """Whether ``row`` is still to be reviewed in this queue."""
        c = self.collection
        if c is None or not 0 <= row < len(c):
            return False
        if self.order == "mislabelled":
            return row not in self.reviewed and int(c.user[self.task][row]) != NO_LABEL
        return int(c.user[self.task][row]) == NO_LABEL

    def left(self) -> int:
        """How many messages of the queue, the one on screen included, still need review."""
        c = self.collection
        if c is None or self._waiting:
            return 0
        rest = self.queue[self.position :]
        if self.order == "mislabelled":
            user = c.user[self.task][rest]
            reviewed = np.fromiter(self.reviewed, dtype=np.int64, count=len(self.reviewed))
            return int(((user != NO_LABEL) & ~np.isin(rest, reviewed)).sum())
        return int((c.user[self.task][rest] == NO_LABEL).sum())

    # ------------------------------------------------------------------ the queue
    def rebuild(self, *, keep_current: bool = True) -> None:
        """A new queue from the collection's current probabilities and labels."""
        c = self.collection
        if c is None:
            self.queue = np.zeros(0, dtype=np.int64)
            self.position = 0
            self._show()
            return
        if not keep_current:
            self.queue = np.zeros(0, dtype=np.int64)
            self.position = 0
        if self.order == "mislabelled":
            oof = self._oof
            if oof is None or oof[0] != self.task or oof[1] != c.revision:
                oof = self._retrain_oof()
            if oof is None:
                self._start_cross_validation()
                return
            self._oof = oof
            queue = review.likely_mislabelled_queue(oof[3], oof[2], c.user[self.task])
            self._set_queue(queue, self.current)
            return
        task, order = self.task, self.order
        labels = c.user[task].copy()
        prob = (c.spam_prob if task == "spam" else c.sentiment_prob).copy()
        args = (order, task, prob, labels)
        kwargs = {"seed": self.seed, "warm_up": self.warm_up}
        done = lambda queue: self._on_queue_built(c, task, order, labels, queue)  # noqa: E731
        if len(c) <= SYNC_ROWS:
            done(review.unlabelled_queue(*args, **kwargs))
            return
        # Until it lands the old queue stays in use (nothing to show on a first build).
        self._waiting = self.current < 0
        self._show()
        self.window.runner.start(
            "review-queue",
            review.unlabelled_queue,
            *args,
            title="Ordering the review queue…",
            quiet=True,
            on_result=done,
            **kwargs,
        )

    def _on_queue_built(self, collection, task: str, order: str, labels, queue) -> None:
        self._waiting = False
        if task != self.task or order != self.order or self.collection is not collection:
            return
        self._warm_up_rows = set()
        if order == "uncertain":
            needed = max(0, self.warm_up - int((labels != NO_LABEL).sum()))
            self._warm_up_rows = set(queue[:needed].tolist())
        self._set_queue(queue, self.current)

    def _set_queue(self, queue: np.ndarray, shown: int) -> None:
        queue = np.asarray(queue, dtype=np.int64)
        if self.skipped:
            skipped = np.isin(queue, np.fromiter(self.skipped, dtype=np.int64))
            queue = np.concatenate([queue[~skipped], queue[skipped]])
        if shown >= 0 and self.needs_label(shown):
            queue = np.concatenate([[shown], queue[queue != shown]])
        self.queue = queue
        self.position = 0
        self._to_next_needed()
        self._show()
        self.queue_rebuilt.emit()

    def _retrain_oof(self):
        """The last retrain's own out-of-fold probabilities of this task, when it learnt
        from the labels as they are now and measured every one of them."""
        c = self.collection
        outcome = getattr(self.window, "last_retrain", None)
        report = None if outcome is None else outcome.reports.get(self.task)
        if report is None or outcome.revision != c.revision:
            return None
        labelled = np.flatnonzero(c.user[self.task] != NO_LABEL)
        if len(report.oof_rows) != len(labelled) or not len(labelled):
            return None
        return (self.task, c.revision, report.oof_rows, report.oof_prob)

    def _start_cross_validation(self) -> None:
        c = self.collection
        task = self.task
        rows = np.flatnonzero(c.user[task] != NO_LABEL)
        self._waiting = True
        self._show()
        from guiapp.core.models.predict import model_texts

        texts = model_texts(c.messages.iloc[rows])
        labels = c.user[task][rows].copy()
        revision = c.revision
        self.window.runner.start(
            "review-cv",
            review.cross_validated_probabilities,
            task,
            texts,
            labels,
            in_process=True,  # TF-IDF and five fits would hold the GIL against the window
            title=f"Cross-validating {len(rows):,} {task} labels…",
            on_result=lambda p: self._on_cross_validated(c, task, revision, rows, p),
            on_error=self._on_cross_validation_failed,
        )

    def _on_cross_validated(self, collection, task, revision, rows, probabilities) -> None:
        self._waiting = False
        c = self.collection
        if c is not collection or task != self.task or self.order != "mislabelled":
            return
        # Labels set while it ran are questioned at the next rebuild, not now: the rows
        # and labels it judged are those of ``revision``.
        self._oof = (task, c.revision, rows, probabilities)
        if revision != c.revision:
            self.window.notifier.status("Labels set meanwhile are checked at the next rebuild.")
        queue = review.likely_mislabelled_queue(probabilities, rows, c.user[task])
        self._set_queue(queue, -1)

    def _on_cross_validation_failed(self, exc, tb) -> None:
        self._waiting = False
        self.queue = np.zeros(0, dtype=np.int64)
        self.position = 0
        if isinstance(exc, review.NotEnoughLabels):
            self._show(note=f"Cannot look for mislabelled messages yet: {exc}.")
        else:
            self._show()
            self.window.notifier.error(exc, tb)

    def _to_next_needed(self) -> None:
        while self.position < len(self.queue) and not self.needs_label(
            int(self.queue[self.position])
        ):
            self.position += 1

    # ------------------------------------------------------------------ keys
    def label(self, task: str, code: int) -> None:
        """Label the message on screen (``code`` -1 clears it); a label of the queue's task
        moves on to the next message."""
        row = self.current
        if row < 0:
            self.window.notifier.status("Nothing to label: the review queue is done.")
            return
        self._own_edit = True
        try:
            ok = self.window.label_rows(task, [row], code)
        finally:
            self._own_edit = False
        if not ok:
            return
        if task != self.task or code == NO_LABEL:
            self._show()  # the other task's label, or a cleared one: the queue stays
            return
        self.labelled_here += 1
        self.since_retrain += 1
        self.reviewed.add(row)
        self._move_on(row)
        self._maybe_retrain()

    def skip(self) -> None:
        row = self.current
        if row < 0:
            return
        self.skipped.add(row)
        self._move_on(row)

    def back(self) -> None:
        """Show again the message shown before this one (labelled or skipped)."""
        if not self.history:
            self.window.notifier.status("This is the first message of the review.")
            return
        row = self.history.pop()
        self.skipped.discard(row)
        self.queue = np.insert(self.queue, self.position, row)
        self._show()

    def _move_on(self, row: int) -> None:
        self.history.append(row)
        self.position += 1
        self._to_next_needed()
        self._show()

    def _maybe_retrain(self) -> None:
        window = self.window
        if not (self.auto_retrain.isChecked() and self.since_retrain >= self.retrain_every.value()):
            return
        if window.runner.is_running("retrain"):
            return  # the next label tries again
        self.since_retrain = 0
        self.retrains += 1
        window.retrain([self.task], report=False)
        window.notifier.status(
            f"Retraining the {self.task} model in the background; the queue follows its "
            "new predictions when it lands.",
            10000,
        )

    # ------------------------------------------------------------------ window events
    def _on_choice_changed(self) -> None:
        self.task = self.task_box.currentData()
        self.order = self.order_box.currentData()
        self.window.runner.cancel("review-cv")
        self.window.runner.cancel("review-queue")
        self._waiting = False
        self.history.clear()
        self.skipped.clear()
        self.reviewed.clear()
        if self.active:
            self.rebuild(keep_current=False)
            self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_editor_labels_changed(self, task: str, rows) -> None:
        if not self.active:
            return
        rows = np.asarray(rows)
        if not self._own_edit and task == self.task and len(rows) == 1:
            row = int(rows[0])
            if self.history and self.history[-1] == row and row in self.reviewed:
                # Undo of the last label given here: that message comes back on screen.
                self.reviewed.discard(row)
                self.labelled_here = max(0, self.labelled_here - 1)
                self.since_retrain = max(0, self.since_retrain - 1)
                self.back()
                return
            if row == self.current and int(self.collection.user[task][row]) != NO_LABEL:
                # Redo of that label: on to the next message, as the key did.
                self.labelled_here += 1
                self.since_retrain += 1
                self.reviewed.add(row)
                self._move_on(row)
                return
        self._show()

    def _on_window_predictions_changed(self, *_args) -> None:
        if self.active and self.order == "uncertain":
            self.rebuild(keep_current=True)
        elif self.active:
            self._show()
        if self.active:
            self._maybe_retrain()

    def _on_window_project_opened(self) -> None:
        self.window.runner.cancel("review-cv")
        self.window.runner.cancel("review-queue")
        self._waiting = False
        self._oof = None
        self.history.clear()
        self.skipped.clear()
        self.reviewed.clear()
        self.queue = np.zeros(0, dtype=np.int64)
        self.position = 0
        if self.active:
            self.rebuild(keep_current=False)

    # ------------------------------------------------------------------ display
    def _show(self, note: str = "") -> None:
        row = self.current
        c = self.collection
        self._update_counts()
        keys = TASK_KEYS[self.task]
        self.keys_label.setText(
            f'<span style="color:{style.MUTED_TEXT}"><b>{keys}</b> · Space skip · '
            "Backspace back · Ctrl+Z undo · Esc leave</span>"
        )
        self.back_button.setEnabled(bool(self.history))
        self.skip_button.setEnabled(row >= 0)
        if self._waiting:
            waiting = (
                f"Cross-validating your {self.task} labels to find the ones a model trained "
                "on the others disagrees with…"
                if self.order == "mislabelled"
                else f"Ordering {len(c):,} messages…"
            )
            self.header.setText(f'<p style="color:{style.MUTED_TEXT}">{waiting}</p>')
            self.text.setPlainText("")
        elif c is None or row < 0:
            if not note:
                note = self._done_note()
            self.header.setText(f'<p style="color:{style.MUTED_TEXT}">{html.escape(note)}</p>')
            self.text.setPlainText("")
        else:
            self.header.setText(self._header_html(c, row))
            self.text.setPlainText(c.messages["text"].iat[row] or "")
            self.text.verticalScrollBar().setValue(0)
        self.current_changed.emit(row)

    def _done_note(self) -> str:
        if self.collection is None:
            return "Open a collection to review it."
        if self.order == "mislabelled":
            return (
                f"No {self.task} label left that a confident cross-validated prediction "
                "disagrees with."
            )
        return f"Every message of the queue has a {self.task} label."

    def _update_counts(self) -> None:
        if self.collection is None or self._waiting:
            self.left_label.setText("")
            return
        left = self.left()
        text = f"<b>{left:,}</b> left · {self.labelled_here:,} labelled in this review"
        c = self.collection
        if self.order == "uncertain":
            have = int((c.user[self.task] != NO_LABEL).sum())
            if have < self.warm_up:
                text += f" · random warm-up: {self.warm_up - have} to go"
        if self.auto_retrain.isChecked():
            every = self.retrain_every.value()
            text += f" · retrain in {max(0, every - self.since_retrain)}"
        self.left_label.setText(text)

    def _header_html(self, c, row: int) -> str:
        m = c.messages
        get = lambda col: html.escape(str(m[col].iat[row] or ""))  # noqa: E731
        parts = []
        subject = get("subject")
        if subject:
            parts.append(f'<div style="font-size:15pt; font-weight:600;">{subject}</div>')
        meta = " · ".join(x for x in (get("sender"), get("date"), get("kind")) if x)
        if meta:
            parts.append(f'<div style="color:{style.MUTED_TEXT}">{meta}</div>')
        parts.append(f"<div>{self._verdicts_html(c, row)}</div>")
        parts.append(f'<div style="color:{style.MUTED_TEXT}">{self._why(row)}</div>')
        return "".join(parts)

    def _why(self, row: int) -> str:
        """Why this message is shown now."""
        if row in self.history or row in self.reviewed:
            return "Shown again (Back)."
        if self.order == "mislabelled":
            return "A model trained on your other labels disagrees with your label."
        if self.order == "random":
            return "A random unlabelled message."
        if row in self._warm_up_rows:
            return (
                f"A random message: the first {self.warm_up} {self.task} labels are a random "
                "sample, then the least confident come first."
            )
        return "One of the messages the model is least sure about."

    def _verdicts_html(self, c, row: int) -> str:
        task = self.task
        cells = []
        user = int(c.user[task][row])
        if user != NO_LABEL:
            cells.append(
                "your label " + style.label_html(task, CLASSES[task][user], user, by_user=True)
            )
        if task == "spam":
            p = float(c.spam_prob[row])
            if not math.isnan(p):
                code = int(p >= 0.5)
                cells.append(
                    "model "
                    + style.label_html(task, CLASSES[task][code], code, by_user=False)
                    + f" P(spam) {p:.2f}"
                )
        else:
            probs = c.sentiment_prob[row]
            if not np.isnan(probs).any():
                code = int(np.argmax(probs))
                spread = " ".join(
                    f"{n[:3]} {float(p):.2f}" for n, p in zip(CLASSES[task], probs, strict=True)
                )
                cells.append(
                    "model "
                    + style.label_html(task, CLASSES[task][code], code, by_user=False)
                    + f" {spread}"
                )
        if self.order == "mislabelled" and self._oof is not None:
            _task, _rev, rows, oof = self._oof
            where = np.flatnonzero(rows == row)
            if len(where):
                p = oof[where[0]]
                code = int(np.argmax(p))
                cells.append(
                    "cross-validated "
                    + style.label_html(task, CLASSES[task][code], code, by_user=False)
                    + f" {float(p[code]):.2f}"
                )
        if not cells:
            cells.append(f'<span style="color:{style.MUTED_TEXT}">no prediction</span>')
        return " &nbsp;·&nbsp; ".join(cells)


__all__ = ["RETRAIN_EVERY", "ReviewPanel"]
