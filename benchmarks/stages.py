"""One measurement per process: ``python -m benchmarks.stages STAGE IMPL SIZE [--runs N]``.

The harness (:mod:`benchmarks.harness`) runs every (stage, way, size) in a fresh Python
process, so each figure comes with that process's own peak resident memory and no run
inherits another's caches or heap. The result is one JSON line on stdout (``@@RESULT {...}``)
with the seconds of every run, their median, the peak RSS and figures of the stage
(throughput, accuracy, ...).

Two ways for every stage:

- ``ours``: Triage's own code, the functions the window and ``triage classify`` call;
- ``plain``: what a user would write with the usual libraries and their defaults --
  ``pandas.read_csv``, :mod:`mailbox` + :mod:`email`, ``TfidfVectorizer`` +
  ``LogisticRegression`` fitted and predicting, ``KMeans(n_clusters=20)`` on the TF-IDF
  matrix, ``DataFrame.to_csv``.

Set-up (building a collection, fitting the plain models once) is never timed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import _common as C

TASKS = ("spam", "sentiment")


# ============================================================================ import
def import_csv_ours(n: int, runs: int) -> dict:
    from guiapp.core.io import load_collection

    path = C.short_csv(n)
    timing, result = C.repeat(lambda: load_collection(path), runs)
    return _record(timing, rows=len(result.messages), mb=path.stat().st_size / 1e6)


def import_csv_plain(n: int, runs: int) -> dict:
    path = C.short_csv(n)
    timing, frame = C.repeat(lambda: pd.read_csv(path), runs)
    return _record(timing, rows=len(frame), mb=path.stat().st_size / 1e6)


def import_mbox_ours(n: int, runs: int) -> dict:
    from guiapp.core.io import load_collection

    # Big mboxes are parsed by a pool of loky worker processes: their memory is not in
    # this process's peak RSS.
    path = C.emails_mbox(n)
    timing, result = C.repeat(lambda: load_collection(path), runs)
    return _record(
        timing,
        rows=len(result.messages),
        problems=len(result.problems),
        mb=path.stat().st_size / 1e6,
    )


def read_mbox_plain(path: Path) -> pd.DataFrame:
    """The standard library's way: mailbox.mbox, email.policy.default, get_body()."""
    import email.policy
    import mailbox
    from email.parser import BytesParser

    parser = BytesParser(policy=email.policy.default)
    rows = []
    for message in mailbox.mbox(path, factory=parser.parse, create=False):
        try:
            body = message.get_body(preferencelist=("plain", "html"))
            text = body.get_content() if body is not None else ""
        except (LookupError, KeyError, ValueError, AttributeError):
            text = ""  # unknown charsets and broken MIME: what a quick script would do
        rows.append(
            (
                str(message["message-id"] or ""),
                str(message["subject"] or ""),
                str(message["from"] or ""),
                str(message["date"] or ""),
                text,
            )
        )
    return pd.DataFrame(rows, columns=["id", "subject", "sender", "date", "text"])


def import_mbox_plain(n: int, runs: int) -> dict:
    path = C.emails_mbox(n)
    timing, frame = C.repeat(lambda: read_mbox_plain(path), runs)
    return _record(timing, rows=len(frame), mb=path.stat().st_size / 1e6)


# ============================================================================ classify
def _predictions_file(n: int) -> Path:
    return C.cache_dir() / f"predictions_{n}.npz"


def predict_ours(collection):
    """Both models over every row, as the window and ``triage classify`` do."""
    from guiapp.core import session

    return session.predict(collection)


def classify_ours(n: int, runs: int) -> dict:
    from guiapp.core import models

    collection = C.collection_from_csv(n)
    timing, predictions = C.repeat(lambda: predict_ours(collection), runs)
    # session.predict loads (and checks) the model files on every call; that part alone:
    loading, _ = C.repeat(lambda: [models.load_shipped(t) for t in TASKS], runs)
    missing = [t for t in TASKS if t not in predictions.prob]
    if missing:
        raise RuntimeError("; ".join(predictions.notes) or f"no {missing} predictions")
    np.savez(
        _predictions_file(n),
        spam=predictions.prob["spam"],
        sentiment=predictions.prob["sentiment"],
        versions=np.array([predictions.versions["spam"], predictions.versions["sentiment"]]),
    )
    extra = {"rows": n, "per_second": n / timing.median, "model_load_seconds": loading.median}
    extra.update(_agreement_with_truth(n, predictions.prob))
    return _record(timing, **extra)


