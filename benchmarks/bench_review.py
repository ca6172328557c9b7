"""Review queue: how much a label teaches in least-confident order vs random order.

Simulates a user walking the window's review queue on a real corpus: the "user" answers
with the corpus label; after every ``--batch`` labels (the Review mode's "retrain every N
labels") a plain model is refitted on the labels so far and the queue is rebuilt from its
probabilities with :mod:`guiapp.core.review` -- the very functions the window calls. At
N = 25, 50, 100, 200, 400 labels the model is scored on a held-out split that is never
labelled (nor shown to the queue).

- spam: the SMS Spam Collection, exact duplicate texts removed, stratified 20% test split
  (``random_state=0``, the project's split); the other 80% is the collection to label;
- sentiment: the SemEval-2016 test tweets (``twitter-2016test-A.tsv``, 20,632), the same
  kind of split; scored by macro recall (the SemEval metric) and accuracy.

Sentiment runs a second time adapting a starting model (plain TF-IDF + LR on the other
SemEval files, as the shipped model is trained): the queue starts from that model's doubt
and the refitted LR also reads its three log-probabilities, as the window starts from the
shipped model (``--no-start`` skips it).

The model is plain TF-IDF (word 1-2-grams, sublinear tf, fitted once on the texts of the
collection being labelled -- unlabelled text, which the user has -- never on the test
split) + logistic regression (``review.plain_classifier``: ``C=10``, balanced class weights), the
recipe of ``review.cross_validated_probabilities``. Each order runs ``--repeats`` times (seeds
0..repeats-1: the warm-up sample and the random order differ); the table shows the mean
and the standard deviation over the runs.

    python -m benchmarks.bench_review [--repeats 10] [--batch 25]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, recall_score
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from benchmarks import _common as C
from guiapp.core import review

CHECKPOINTS = (25, 50, 100, 200, 400)
ORDERS = {
    "random": ("random", 0),
    "least confident, 30 random first": ("uncertain", 30),
    "least confident, no warm-up": ("uncertain", 0),
}


def corpus(task: str) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(collection to label, held-out test split, number of classes)."""
    data = C.shared_data()
    if task == "spam":
        frame = C.sms_frame(data).drop_duplicates("text").reset_index(drop=True)
        label, k = "spam", 2
    else:
        tweets = C.semeval_frame(data)
        frame = tweets[tweets["file"] == "twitter-2016test-A.tsv"].reset_index(drop=True)
        label, k = "sentiment", 3
    pool, test = train_test_split(frame, test_size=0.2, stratify=frame[label], random_state=0)
    pool = pool.rename(columns={label: "truth"}).reset_index(drop=True)
    test = test.rename(columns={label: "truth"}).reset_index(drop=True)
    return pool, test, k


def fit(x, y: np.ndarray, k: int):
    """The plain model on the labels so far; None while they hold a single class."""
    if len(np.unique(y)) < 2:
        return None
    return review.plain_classifier(len(np.unique(y))).fit(x, y)


def probabilities(model, x, k: int) -> np.ndarray:
    out = np.full((x.shape[0], k), np.nan)
    if model is not None:
        out[:, :] = 0.0
        out[:, model.classes_] = model.predict_proba(x)
    return out


