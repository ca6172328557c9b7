"""Take the README's screenshots offscreen: ``python -m guiapp.qt.screenshots docs/``.

Opens the bundled demo collection in a throw-away data folder, labels a few messages, and
grabs the main window and every dialog to ``screenshot-*.png``. Retraining runs for real
(shipped data + the corrections made here), so it needs the training corpora.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _wait(app: QApplication, done, timeout: float = 600.0) -> None:
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    if not done():
        raise TimeoutError("the window did not finish in time")


def _settle(app: QApplication, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _save(widget: QWidget, path: Path) -> None:
    pixmap = widget.grab()
    pixmap.save(str(path))
    print(f"{path}  {pixmap.width()}x{pixmap.height()}")


def _review_shot(app: QApplication, window, out: Path) -> None:
    """Review mode on the spam task past its random warm-up (labels as the model sees
    them: the demo has 10 spam labels, 20 more end the warm-up)."""
    window.set_review_mode(True)
    panel = window.review
    for _ in range(20):
        row = panel.current
        if row < 0:
            break
        panel.label("spam", int(window.collection.spam_prob[row] >= 0.5))
    _settle(app)
    _save(window, out / "screenshot-review.png")
    window.set_review_mode(False)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs").resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="triage-shots-"))
    os.environ["TRIAGE_DATA_DIR"] = str(tmp / "data")

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    from guiapp.qt.dialogs import ColumnMappingDialog, ExportDialog, ProblemsDialog, RetrainDialog
    from guiapp.qt.main_window import MainWindow
    from guiapp.qt.settings import Settings
    from guiapp.qt.table_model import COLUMN_INDEX

    window = MainWindow(Settings.at(tmp / "settings.ini"))
    window.resize(1480, 900)
    window.show()
    window.open_initial([])
    _wait(app, lambda: window.project is not None and window.runner.active_count() == 0)
    c = window.collection

    # A few corrections, as a user would make them: both pill styles show.
    kinds = c.messages["kind"].to_numpy()
    sms = [i for i in range(len(c)) if kinds[i] == "sms"]
    tweets = [i for i in range(len(c)) if kinds[i] == "tweet"]
    window.label_rows("spam", sms[:3], 0)
    window.label_rows("sentiment", tweets[:4], 2)
    window.label_rows("sentiment", tweets[4:6], 0)
    # ...and a first pass over some more, confirming the model's calls, so that the
    # retrain report has enough labels to measure.
    spam_codes = c.predicted("spam")
    more = sms[3:60]
    for code in (0, 1):
        window.label_rows("spam", [r for r in more if spam_codes[r] == code], code)
    sentiment_codes = c.predicted("sentiment")
    more = tweets[6:80]
    for code in (0, 1, 2):
        window.label_rows("sentiment", [r for r in more if sentiment_codes[r] == code], code)
    # SMS and tweets, the user's corrections first, then the model's least sure spam calls.
    window.filter_bar.kind.set_selected({"sms", "tweet"})
    window.filter_bar._emit()
    window.table.sortByColumn(COLUMN_INDEX["sentiment_score"], Qt.SortOrder.AscendingOrder)
    window.table.sortByColumn(COLUMN_INDEX["corrected"], Qt.SortOrder.DescendingOrder)
    window.table.go_to_view_row(4)
    _settle(app)
    _save(window, out / "screenshot-main.png")
    _review_shot(app, window, out)

    # Dialogs, each shown as the user sees it.
    fixtures = REPO / "tests" / "fixtures"
    from guiapp.core.io import inspect_table, load_collection

    two = fixtures / "qt" / "two_text_columns.csv"
    if two.exists():
        preview = inspect_table(str(two))
        dialog = ColumnMappingDialog(preview, preview.text_candidates, window)
        dialog.show()
        _settle(app)
        _save(dialog, out / "screenshot-column-mapping.png")
        dialog.close()
    bad = fixtures / "bad" / "zip_good_and_bad_members.zip"
    if bad.exists():
        result = load_collection([str(bad)])
        dialog = ProblemsDialog(result.problems, len(result.messages), window)
        dialog.show()
        _settle(app)
        _save(dialog, out / "screenshot-problems.png")
        dialog.close()
    counts = {
        "all": len(c),
        "labelled": int(c.labelled_by_user().sum()),
        "filter": 57,
        "selection": 1,
    }
    dialog = ExportDialog(
        counts, str(Path.home() / "Demo collection labelled.csv"), "labelled", window
    )
    dialog.show()
    _settle(app)
    _save(dialog, out / "screenshot-export.png")
    dialog.close()
    counts = {
        t: (int((c.user[t] >= 0).sum()), int(c.corrected[t].sum())) for t in ("spam", "sentiment")
    }
    dialog = RetrainDialog(counts, {"spam": True, "sentiment": True}, window)
    dialog.show()
    _settle(app)
    _save(dialog, out / "screenshot-retrain.png")
    dialog.close()

    # A real retrain, its report and the version list.
    window.retrain(["spam", "sentiment"])
    _wait(app, lambda: window.last_retrain is not None and window.runner.active_count() == 0)
    _settle(app, 0.5)
    report = window.last_dialog
    _save(report, out / "screenshot-retrain-report.png")
    report.close()
    window.versions_dialog()
    _settle(app)
    _save(window.last_dialog, out / "screenshot-model-versions.png")
    window.last_dialog.close()

    # Sharing a model: the export dialog, then what the import shows of the exported card.
    window.settings.export_dir = str(tmp / "shared")
    window.export_model_dialog()
    _settle(app)
    _save(window.last_dialog, out / "screenshot-export-model.png")
    dialog = window.last_dialog
    exported: list = []
    window.model_exported.connect(lambda *paths: exported.append(paths))
    dialog.accept()
    _wait(app, lambda: bool(exported) and window.runner.active_count() == 0)
    window.notifier.shown[-1].close()
    window.import_model_file(exported[0][0])
    _settle(app)
    _save(window.last_dialog, out / "screenshot-import-model.png")
    window.last_dialog.close()
    # A damaged model version in the project: the retrain offer.
    from guiapp.core.errors import ModelError
    from guiapp.qt.model_dialogs import ModelProblemsDialog

    error = ModelError(
        f"{window.project.path.name} (model spam-3)",
        "the stored model does not match its SHA-256 (damaged); it was not loaded.",
        remedy="retrain",
    )
    dialog = ModelProblemsDialog({"spam": error}, window)
    dialog.show()
    _settle(app)
    _save(dialog, out / "screenshot-model-problems.png")
    dialog.close()
    window.show_shortcuts()
    _settle(app)
    _save(window.last_dialog, out / "screenshot-shortcuts.png")
    window.last_dialog.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
