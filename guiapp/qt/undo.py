"""Label edits as undoable steps: a ``QUndoStack`` over the core's label commands.

The core does the work (:func:`guiapp.core.commands.set_label` builds the command,
:meth:`guiapp.core.project.Project.apply` saves it to disk *before* memory changes and
returns the inverse); Qt only supplies the stack, the Edit menu's actions and shortcuts.
A bulk edit of any number of rows is one command, hence one undo step.
"""

from __future__ import annotations

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack

from guiapp.core.commands import SetLabels, set_label
from guiapp.core.errors import ProjectError
from guiapp.core.project import Project


class LabelCommand(QUndoCommand):
    """One label change on the stack. It is applied before being pushed (so a failed save
    never reaches the stack); ``redo`` on push is therefore skipped once."""

    def __init__(self, editor: LabelEditor, forward: SetLabels, inverse: SetLabels):
        super().__init__(forward.text)
        self._editor = editor
        self._forward = forward
        self._inverse = inverse
        self._pushed = False

    @property
    def task(self) -> str:
        return self._forward.task

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True
            return
        self._inverse = self._editor.apply_command(self._forward, self) or self._inverse

    def undo(self) -> None:
        self._forward = self._editor.apply_command(self._inverse, self) or self._forward


class LabelEditor(QObject):
    """Turns "label these rows" into saved, undoable commands, and says what changed."""

    labels_changed = Signal(str, object)  # task, store rows (int64 array)
    failed = Signal(object, str)  # exception, traceback ("" for expected errors)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.project: Project | None = None

    def set_project(self, project: Project | None) -> None:
        """A new project: history of the old one does not apply any more."""
        self.project = project
        self.stack.clear()

    def label(self, task: str, rows, value: int | str) -> SetLabels | None:
        """Give ``rows`` (store rows) the label ``value``; one undo step. None if refused."""
        project = self.project
        rows = np.asarray(rows, dtype=np.int64)
        if project is None or len(rows) == 0:
            return None
        command = set_label(project.collection, task, rows, value)
        if not command.changes(project.collection):
            return command
        try:
            inverse = project.apply(command)
        except ProjectError as exc:
            self.failed.emit(exc, "")
            return None
        self.stack.push(LabelCommand(self, command, inverse))
        self.labels_changed.emit(task, command.rows)
        return command

    def apply_command(self, command: SetLabels, step: QUndoCommand) -> SetLabels | None:
        """Undo/redo path: save and apply ``command``; on failure drop the step."""
        project = self.project
        if project is None:
            step.setObsolete(True)
            return None
        try:
            inverse = project.apply(command)
        except ProjectError as exc:
            # Memory is unchanged (the core guarantees it); this step can no longer be
            # trusted to match the disk, so it leaves the stack.
            step.setObsolete(True)
            self.failed.emit(exc, "")
            return None
        self.labels_changed.emit(command.task, command.rows)
        return inverse

    def make_actions(self, parent: QObject) -> tuple[QAction, QAction]:
        """Undo / Redo actions whose text names the step ("Undo: mark 3 messages as spam")."""
        undo = QAction("Undo", parent)
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = QAction("Redo", parent)
        # Spelled out: the platform's Redo is Ctrl+Shift+Z on Linux, so adding it again made
        # the key ambiguous (Qt then fires neither), and it lacks Ctrl+Y there.
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        undo.triggered.connect(self.stack.undo)
        redo.triggered.connect(self.stack.redo)

        def refresh(*_):
            # The stack signals while it is being destroyed with the window.
            if not (shiboken6.isValid(self.stack) and shiboken6.isValid(undo)):
                return
            undo.setEnabled(self.stack.canUndo())
            redo.setEnabled(self.stack.canRedo())
            u, r = self.stack.undoText(), self.stack.redoText()
            undo.setText(f"Undo: {u}" if u else "Undo")
            redo.setText(f"Redo: {r}" if r else "Redo")

        for signal in (
            self.stack.canUndoChanged,
            self.stack.canRedoChanged,
            self.stack.undoTextChanged,
            self.stack.redoTextChanged,
            self.stack.indexChanged,
        ):
            signal.connect(refresh)
        refresh()
        return undo, redo


__all__ = ["LabelCommand", "LabelEditor"]
