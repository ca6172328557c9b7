"""One action that labels more than 1,000 messages asks first; "Do not ask again" is kept."""

from __future__ import annotations

import csv

from PySide6.QtWidgets import QMessageBox
from qt_helpers import SMS, make_window, open_file  # noqa: E402

from guiapp.qt.main_window import BULK_CONFIRM_ABOVE


def big_csv(tmp_path):
    with open(SMS, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    path = tmp_path / "sms_x4.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for _ in range(4):  # the 300 real messages four times over
            w.writerows(body)
    return path


def test_labelling_more_than_a_thousand_asks_first(qtbot, settings, tmp_path):
    window = make_window(qtbot, settings)
    open_file(qtbot, window, big_csv(tmp_path))
    c = window.collection
    assert len(c) > BULK_CONFIRM_ABOVE
    window.label_shown("spam", 1)
    box = window.last_dialog
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.text() == "Mark 1,200 messages as spam?"
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert not c.labelled_by_user().any()
    window.label_shown("spam", 1)
    box = window.last_dialog
    box.checkBox().setChecked(True)
    box.defaultButton().click()
    assert (c.user["spam"] == 1).all()
    assert window.settings.confirm_bulk_labels is False
    window.label_shown("spam", 0)  # no question any more
    assert (c.user["spam"] == 0).all()
    window.close()


def test_a_thousand_or_fewer_are_labelled_at_once(qtbot, window):
    window.last_dialog = None
    window.label_shown("sentiment", 2)  # 300 messages
    assert window.last_dialog is None
    assert (window.collection.user["sentiment"] == 2).all()
