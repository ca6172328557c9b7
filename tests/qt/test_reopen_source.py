"""Opening a file that already has a project offers that project (with the user's labels)
instead of silently starting a new one -- from File > Open and from ``triage FILE``."""

from __future__ import annotations

from qt_helpers import SMS, WAIT, make_window, open_file  # noqa: E402

from guiapp.core import session
from guiapp.core.project_index import projects_for_sources
from guiapp.qt.dialogs import ExistingProjectDialog
from guiapp.qt.settings import Settings


def test_opening_the_same_file_again_offers_its_project(qtbot, window):
    first = window.project.path
    window.label_rows("spam", [0, 1, 2], 1)
    window.open_paths([str(SMS)])
    dialog = window.last_dialog
    assert isinstance(dialog, ExistingProjectDialog) and dialog.isVisible()
    shown = dialog.text() + dialog.informativeText()
    assert "sms.csv is already in a project" in shown
    assert "300 messages, 3 labelled by you" in shown and str(first) in shown
    assert dialog.defaultButton() is dialog.open_button
    project = window.project
    dialog.open_button.click()  # it is the one open: kept as it is (not opened twice)
    assert window.project is project and window.project.path == first
    assert not window.runner.is_running("open")
    assert window.collection.user["spam"][[0, 1, 2]].tolist() == [1, 1, 1]
    assert len(list(session.projects_dir().glob("*.triage"))) == 1


def test_import_as_new_keeps_the_old_project(qtbot, window):
    first = window.project.path
    window.open_paths([str(SMS)])
    dialog = window.last_dialog
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        dialog.new_button.click()
    assert window.project.path != first and first.exists()
    assert window.project.path.name == "sms (2).triage"
    # Both are listed next time.
    found = projects_for_sources([SMS], session.projects_dir())
    assert {f.path for f in found} == {window.project.path, first}


def test_triage_file_at_start_up_opens_its_project(qtbot, settings):
    window = make_window(qtbot, settings)
    open_file(qtbot, window)
    window.label_rows("sentiment", [4], 2)
    first = window.project.path
    window.close()
    again = make_window(qtbot, Settings(settings.store))
    again.open_initial([str(SMS)])  # what `triage sms.csv` does
    dialog = again.last_dialog
    assert isinstance(dialog, ExistingProjectDialog)
    with qtbot.waitSignal(again.project_opened, timeout=WAIT):
        dialog.open_button.click()
    assert again.project.path == first and again.collection.user["sentiment"][4] == 2
    again.close()


def test_cancel_changes_nothing(qtbot, window):
    first = window.project.path
    window.open_paths([str(SMS)])
    window.last_dialog.reject()
    qtbot.waitUntil(lambda: not window.last_dialog.isVisible(), timeout=WAIT)
    assert not window.runner.is_running("import") and not window.runner.is_running("open")
    qtbot.waitUntil(lambda: window.runner.active_count() == 0, timeout=WAIT)
    assert window.project.path == first
