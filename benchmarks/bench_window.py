"""Time the main window over a million short real messages (offscreen, no pytest).

The messages are drawn with replacement from the SMS Spam Collection and the SemEval
2013-2016 tweets in ../shared/data (about 55k distinct texts), each with a unique id. The
spam and sentiment probabilities are the shipped models' real predictions (computed once and
cached in benchmarks/cache/); the themes are a real k-means clustering (cached too). The
collection is saved as a project, as an import would leave it; then the figures below are
the window's own work on the GUI thread:

- first paint: ``set_project`` (table model, filters, counts, theme panel) until the table's
  viewport has painted once;
- sort by a score column (P(spam), descending) and by the message text, until repainted;
- search: from the search request (debounce skipped) until the filtered table has painted
  (the search itself runs in a worker: the GUI thread stays free meanwhile, measured as the
  longest gap between timer ticks during the search);
- facet filter (spam label) and score range;
- scrolling: 300 jumps to random rows plus page-downs, each until repainted: max and median;
- a bulk label of 100,000 rows (saved to the project first) and its undo.

Usage::

    python benchmarks/bench_window.py            # 1,000,000 messages
    python benchmarks/bench_window.py --rows 200000
    python benchmarks/bench_window.py --json out.json   # also the figures as numbers
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PySide6.QtCore import QEvent, QObject, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from guiapp.core.collection import Collection  # noqa: E402
from guiapp.core.messages import make_frame  # noqa: E402
from guiapp.core.paths import shared_data_dir  # noqa: E402
from guiapp.core.project import Project  # noqa: E402

CACHE = Path(__file__).resolve().parent / "cache"
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def load_texts(data: Path) -> tuple[list[str], list[str]]:
    """(texts, kinds): SMS texts and SemEval tweets (escapes decoded, outer quotes removed)."""
    sms = pd.read_csv(
        data / "sms_spam_collection" / "SMSSpamCollection",
        sep="\t",
        header=None,
        names=["label", "text"],
        quoting=csv.QUOTE_NONE,
        dtype=str,
        keep_default_na=False,
    )
    texts = sms["text"].tolist()
    kinds = ["sms"] * len(texts)
    for path in sorted((data / "semeval_sentiment").glob("*.tsv")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 3:
                    continue
                text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), parts[2])
                if len(text) > 1 and text[0] == text[-1] == '"':
                    text = text[1:-1]
                texts.append(text)
                kinds.append("tweet")
    return texts, kinds


def build_collection(n: int) -> Collection:
    data = shared_data_dir()
    if data is None:
        sys.exit("bench_window: ../shared/data (the corpora) is not available")
    texts, kinds = load_texts(data)
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(texts), n)
    frame = make_frame(
        {
            "id": [f"bench:{i}" for i in range(n)],
            "text": np.asarray(texts, dtype=object)[pick],
            "kind": np.asarray(kinds, dtype=object)[pick],
            "source": ["bench"] * n,
        }
    )
    return Collection(frame)


def add_predictions_and_themes(collection: Collection, n: int) -> list[str]:
    """Real predictions and themes, cached by row count (they take minutes at 1M)."""
    from guiapp.core import session

    notes = []
    CACHE.mkdir(exist_ok=True)
    pred_file = CACHE / f"window_predictions_{n}.npz"
    if pred_file.exists():
        saved = np.load(pred_file, allow_pickle=False)
        collection.spam_prob[:] = saved["spam"]
        collection.sentiment_prob[:] = saved["sentiment"]
        collection.model_versions.update({"spam": "cached", "sentiment": "cached"})
    else:
        t = time.perf_counter()
        try:
            predictions = session.predict(collection)
        except Exception as exc:  # noqa: BLE001 - the benchmark still measures the window
            notes.append(f"no predictions ({type(exc).__name__}: {exc})")
            predictions = None
        if predictions is not None and predictions.prob:
            for task, prob in predictions.prob.items():
                collection.set_predictions(task, prob, predictions.versions[task])
            np.savez(pred_file, spam=collection.spam_prob, sentiment=collection.sentiment_prob)
            notes.append(f"predicted both tasks in {time.perf_counter() - t:.1f} s (cached now)")
        elif predictions is not None:
            notes += predictions.notes
    theme_file = CACHE / f"window_themes_{n}.npy"
    if theme_file.exists():
        collection.cluster[:] = np.load(theme_file)
    else:
        t = time.perf_counter()
        clustering = session.cluster(collection, k=20)
        collection.cluster[:] = clustering.labels
        np.save(theme_file, collection.cluster)
        notes.append(f"clustered in {time.perf_counter() - t:.1f} s (cached now)")
    return notes


class PaintWatch(QObject):
    """Counts paint events of a widget (the table's viewport)."""

    def __init__(self, widget):
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def until_painted(app, watch: PaintWatch, before: int, timeout: float = 60.0) -> None:
    end = time.perf_counter() + timeout
    while watch.count == before and time.perf_counter() < end:
        app.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, help="also write the figures (seconds, MB) here")
    args = parser.parse_args()
    n = args.rows

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    from guiapp.qt.main_window import MainWindow
    from guiapp.qt.settings import Settings
    from guiapp.qt.table_model import COLUMN_INDEX

    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    os.environ["TRIAGE_DATA_DIR"] = str(tmp / "data")

    t = time.perf_counter()
    collection = build_collection(n)
    print(f"built {n:,} messages in {time.perf_counter() - t:.1f} s")
    for note in add_predictions_and_themes(collection, n):
        print("  " + note)
    t = time.perf_counter()
    project = Project.create(tmp / "bench.triage", collection)
    print(f"saved as a project in {time.perf_counter() - t:.1f} s")

    window = MainWindow(Settings.at(tmp / "settings.ini"))
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    watch = PaintWatch(window.table.viewport())
    figures: dict[str, str] = {}
    numbers: dict[str, float | int] = {"rows": n}  # the same figures for --json

    # ---- first paint
    before = watch.count
    t = time.perf_counter()
    window.set_project(project)
    until_painted(app, watch, before)
    numbers["first paint after import"] = time.perf_counter() - t
    figures["first paint after import"] = f"{numbers['first paint after import']:.3f} s"
    while window.runner.active_count():  # the background text-sort ranks
        app.processEvents()
    figures["  text sort ranks ready (background)"] = f"{time.perf_counter() - t:.3f} s"

    def timed(label: str, action) -> float:
        before = watch.count
        t = time.perf_counter()
        action()
        window.table.viewport().update()
        until_painted(app, watch, before)
        elapsed = time.perf_counter() - t
        figures[label] = f"{elapsed:.3f} s"
        numbers[label] = elapsed
        return elapsed

    table = window.table
    timed(
        "sort by P(spam), descending",
        lambda: table.sortByColumn(COLUMN_INDEX["spam_score"], Qt.SortOrder.DescendingOrder),
    )
    timed(
        "sort by P(spam), ascending",
        lambda: table.sortByColumn(COLUMN_INDEX["spam_score"], Qt.SortOrder.AscendingOrder),
    )
    timed(
        "sort by sentiment confidence",
        lambda: table.sortByColumn(COLUMN_INDEX["sentiment_score"], Qt.SortOrder.DescendingOrder),
    )
    timed(
        "sort by message text",
        lambda: table.sortByColumn(COLUMN_INDEX["text"], Qt.SortOrder.AscendingOrder),
    )

    # ---- search in a worker; the GUI thread keeps ticking meanwhile
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)

    def search(text: str) -> tuple[float, int]:
        bar = window.filter_bar
        bar.search.blockSignals(True)
        bar.search.setText(text)
        bar.search.blockSignals(False)
        gaps.clear()
        last[0] = time.perf_counter()
        timer.start()
        t = time.perf_counter()
        bar._flush_search()
        while window._search[0] != text.strip() and time.perf_counter() - t < 60:
            app.processEvents()
        before = watch.count
        table.viewport().update()
        until_painted(app, watch, before)
        elapsed = time.perf_counter() - t
        timer.stop()
        return elapsed, window.model.rowCount()

    for text in ("free", "call now", "love", "zzzznotthere"):
        elapsed, shown = search(text)
        longest = max(gaps) if gaps else 0.0
        figures[f"search {text!r}"] = (
            f"{elapsed:.3f} s -> {shown:,} rows (GUI thread's longest stall {longest * 1000:.0f} ms)"
        )
        numbers[f"search {text!r}"] = elapsed
        numbers[f"search {text!r} rows"] = shown
        numbers[f"search {text!r} longest stall"] = longest
    search("")

    # ---- facets
    def facet_spam():
        window.filter_bar.spam.set_selected({1})
        window.filter_bar._emit()

    timed("facet: spam label", facet_spam)

    def score_range():
        window.filter_bar.spam.set_selected(None)
        window.filter_bar.score.setValue((0.4, 0.6))
        window.filter_bar._slider_timer.stop()
        window.filter_bar._emit()

    timed("score between 0.4 and 0.6", score_range)
    figures["  rows in that range"] = f"{window.model.rowCount():,}"
    timed("clear filters", window.filter_bar.clear)

    # ---- scrolling
    rng = np.random.default_rng(1)
    bar = table.verticalScrollBar()
    times = []
    for value in rng.integers(0, bar.maximum(), 300):
        before = watch.count
        t = time.perf_counter()
        bar.setValue(int(value))
        until_painted(app, watch, before)
        times.append(time.perf_counter() - t)
    for _ in range(100):
        before = watch.count
        t = time.perf_counter()
        bar.setValue(bar.value() + bar.pageStep())
        until_painted(app, watch, before)
        times.append(time.perf_counter() - t)
    before = watch.count
    t = time.perf_counter()
    bar.setValue(bar.maximum())
    until_painted(app, watch, before)
    times.append(time.perf_counter() - t)
    numbers["scroll median"] = statistics.median(times)
    numbers["scroll max"] = max(times)
    figures["scroll (400 jumps and page-downs)"] = (
        f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
    )

    # ---- bulk label and undo
    rows = np.arange(0, min(n, 100_000), dtype=np.int64)
    timed(
        f"label {len(rows):,} rows spam (saved first)", lambda: window.label_rows("spam", rows, 1)
    )
    timed("undo it", window.editor.stack.undo)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["peak memory (whole process)"] = f"{rss:,.0f} MB"
    numbers["peak memory MB"] = rss
    print(f"\nwindow over {n:,} messages (offscreen, {os.cpu_count()} cores)")
    for key, value in figures.items():
        print(f"  {key:<42} {value}")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2), encoding="utf-8")
    window.close()
    project.close()


if __name__ == "__main__":
    main()