def _agreement_with_truth(n: int, prob: dict[str, np.ndarray]) -> dict:
    """Accuracy on the workload rows whose corpus label is known (most are training rows)."""
    truth = C.short_truth(n)
    out = {}
    for task in TASKS:
        known = truth[task] >= 0
        p = prob[task]
        pred = (p >= 0.5).astype(np.int8) if p.ndim == 1 else p.argmax(axis=1).astype(np.int8)
        out[f"{task}_agreement_with_corpus_labels"] = float(
            (pred[known] == truth[task][known]).mean()
        )
    return out


def classify_plain(n: int, runs: int) -> dict:
    from benchmarks import accuracy

    models = accuracy.plain_models()
    frame = pd.read_csv(C.short_csv(n))
    texts = frame["text"].fillna("")

    def run():
        return {task: models[task].predict_proba(texts) for task in TASKS}

    timing, prob = C.repeat(run, runs)
    prob = {"spam": prob["spam"][:, 1], "sentiment": prob["sentiment"]}
    extra = {"rows": n, "per_second": n / timing.median}
    extra.update(_agreement_with_truth(n, prob))
    return _record(timing, **extra)


# ============================================================================ cluster
def _cluster_file(n: int) -> Path:
    return C.cache_dir() / f"cluster_{n}.npz"


def cluster_ours(n: int, runs: int) -> dict:
    import json

    from guiapp.core import session

    collection = C.collection_from_csv(n)
    timing, clustering = C.repeat(lambda: session.cluster(collection, k=20), runs)
    np.savez(
        _cluster_file(n),
        labels=clustering.labels,
        top_terms=np.array([json.dumps(clustering.top_terms)]),
    )
    sizes = np.bincount(clustering.labels[clustering.labels >= 0])
    return _record(
        timing, rows=n, k=clustering.k, largest_theme_share=float(sizes.max() / sizes.sum())
    )


def cluster_distinct_ours(n: int, runs: int) -> dict:
    """The worst case for de-duplication: every text made unique by one extra token
    (bench_clustering's "all distinct" sample)."""
    from benchmarks.bench_clustering import load_texts, sample
    from guiapp.core import session
    from guiapp.core.collection import Collection

    collection = Collection(sample(load_texts(C.shared_data()), n, C.SEED, distinct=True))
    timing, clustering = C.repeat(lambda: session.cluster(collection, k=20), runs)
    sizes = np.bincount(clustering.labels[clustering.labels >= 0])
    return _record(
        timing, rows=n, k=clustering.k, largest_theme_share=float(sizes.max() / sizes.sum())
    )


def cluster_plain(n: int, runs: int) -> dict:
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = pd.read_csv(C.short_csv(n))["text"].fillna("")

    def run():
        matrix = TfidfVectorizer().fit_transform(texts)
        return KMeans(n_clusters=20, random_state=C.SEED).fit_predict(matrix)

    timing, labels = C.repeat(run, runs)
    sizes = np.bincount(labels)
    return _record(timing, rows=n, k=20, largest_theme_share=float(sizes.max() / sizes.sum()))


# ============================================================================ export
def classified_collection(n: int):
    """The workload with predictions and themes (from the classify/cluster runs' caches)."""
    import json

    from guiapp.core.clustering import Clustering

    collection = C.collection_from_csv(n)
    if not _predictions_file(n).exists():
        classify_ours(n, 1)
    with np.load(_predictions_file(n)) as saved:
        versions = [str(v) for v in saved["versions"]]
        collection.set_predictions("spam", saved["spam"], versions[0])
        collection.set_predictions("sentiment", saved["sentiment"], versions[1])
    if not _cluster_file(n).exists():
        cluster_ours(n, 1)
    with np.load(_cluster_file(n)) as saved:
        collection.cluster[:] = saved["labels"]
        top_terms = json.loads(str(saved["top_terms"][0]))
    # Only top_terms is read by the export; the rest describes a real clustering too.
    k = len(top_terms)
    collection.clustering = Clustering(
        k=k,
        labels=collection.cluster,
        sizes_fitted=np.bincount(collection.cluster[collection.cluster >= 0], minlength=k),
        sizes_all=np.bincount(collection.cluster[collection.cluster >= 0], minlength=k),
        top_terms=top_terms,
        names=[", ".join(t[:3]) for t in top_terms],
        curve=[],
        seed=C.SEED,
        fitted_rows=n,
        notes=[],
    )
    return collection