def starting_model(pool: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities of the collection and the test split by a starting model: plain
    TF-IDF + LR on the other SemEval files (2013-2016 train/dev/test but 2016 test, texts
    of the 2016 test set removed), as the shipped sentiment model is trained."""
    data = C.shared_data()
    train = C.semeval_frame(data, exclude=("twitter-2016test-A.tsv",))
    seen = set(pool["text"]) | set(test["text"])
    train = train[~train["text"].isin(seen)]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    x = vectorizer.fit_transform(train["text"])
    model = review.plain_classifier(3).fit(x, train["sentiment"].to_numpy())
    return (
        model.predict_proba(vectorizer.transform(pool["text"])),
        model.predict_proba(vectorizer.transform(test["text"])),
    )


def simulate(x_pool, truth, x_test, test_truth, k, order, warm_up, seed, batch, start=None):
    """Scores at each checkpoint for one walk of the queue. ``start``: the starting model's
    (collection, test) probabilities, which order the queue and answer until the first
    refit (as the shipped model does in the window)."""
    labels = np.full(len(truth), -1, dtype=np.int64)
    model = None
    scores = {}
    n = 0
    while n < CHECKPOINTS[-1]:
        if order == "random":
            queue = review.random_queue(labels, seed=seed)
        else:
            if model is None and start is not None:
                prob = start[0]
            else:
                prob = probabilities(model, x_pool, k)
            queue = review.least_confident_queue(prob, labels, seed=seed + n, warm_up=warm_up)
        step = min(batch, min(c for c in CHECKPOINTS if c > n) - n)
        chosen = queue[:step]
        labels[chosen] = truth[chosen]  # the user answers with the corpus label
        n += len(chosen)
        rows = np.flatnonzero(labels >= 0)
        model = fit(x_pool[rows], labels[rows], k)
        if n in CHECKPOINTS:
            predicted = (
                model.predict(x_test)
                if model is not None
                else np.full(len(test_truth), labels[rows][0])
            )
            scores[n] = (
                accuracy_score(test_truth, predicted),
                recall_score(test_truth, predicted, average="macro", zero_division=0),
            )
    return scores


def run(task: str, repeats: int, batch: int, *, from_start: bool = False) -> dict:
    """``from_start``: adapt a starting model (sentiment only): the refitted LR also reads
    the starting model's three log-probabilities as features, and the queue starts from
    the starting model's doubt."""
    pool, test, k = corpus(task)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    x_pool = vectorizer.fit_transform(pool["text"])
    x_test = vectorizer.transform(test["text"])
    truth, test_truth = pool["truth"].to_numpy(np.int64), test["truth"].to_numpy(np.int64)
    start = None
    extra = ""
    if from_start:
        from scipy import sparse

        start = starting_model(pool, test)
        x_pool = sparse.hstack([x_pool, np.log(start[0] + 1e-9)], format="csr")
        x_test = sparse.hstack([x_test, np.log(start[1] + 1e-9)], format="csr")
        predicted = start[1].argmax(axis=1)
        extra = (
            f"; the starting model alone: macro recall "
            f"{recall_score(test_truth, predicted, average='macro'):.3f}, accuracy "
            f"{accuracy_score(test_truth, predicted):.3f}"
        )
    results = {}
    for name, (order, warm_up) in ORDERS.items():
        runs = [
            simulate(x_pool, truth, x_test, test_truth, k, order, warm_up, seed, batch, start)
            for seed in range(repeats)
        ]
        results[name] = {
            n: np.array([r[n] for r in runs]) for n in CHECKPOINTS
        }  # (repeats, 2): accuracy, macro recall
    return {"pool": len(pool), "test": len(test), "results": results, "extra": extra}


def table(task: str, measured: dict) -> str:
    metric = 0 if task == "spam" else 1
    name = "accuracy" if task == "spam" else "macro recall"
    lines = [
        f"{task}: {name} on the held-out split ({measured['test']:,} messages) after N "
        f"labels of {measured['pool']:,}; mean ± sd over the runs{measured['extra']}",
        "",
        "| order | " + " | ".join(f"N = {n}" for n in CHECKPOINTS) + " |",
        "|---|" + "---|" * len(CHECKPOINTS),
    ]
    for order, by_n in measured["results"].items():
        cells = [
            f"{by_n[n][:, metric].mean():.3f} ± {by_n[n][:, metric].std():.3f}" for n in CHECKPOINTS
        ]
        lines.append(f"| {order} | " + " | ".join(cells) + " |")
    target = measured["results"]["random"][CHECKPOINTS[-1]][:, metric].mean()
    for order, by_n in measured["results"].items():
        if order == "random":
            continue
        reached = next((n for n in CHECKPOINTS if by_n[n][:, metric].mean() >= target), None)
        lines.append("")
        lines.append(
            f"{order} reaches random order's N = {CHECKPOINTS[-1]} figure ({target:.3f}) "
            + (f"at N = {reached}" if reached is not None else f"not by N = {CHECKPOINTS[-1]}")
        )
    other, other_name = (1, "macro recall") if task == "spam" else (0, "accuracy")
    lines.append("")
    lines.append(
        f"{other_name}: "
        + "; ".join(
            f"{order} " + " / ".join(f"{by_n[n][:, other].mean():.3f}" for n in CHECKPOINTS)
            for order, by_n in measured["results"].items()
        )
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch", type=int, default=25, help="labels between refits")
    parser.add_argument("--task", choices=("spam", "sentiment", "both"), default="both")
    parser.add_argument(
        "--no-start",
        action="store_true",
        help="skip the sentiment run that adapts a starting model (trained on other tweets)",
    )
    args = parser.parse_args(argv)
    tasks = ("spam", "sentiment") if args.task == "both" else (args.task,)
    start, load = time.perf_counter(), os.getloadavg()[0]
    print(
        f"review queue, refit every {args.batch} labels, {args.repeats} runs per order; "
        f"load average at start {load:.2f} ({os.cpu_count()} cores)\n"
    )
    # One thread per fit, as cross_validated_probabilities does (OpenMP threads of the
    # multinomial fit spin against each other on a busy 2-core machine).
    with threadpool_limits(1):
        for task in tasks:
            print(table(task, run(task, args.repeats, args.batch)))
            print()
        if "sentiment" in tasks and not args.no_start:
            print("adapting a starting model trained on the other SemEval files:")
            print(table("sentiment", run("sentiment", args.repeats, args.batch, from_start=True)))
            print()
    print(f"{time.perf_counter() - start:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
