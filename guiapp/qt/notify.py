"""Every message to the user goes through one :class:`Notifier` (napari's notifier idea).

- Errors the core raises on purpose (:class:`~guiapp.core.errors.TriageError`: bad input,
  damaged project, refused model file, failed export) are shown as they are: their text
  already names the file, the place and the reason.
- Anything else is a bug: a short message, with the traceback under "Show Details..." so the
  user can send it.

Boxes are opened window-modal and non-blocking (``open()``, not ``exec()``), so a worker's
error never stalls the event loop, and tests can read what was shown from :attr:`shown`.
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from guiapp.core.errors import Cancelled, ModelError, ProjectError, TriageError

log = logging.getLogger(__name__)

_TITLES = {
    "InputError": "Cannot import",
    "ProjectError": "Project problem",
    "ModelError": "Model problem",
    "ExportError": "Export failed",
}


def error_text(exc: BaseException) -> tuple[str, str, str]:
    """(title, text, details) for an exception, as the user will see it."""
    if isinstance(exc, TriageError):
        title = "Triage"
        for klass in type(exc).__mro__:
            if klass.__name__ in _TITLES:
                title = _TITLES[klass.__name__]
                break
        return title, str(exc), ""
    if isinstance(exc, MemoryError):
        return "Out of memory", "There is not enough memory to finish this task.", ""
    if isinstance(exc, OSError) and exc.filename:
        reason = exc.strerror or str(exc)
        return "File problem", f"{exc.filename}: {reason}", ""
    summary = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    text = (
        "Something went wrong inside Triage. Your labels are saved; you can keep working.\n\n"
        + summary
    )
    return "Unexpected error", text, ""


class Notifier(QObject):
    """The single path from a task or an action to the user."""

    status_message = Signal(str, int)  # text, timeout in ms

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._parent = parent
        self.shown: list[QMessageBox] = []

    def error(self, exc: BaseException, tb: str = "") -> QMessageBox | None:
        if isinstance(exc, Cancelled):
            self.status("Cancelled.")
            return None
        title, text, _ = error_text(exc)
        details = "" if isinstance(exc, TriageError) else tb
        if details:
            log.error("%s\n%s", text, details)
        return self._box(QMessageBox.Icon.Warning, title, text, details)

    def damaged_project(self, exc: ProjectError, backup: Path | None) -> QMessageBox:
        """A project that is damaged: the file, the reason, and (when Triage has a backup
        of it) a "Recover from Backup" button, kept as the box's ``recover_button`` for the
        window to connect (None without a backup)."""
        text = f"{exc.path} cannot be opened: {exc.reason}."
        if backup is not None:
            saved = _dt.datetime.fromtimestamp(backup.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            text += (
                f"\n\nTriage keeps backups of its last good states (the newest saved {saved}). "
                "Recover from Backup copies the newest one that passes every check to a new "
                "project beside the damaged one and opens that; labels set after that backup "
                "was saved are not in it. The damaged file is left as it is."
            )
        else:
            text += "\n\nThere is no backup of it to recover from. The file was left as it is."
        box = self._box(QMessageBox.Icon.Warning, "Project is damaged", text, "", show=False)
        box.recover_button = None
        if backup is not None:
            box.setStandardButtons(QMessageBox.StandardButton.Cancel)
            box.recover_button = box.addButton(
                "Recover from Backup", QMessageBox.ButtonRole.AcceptRole
            )
            box.setDefaultButton(box.recover_button)
        box.open()
        return box

    def project_in_use(self, exc: ProjectError) -> QMessageBox:
        """A project another Triage has open for editing: who has it, and an "Open
        Read-Only" button, kept as the box's ``read_only_button`` for the window."""
        text = (
            f"{exc.path} cannot be opened for editing: {exc.reason}.\n\n"
            "Only one Triage at a time can change a project. You can open it read-only "
            "here to look at it and export it (labels cannot be changed), or close it "
            "there first."
        )
        box = self._box(QMessageBox.Icon.Information, "Project is in use", text, "", show=False)
        box.setStandardButtons(QMessageBox.StandardButton.Cancel)
        box.read_only_button = box.addButton("Open Read-Only", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(box.read_only_button)
        box.open()
        return box

    def refused_model(self, path: str | Path, exc: ModelError) -> QMessageBox:
        """A shared model that was not imported: the file chosen, the reason, and the file
        the reason is about when that is another one (its card, say)."""
        reason = exc.reason.strip()
        text = f"{path} was not imported; nothing was changed.\n\n{reason[:1].upper()}{reason[1:]}"
        if Path(exc.path) != Path(path):
            text += f"\n\n(About {exc.path}.)"
        if exc.remedy and exc.remedy != "retrain":
            text += f"\n\n{exc.remedy}"
        return self._box(QMessageBox.Icon.Warning, "Model not imported", text, "")

    def info(self, title: str, text: str, details: str = "") -> QMessageBox:
        return self._box(QMessageBox.Icon.Information, title, text, details)

    def status(self, text: str, timeout_ms: int = 6000) -> None:
        self.status_message.emit(text, timeout_ms)

    def _box(self, icon, title: str, text: str, details: str, *, show=True) -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self._parent)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.shown.append(box)
        del self.shown[:-20]
        if show:
            box.open()
        return box
