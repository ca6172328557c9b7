"""The export dialog: CSV texts exactly as they are by default, "Safe for spreadsheets" and
the Excel workbook as explicit, remembered choices; what the export says when it is done."""

from __future__ import annotations

import csv

from qt_helpers import WAIT, make_window, open_file  # noqa: E402

from guiapp.core.io import load_collection
from guiapp.qt.dialogs import ExportDialog
from guiapp.qt.settings import Settings

# Texts a spreadsheet would run (OWASP's CSV-injection payloads) and a PGP block.
HOSTILE = ["=cmd|' /C calc'!A0", "-----BEGIN PGP SIGNED MESSAGE-----", "@SUM(1+1)", "plain"]


def hostile_csv(tmp_path):
    path = tmp_path / "hostile.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["message"])
        for text in HOSTILE:
            w.writerow([text])
    return path


def reopen(qtbot, window, settings):
    """A new window on the same settings store, with the closed window's project."""
    again = make_window(qtbot, Settings(settings.store))
    with qtbot.waitSignal(again.project_opened, timeout=WAIT):
        again.open_project(window.project.path)
    return again


def run_dialog(qtbot, window, path, *, format=None, safe=None) -> ExportDialog:
    window.export_dialog()
    dialog = window.last_dialog
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()
    if format is not None:
        dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(format))
    if safe is not None:
        dialog.safe_box.setChecked(safe)
    dialog.path_edit.setText(str(path))
    with qtbot.waitSignal(window.export_finished, timeout=WAIT):
        dialog.accept()
    return dialog


def test_csv_is_exact_by_default_and_safe_when_asked_and_remembered(qtbot, settings, tmp_path):
    window = make_window(qtbot, settings)
    open_file(qtbot, window, hostile_csv(tmp_path))
    exact = tmp_path / "exact.csv"
    run_dialog(qtbot, window, exact)
    with open(exact, newline="", encoding="utf-8") as fh:
        assert [r["text"] for r in csv.DictReader(fh)] == HOSTILE
    safe = tmp_path / "safe.csv"
    run_dialog(qtbot, window, safe, safe=True)
    with open(safe, newline="", encoding="utf-8-sig") as fh:
        assert [r["text"] for r in csv.DictReader(fh)] == ["'" + t for t in HOSTILE[:3]] + ["plain"]
    assert load_collection(safe).messages["text"].tolist() == HOSTILE
    window.close()
    # The next window (same settings store) offers the same choice.
    again = reopen(qtbot, window, settings)
    again.export_dialog()
    dialog = again.last_dialog
    assert dialog.safe_box.isChecked() and dialog.format() == "csv"
    dialog.reject()
    again.close()


def test_excel_workbook_from_the_dialog(qtbot, settings, tmp_path):
    import openpyxl

    window = make_window(qtbot, settings)
    open_file(qtbot, window, hostile_csv(tmp_path))
    window.export_dialog()
    dialog = window.last_dialog
    dialog.path_edit.setText(str(tmp_path / "book.csv"))
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("xlsx"))
    assert dialog.path() == str(tmp_path / "book.xlsx")  # the name follows the format
    assert not dialog.safe_box.isEnabled() and not dialog.spreadsheet_safe()
    with qtbot.waitSignal(window.export_finished, timeout=WAIT) as signal:
        dialog.accept()
    assert signal.args == [str(tmp_path / "book.xlsx"), len(HOSTILE)]
    sheet = openpyxl.load_workbook(tmp_path / "book.xlsx", read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    text = rows[0].index("text")
    assert [r[text] for r in rows[1:]] == HOSTILE
    assert window.notifier.shown[-1].text().startswith(f"{len(HOSTILE)} messages were written")
    window.close()
    again = reopen(qtbot, window, settings)
    again.export_dialog()
    assert again.last_dialog.format() == "xlsx"
    assert again.last_dialog.path().endswith(".xlsx")
    again.last_dialog.reject()
    again.close()


def test_the_dialog_is_tall_enough_for_its_choices(qtbot):
    dialog = ExportDialog({"all": 400, "labelled": 18, "filter": 57, "selection": 1}, "x.csv")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    radios = list(dialog.radios.values())
    for upper, lower in zip(radios, radios[1:], strict=False):
        assert upper.geometry().bottom() < lower.geometry().top()
        assert upper.height() >= upper.sizeHint().height()
