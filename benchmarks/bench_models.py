"""The shipped models: accuracy on every development split, speed, file sizes.

    python -m benchmarks.bench_models            # accuracy + 100k speed
    python -m benchmarks.bench_models --million  # also 1,000,000 messages, both models

Reads ``../shared/data`` (benchmarks are not tests). Prints, per split, the figures
recomputed from the shipped model files beside the ones in their cards; messages/s with 1
and 2 workers over 100,000 short messages (SemEval-2016 test tweets + SMS test split,
repeated); file sizes. Retraining is measured by ``benchmarks.bench_learning``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from guiapp.core import models
from guiapp.core.models.predict import classification_metrics, predict_many
from guiapp.core.models.training import speed_sample, training_frame_from_corpora
from guiapp.core.paths import shared_data_dir, shipped_models_dir


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


def sizes() -> None:
    print("== files in models/")
    for path in sorted(shipped_models_dir().iterdir()):
        if path.is_file() and not path.name.startswith("__"):
            print(f"{path.name:28s} {path.stat().st_size / 1e6:7.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--million", action="store_true", help="also time 1,000,000 messages")
    args = parser.parse_args()
    data = shared_data_dir()
    if data is None:
        raise SystemExit("../shared/data not found")
    shipped = {t: models.load_shipped(t) for t in ("spam", "sentiment")}
    _, tests, _ = training_frame_from_corpora(data)
    accuracy(shipped, tests)
    speed(shipped, speed_sample(tests, 100_000))
    if args.million:
        speed(shipped, speed_sample(tests, 1_000_000))
    sizes()


if __name__ == "__main__":
    main()
