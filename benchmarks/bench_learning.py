"""Learning curves: how fast a project's corrections make its models better, on simulated
new domains from ``../shared/data``, beside the plain ways.

    python -m benchmarks.bench_learning            # both scenarios, table into the README
    python -m benchmarks.bench_learning --quick    # fewer seeds, no README

Scenarios (the user labels messages of a collection the starting model did not see; every
figure is scored on a split of that collection never labelled):

- **spam -> SMS**: a spam model built like the shipped one but *without the SMS corpus*
  (SpamAssassin + Enron rows of ``models/training_data.parquet``) adapts to SMS; labels
  from the SMS training split, accuracy on the SMS test split (1,035 messages).
- **sentiment, 70% negative**: the shipped sentiment model adapts to the SemEval-2016 test
  tweets resampled to 70% negative (its training tweets are 15% negative); labels from one
  half, macro recall on the other.

At each N, in one run: ours (the retrain the window and ``triage retrain`` run), in random
order and in least-confident order (30 random labels first, then the least confident by
the model retrained every batch -- the review queue with automatic retrain); plain TF-IDF +
LogisticRegression on the N labels only; plain on the starting model's training rows + the
N labels. Random orders are averaged over seeds.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import _common as C

NS = (25, 50, 100, 200, 400, 1000)
WARM_UP = 30
README_START = "<!-- learning curves: written by python -m benchmarks.bench_learning -->"
README_END = "<!-- end of learning curves -->"


# ----------------------------------------------------------------------------- scenarios
def spam_without_sms():
    """The spam model without SMS, the SMS pool and test split, and the start's rows."""
    from guiapp.core.models import corpora, training
    from guiapp.core.models.predict import model_texts
    from guiapp.core.models.registry import TrainedModel, load_model

    data = training.load_training_data("spam")
    base = data[data["corpus"] != "sms"].reset_index(drop=True)
    folder = C.cache_dir() / "spam_without_sms"  # rebuilt when the training data changes
    digest = C.file_digest(training.paths.shipped_models_dir() / training.TRAINING_DATA)
    try:
        start = load_model(folder / "spam.npz")
        if start.card.get("training_data_sha256") != digest:
            raise ValueError("stale")
    except Exception:  # noqa: BLE001 - missing, stale or damaged: build it again
        hasher = training.make_hasher()
        X = training.hash_matrix(hasher, model_texts(base), n_jobs=2)
        weights = training.spam_weights(base["corpus"].astype(str).to_numpy())
        y = base["label"].to_numpy()
        pipeline = training._fit("spam", hasher, X, y, weights, training.SPAM_C)
        card = {"hyperparameters": {"C": training.SPAM_C}, "training_data_sha256": digest}
        start = TrainedModel("spam", pipeline, card)
        start.save(folder)
    sms, _ = corpora.read_sms(C.shared_data())
    pool, test = corpora.spam_split(sms)
    return start, pool, test, base


def sentiment_seventy_negative():
    from guiapp.core.models import corpora, training
    from guiapp.core.models.registry import load_shipped

    test = corpora.read_semeval_file(C.shared_data() / corpora.SEMEVAL_DIR / corpora.SEMEVAL_TEST)
    rng = np.random.default_rng(C.SEED)
    y = test["label"].to_numpy()
    neg, rest = np.flatnonzero(y == 0), np.flatnonzero(y != 0)
    chosen = np.concatenate([neg, rng.choice(rest, int(len(neg) * 3 / 7), replace=False)])
    frame = test.iloc[rng.permutation(chosen)].reset_index(drop=True)
    half = len(frame) // 2
    base = training.load_training_data("sentiment")
    return (
        load_shipped("sentiment"),
        frame.iloc[:half].reset_index(drop=True),
        frame.iloc[half:].reset_index(drop=True),
        base,
    )


# ----------------------------------------------------------------------------- measures
def score(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    from guiapp.core.models.predict import classification_metrics

    m = classification_metrics(task, y, pred)
    return float(m["accuracy"] if task == "spam" else m["macro_recall"])


def predict_codes(model, frame: pd.DataFrame) -> np.ndarray:
    from guiapp.core import models

    prob = models.predict_proba(model, frame)
    return (prob >= 0.5).astype(int) if prob.ndim == 1 else np.argmax(prob, axis=1)


def ours(task: str, start, hashed, labels: np.ndarray, rows: np.ndarray):
    from guiapp.core.models import adapt

    return adapt.adapt(task, start, hashed.subset(rows), labels[rows]).model


def plain(task: str, texts: list[str], y: np.ndarray, test_texts: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    if len(np.unique(y)) < 2:
        return np.full(len(test_texts), int(y[0]))
    weight = None if task == "spam" else "balanced"
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000, class_weight=weight))
    model.fit(texts, y)
    return model.predict(test_texts)