def export_ours(n: int, runs: int) -> dict:
    from guiapp.core.export import export_csv

    collection = classified_collection(n)
    with tempfile.TemporaryDirectory(dir=C.cache_dir()) as tmp:
        out = Path(tmp) / "export.csv"
        timing, _ = C.repeat(lambda: export_csv(collection, out), runs)
        size = out.stat().st_size / 1e6
    return _record(timing, rows=n, mb=size)


def plain_export_frame(collection) -> pd.DataFrame:
    """The same columns as Triage's export, as a pandas user holds them."""
    from guiapp.core.messages import label_names

    frame = collection.messages.copy()
    for task in TASKS:
        frame[task] = label_names(task, collection.predicted(task))
        frame[f"{task}_score"] = collection.score(task)
    frame["cluster"] = collection.cluster
    terms = np.array([" ".join(t) for t in collection.clustering.top_terms] + [""], dtype=object)
    frame["cluster_terms"] = terms[collection.cluster]  # -1 picks the trailing ""
    return frame


def export_plain(n: int, runs: int) -> dict:
    frame = plain_export_frame(classified_collection(n))
    with tempfile.TemporaryDirectory(dir=C.cache_dir()) as tmp:
        out = Path(tmp) / "export.csv"
        timing, _ = C.repeat(lambda: frame.to_csv(out, index=False), runs)
        size = out.stat().st_size / 1e6
    return _record(timing, rows=n, mb=size)


# ============================================================================ retrain
RETRAIN_LABELS = 50_000


def retrain_collection(labels: int = RETRAIN_LABELS):
    """``labels`` spam-labelled messages (SMS + Enron mail) and ``labels`` sentiment-labelled
    tweets (SemEval), drawn with replacement, as one collection with user labels."""
    from guiapp.core.collection import Collection
    from guiapp.core.messages import make_frame

    data = C.shared_data()
    sms, enron = C.sms_frame(data), C.enron_frame(data)
    tweets = C.semeval_frame(data)
    spam_pool = pd.DataFrame(
        {
            "kind": ["sms"] * len(sms) + ["email"] * len(enron),
            "subject": [""] * len(sms) + enron["subject"].tolist(),
            "text": sms["text"].tolist() + enron["text"].tolist(),
            "spam": np.concatenate([sms["spam"], enron["spam"]]),
        }
    )
    s = spam_pool.iloc[C.draw(len(spam_pool), labels, C.SEED + 1)].reset_index(drop=True)
    t = tweets.iloc[C.draw(len(tweets), labels, C.SEED + 2)].reset_index(drop=True)
    frame = make_frame(
        {
            "id": [f"retrain:{i}" for i in range(2 * labels)],
            "kind": s["kind"].tolist() + ["tweet"] * labels,
            "subject": s["subject"].tolist() + [""] * labels,
            "text": s["text"].tolist() + t["text"].tolist(),
            "user_spam": np.concatenate([s["spam"], np.full(labels, -1, np.int8)]),
            "user_sentiment": np.concatenate([np.full(labels, -1, np.int8), t["sentiment"]]),
        }
    )
    collection = Collection(frame)
    for task in TASKS:  # labels given in Triage, not imported: they count as corrections
        collection.corrected[task][:] = collection.user[task] >= 0
    return collection


def retrain_ours(n: int, runs: int) -> dict:
    from guiapp.core import session

    collection = retrain_collection(n)
    timing, outcome = C.repeat(lambda: session.retrain(session.snapshot(collection)), runs)
    extra: dict = {"labels_per_model": n, "rows": len(collection)}
    for task, report in outcome.reports.items():
        extra[f"{task}_cv"] = {
            "new": report.new and {k: report.new[k] for k in ("accuracy", "macro_recall", "n")},
            "method": report.method,
        }
    extra["cancel"] = measure_cancel(collection)
    return _record(timing, **extra)


