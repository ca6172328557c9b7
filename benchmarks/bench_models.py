"""The shipped models: accuracy on every development split, speed, retrain time, cancel.

    python -m benchmarks.bench_models            # accuracy + 100k speed + retrain + cancel
    python -m benchmarks.bench_models --million  # also 1,000,000 messages, both models

Reads ``../shared/data`` (benchmarks are not tests). Prints, per split, the figures
recomputed from the shipped model files beside the ones in their cards; messages/s with 1
and 2 workers over 100,000 short messages (SemEval-2016 test tweets + SMS test split,
repeated); the time to retrain both models on the shipped training data plus 5,000 user
labels, each task on its own; whether 20 confident predictions the user corrected come out
corrected; how long Cancel takes to land during a retrain; file sizes.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
import pandas as pd

from guiapp.core import models
from guiapp.core.errors import Cancelled
from guiapp.core.models.predict import classification_metrics, predict_many
from guiapp.core.models.training import speed_sample, training_frame_from_corpora
from guiapp.core.paths import shared_data_dir, shipped_models_dir
from guiapp.core.progress import Hooks


def accuracy(shipped: dict[str, models.TrainedModel], tests: dict[str, pd.DataFrame]) -> None:
    print("== accuracy (recomputed | card)")
    for name, frame in tests.items():
        task = name.split("/")[0]
        model = shipped[task]
        (prob,) = predict_many(frame, [model])
        got = classification_metrics(task, frame["label"].to_numpy(), np.argmax(prob, axis=1))
        card = model.card["evaluation"][name]
        extra = (
            f"spam F1 {got['spam_f1']:.4f} | {card['spam_f1']:.4f}"
            if task == "spam"
            else f"macro recall {got['macro_recall']:.4f} | {card['macro_recall']:.4f}"
        )
        print(
            f"{name:30s} n={got['n']:6d}  accuracy {got['accuracy']:.4f} | {card['accuracy']:.4f}  {extra}"
        )


def speed(shipped: dict[str, models.TrainedModel], texts: list[str]) -> None:
    both = [shipped["spam"], shipped["sentiment"]]
    print(f"== prediction speed, both models, {len(texts):,} short messages")
    predict_many(texts[:4000], both)
    for jobs in (1, 2):
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            predict_many(texts, both, n_jobs=jobs)
            best = min(best, time.perf_counter() - start)
        print(f"{jobs} worker(s): {len(texts) / best:10,.0f} messages/s  ({best:.2f} s)")


def retrain_time(
    shipped: dict[str, models.TrainedModel], tests: dict[str, pd.DataFrame], n_user: int
) -> None:
    print(f"== retrain on the shipped training data + {n_user:,} user labels (save=False)")
    rng = np.random.default_rng(0)
    user = {
        "spam": pd.concat([tests["spam/sms"], tests["spam/enron"]], ignore_index=True),
        "sentiment": tests["sentiment/semeval2016-test"],
    }
    total = 0.0
    for task in ("spam", "sentiment"):
        frame = user[task]
        frame = frame.iloc[
            rng.choice(len(frame), size=min(n_user, len(frame)), replace=False)
        ].reset_index(drop=True)
        start = time.perf_counter()
        result = models.retrain(
            task, frame, frame["label"].to_numpy(), current=shipped[task], save=False
        )
        seconds = time.perf_counter() - start
        total += seconds
        cv = result.report.cv
        print(
            f"{task:9s} {seconds:5.1f} s  rows {result.model.card['training']['rows']:,}  "
            f"before {cv['before']}  after {cv['after']}  ({cv['method']})"
        )
    print(f"both: {total:.1f} s")


def correction_fitting(
    shipped: dict[str, models.TrainedModel], tests: dict[str, pd.DataFrame], n: int = 10
) -> None:
    """The window's check: the n SMS the spam model is surest are ham, labelled spam, and the
    n it is surest are spam, labelled ham; how many still come out wrong after a retrain."""
    print(f"== corrections fitted: {2 * n} confident SMS predictions corrected (held-out split)")
    frame = tests["spam/sms"].reset_index(drop=True)
    prob = models.predict_proba(shipped["spam"], frame)
    order = np.argsort(prob)
    chosen = np.concatenate([order[:n], order[-n:]])
    labels = np.array([1] * n + [0] * n)
    start = time.perf_counter()
    model, report = models.retrain(
        "spam",
        frame.iloc[chosen].reset_index(drop=True),
        labels,
        current=shipped["spam"],
        save=False,
    )
    seconds = time.perf_counter() - start
    after = models.predict_proba(model, frame.iloc[chosen])
    print(
        f"still wrong: {int(((after >= 0.5) != (labels == 1)).sum())} of {2 * n}  "
        f"(report: {report.unfitted} {report.unfitted_reasons})  fit {report.fit}  {seconds:.1f} s"
    )


def cancel_latency(shipped: dict[str, models.TrainedModel], after: float = 3.0) -> None:
    print("== cancel latency during a spam retrain")
    flag = threading.Event()
    data = models.load_training_data("spam")
    corrections = data.sample(n=500, random_state=0).reset_index(drop=True)
    requested = [0.0]

    def request() -> None:
        requested[0] = time.perf_counter()
        flag.set()

    timer = threading.Timer(after, request)
    timer.start()
    try:
        models.retrain(
            "spam",
            corrections,
            corrections["label"].to_numpy(),
            current=shipped["spam"],
            save=False,
            hooks=Hooks(None, flag.is_set),
        )
        print("finished before the cancel request")
    except Cancelled:
        print(f"Cancelled raised {time.perf_counter() - requested[0]:.3f} s after the request")


def sizes() -> None:
    print("== files in models/")
    for path in sorted(shipped_models_dir().iterdir()):
        if path.is_file() and not path.name.startswith("__"):
            print(f"{path.name:28s} {path.stat().st_size / 1e6:7.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--million", action="store_true", help="also time 1,000,000 messages")
    parser.add_argument("--user-labels", type=int, default=5000)
    args = parser.parse_args()
    data = shared_data_dir()
    if data is None:
        raise SystemExit("../shared/data not found")
    shipped = {t: models.load_current(t, "shipped") for t in ("spam", "sentiment")}
    _, tests, _ = training_frame_from_corpora(data)
    accuracy(shipped, tests)
    speed(shipped, speed_sample(tests, 100_000))
    if args.million:
        speed(shipped, speed_sample(tests, 1_000_000))
    retrain_time(shipped, tests, args.user_labels)
    correction_fitting(shipped, tests)
    cancel_latency(shipped)
    sizes()


if __name__ == "__main__":
    main()