def least_confident(task: str, model, hashed, pool_rows: np.ndarray) -> np.ndarray:
    """``pool_rows`` ordered least confident first under ``model``."""
    from guiapp.core.models.linear import count_scores
    from guiapp.core.models.linear import probabilities as class_probabilities

    pipe = model.pipeline
    sub = hashed.subset(pool_rows)
    prob = class_probabilities(count_scores(sub.counts, pipe["tfidf"], pipe["clf"]))[sub.index]
    top2 = np.sort(prob, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    return pool_rows[np.argsort(margin, kind="stable")]


def curve(name: str, task: str, scenario, seeds: int, ns: tuple[int, ...]) -> list[dict]:
    from guiapp.core.models.hashed import hash_texts
    from guiapp.core.models.predict import model_texts

    start, pool, test, base = scenario()
    y_pool = pool["label"].to_numpy().astype(int)
    y_test = test["label"].to_numpy().astype(int)
    texts, test_texts = model_texts(pool), model_texts(test)
    base_texts, base_y = model_texts(base), base["label"].to_numpy().astype(int)
    hashed = hash_texts(start.pipeline["hash"], pool, n_jobs=2)
    start_score = score(task, y_test, predict_codes(start, test))
    ns = tuple(n for n in ns if n <= len(pool))
    out: list[dict] = []
    for n in ns:
        row: dict = {"scenario": name, "n": n, "start": start_score}
        runs = {"ours_random": [], "plain_n": [], "ours_lc": []}
        seconds = []
        for seed in range(seeds):
            order = np.random.default_rng(seed).permutation(len(pool))
            rows = order[:n]
            began = time.perf_counter()
            model = ours(task, start, hashed, y_pool, rows)
            seconds.append(time.perf_counter() - began)
            runs["ours_random"].append(score(task, y_test, predict_codes(model, test)))
            runs["plain_n"].append(
                score(task, y_test, plain(task, [texts[i] for i in rows], y_pool[rows], test_texts))
            )
            # least confident: a random warm-up, then batches chosen by the latest model
            labelled = list(order[: min(WARM_UP, n)])
            current = (
                start
                if len(labelled) < 2
                else ours(task, start, hashed, y_pool, np.array(labelled))
            )
            while len(labelled) < n:
                batch = max(10, len(labelled) // 2)
                free = np.setdiff1d(np.arange(len(pool)), labelled)
                labelled += list(
                    least_confident(task, current, hashed, free)[: min(batch, n - len(labelled))]
                )
                current = ours(task, start, hashed, y_pool, np.array(labelled))
            runs["ours_lc"].append(score(task, y_test, predict_codes(current, test)))
        rows = np.random.default_rng(0).permutation(len(pool))[:n]
        row["plain_base_n"] = score(
            task,
            y_test,
            plain(
                task,
                base_texts + [texts[i] for i in rows],
                np.concatenate([base_y, y_pool[rows]]),
                test_texts,
            ),
        )
        for key, values in runs.items():
            row[key] = float(np.mean(values))
        row["seconds"] = float(np.median(seconds))
        out.append(row)
        print(
            f"{name:24s} N={n:5,}  ours {row['ours_random']:.3f}  least-confident {row['ours_lc']:.3f}  "
            f"plain N {row['plain_n']:.3f}  plain base+N {row['plain_base_n']:.3f}  "
            f"(start {start_score:.3f}; ours {row['seconds']:.2f} s)",
            flush=True,
        )
    return out


def table(rows: list[dict], load: str) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on this machine ({load}); spam: accuracy, "
        "sentiment: macro recall, on a split never labelled; random orders are the mean of "
        "several seeds.",
        "",
        "| scenario | labels N | starting model | ours, random order | ours, least-confident order | plain TF-IDF+LR on N | plain on its training rows + N | ours: seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['n']:,} | {r['start']:.3f} | {r['ours_random']:.3f} | "
            f"{r['ours_lc']:.3f} | {r['plain_n']:.3f} | {r['plain_base_n']:.3f} | {r['seconds']:.2f} |"
        )
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = C.REPO / "README.md"
    content = readme.read_text(encoding="utf-8")
    block = f"{README_START}\n{text}\n{README_END}"
    if README_START in content:
        content = re.sub(
            re.escape(README_START) + r".*?" + re.escape(README_END),
            lambda _: block,
            content,
            flags=re.S,
        )
    else:
        content += "\n" + block + "\n"
    readme.write_text(content, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one seed, no README")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    load = f"load {Path('/proc/loadavg').read_text().split()[0]}"
    rows = curve("spam -> SMS (no SMS in training)", "spam", spam_without_sms, seeds, NS)
    rows += curve("sentiment, 70% negative", "sentiment", sentiment_seventy_negative, seeds, NS)
    text = table(rows, load)
    print(text)
    if not args.quick:
        write_readme(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