def measure_cancel(collection, delays=(0.2, 1.0, 2.5, 5.0)) -> dict:
    """Seconds from a Cancel request to session.retrain returning, at several moments."""
    from guiapp.core import session
    from guiapp.core.errors import Cancelled

    latencies = {}
    for delay in delays:
        stop = threading.Event()
        ended = {}

        def work(stop=stop, ended=ended):
            try:
                session.retrain(session.snapshot(collection), stop_requested=stop.is_set)
                ended["how"] = "finished"
            except Cancelled:
                ended["how"] = "cancelled"
            except BaseException as exc:  # noqa: BLE001 - reported, not hidden
                ended["how"] = f"{type(exc).__name__}: {exc}"
            ended["at"] = time.perf_counter()

        thread = threading.Thread(target=work)
        thread.start()
        thread.join(delay)
        asked = time.perf_counter()
        stop.set()
        thread.join()
        if "at" not in ended or ended["at"] < asked:
            latencies[f"after {delay:g} s"] = f"finished before the request ({ended.get('how')})"
        else:
            latencies[f"after {delay:g} s"] = round(ended["at"] - asked, 3)
            if ended["how"] != "cancelled":
                latencies[f"after {delay:g} s"] = f"{ended['at'] - asked:.3f} ({ended['how']})"
    numbers = [v for v in latencies.values() if isinstance(v, float)]
    latencies["worst"] = max(numbers) if numbers else None
    return latencies


def retrain_plain(n: int, runs: int) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    collection = retrain_collection(n)
    messages = collection.messages
    texts = (messages["subject"] + " " + messages["text"]).str.strip()

    def run():
        prob = {}
        for task in TASKS:
            labelled = collection.user[task] >= 0
            model = make_pipeline(TfidfVectorizer(), LogisticRegression())
            model.fit(texts[labelled], collection.user[task][labelled])
            prob[task] = model.predict_proba(texts)
        return prob

    timing, _ = C.repeat(run, runs)
    return _record(timing, labels_per_model=n, rows=len(collection))


# ============================================================================ accuracy
def accuracy_ours(n: int, runs: int) -> dict:
    from benchmarks import accuracy

    timing, report = C.repeat(accuracy.report, 1)
    return _record(timing, **report)


# ============================================================================ helpers
def _record(timing: C.Timing, **extra) -> dict:
    return {
        "seconds": [round(s, 4) for s in timing.seconds],
        "median": timing.median,
        "cpu_seconds": [round(s, 3) for s in timing.cpu_seconds],
        "load_average": [round(x, 2) for x in timing.load],
        "peak_rss_mb": round(C.peak_rss_mb(), 1),
        **extra,
    }


STAGES = {
    ("import_csv", "ours"): import_csv_ours,
    ("import_csv", "plain"): import_csv_plain,
    ("import_mbox", "ours"): import_mbox_ours,
    ("import_mbox", "plain"): import_mbox_plain,
    ("classify", "ours"): classify_ours,
    ("classify", "plain"): classify_plain,
    ("cluster", "ours"): cluster_ours,
    ("cluster", "plain"): cluster_plain,
    ("cluster_distinct", "ours"): cluster_distinct_ours,
    ("export", "ours"): export_ours,
    ("export", "plain"): export_plain,
    ("retrain", "ours"): retrain_ours,
    ("retrain", "plain"): retrain_plain,
    ("accuracy", "ours"): accuracy_ours,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=sorted({s for s, _ in STAGES}))
    parser.add_argument("impl", choices=["ours", "plain"])
    parser.add_argument("size", type=int)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    record = {"stage": args.stage, "impl": args.impl, "size": args.size, "runs": args.runs}
    # The shipped models, never a version retrained earlier on this machine; retrains made
    # here are saved in this throw-away folder.
    with tempfile.TemporaryDirectory(prefix="triage-bench-data-") as data:
        os.environ["TRIAGE_DATA_DIR"] = data
        try:
            record.update(STAGES[args.stage, args.impl](args.size, args.runs))
        except BaseException as exc:  # noqa: BLE001 - the harness shows what went wrong
            record["error"] = f"{type(exc).__name__}: {exc}"
            record["traceback"] = traceback.format_exc()
            record["peak_rss_mb"] = round(C.peak_rss_mb(), 1)
            C.emit(record)
            return 1
    C.emit(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
