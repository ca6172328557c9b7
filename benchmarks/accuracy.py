"""Accuracy beside speed: the shipped models through the fast path, and the plain way.

- The held-out test splits are the shipped models' own (``training_frame_from_corpora``:
  SMS / SpamAssassin / Enron 20% splits, the SemEval-2016 test set), so the figures can be
  compared with the cards.
- "Accuracy unchanged" is checked two ways: the fast scoring path Triage uses
  (:func:`guiapp.core.models.predict`, features hashed once for both models, scored with
  ``bincount``) against the fitted scikit-learn pipeline's own ``predict_proba`` on every
  test message (largest probability difference, labels that differ), and the metrics it
  gives against the ones written in the model cards.
- The plain way is ``make_pipeline(TfidfVectorizer(), LogisticRegression())`` with default
  parameters, fitted on the same training rows (subject + newline + text), cached in
  ``benchmarks/cache/plain_models.joblib``.
"""

from __future__ import annotations

import time

import joblib
import numpy as np
import pandas as pd

from benchmarks import _common as C

TASKS = ("spam", "sentiment")


def training_and_tests() -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The shipped models' training rows and test splits (cached as Parquet)."""
    from guiapp.core.models.training import training_frame_from_corpora

    folder = C.cache_dir() / "corpora"
    train_path = folder / "train.parquet"
    if not train_path.exists():
        folder.mkdir(exist_ok=True)
        train, tests, _ = training_frame_from_corpora(C.shared_data())
        for name, frame in tests.items():
            frame.reset_index(drop=True).to_parquet(
                folder / f"test_{name.replace('/', '__')}.parquet"
            )
        train.to_parquet(train_path)
    train = pd.read_parquet(train_path)
    tests = {
        p.stem.removeprefix("test_").replace("__", "/"): pd.read_parquet(p)
        for p in sorted(folder.glob("test_*.parquet"))
    }
    return train, tests


def texts_of(frame: pd.DataFrame) -> list[str]:
    from guiapp.core.models.predict import model_texts

    return model_texts(frame[["subject", "text"]])


def plain_models() -> dict:
    """Default TF-IDF + logistic regression per task, fitted once on the training rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    path = C.cache_dir() / "plain_models.joblib"
    if path.exists():
        return joblib.load(path)
    train, _ = training_and_tests()
    models, seconds = {}, {}
    for task in TASKS:
        rows = train[train["task"] == task]
        start = time.perf_counter()
        models[task] = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(
            texts_of(rows), rows["label"].to_numpy()
        )
        seconds[task] = time.perf_counter() - start
    models["fit_seconds"] = seconds
    joblib.dump(models, path)
    return models


def _metrics(task: str, truth: np.ndarray, prob: np.ndarray) -> dict:
    from guiapp.core.models import classification_metrics

    m = classification_metrics(task, truth, np.argmax(prob, axis=1))
    return {"accuracy": m["accuracy"], "macro_recall": m["macro_recall"]}


def report() -> dict:
    """Per test split: ours (fast path), ours (sklearn's predict_proba), the card, plain."""
    from guiapp.core import models

    _, tests = training_and_tests()
    shipped = {task: models.load_shipped(task) for task in TASKS}
    plain = plain_models()
    out: dict = {"splits": {}, "plain_fit_seconds": plain["fit_seconds"]}
    worst_diff, changed = 0.0, 0
    for name, frame in tests.items():
        task = name.split("/", 1)[0]
        truth = frame["label"].to_numpy()
        texts = texts_of(frame)
        model = shipped[task]
        (fast,) = models.predict_many(frame[["subject", "text"]], [model])
        reference = model.pipeline.predict_proba(texts)
        worst_diff = max(worst_diff, float(np.abs(fast - reference).max()))
        changed += int((fast.argmax(axis=1) != reference.argmax(axis=1)).sum())
        card = model.card.get("evaluation", {}).get(name, {})
        out["splits"][name] = {
            "n": len(frame),
            "ours": _metrics(task, truth, fast),
            "ours_sklearn_path": _metrics(task, truth, reference),
            "card": {"accuracy": card.get("accuracy"), "macro_recall": card.get("macro_recall")},
            "plain": _metrics(task, truth, plain[task].predict_proba(texts)),
        }
    out["fast_vs_sklearn_max_prob_diff"] = worst_diff
    out["fast_vs_sklearn_labels_changed"] = changed
    out["matches_cards"] = all(
        s["card"]["accuracy"] is None or abs(s["ours"]["accuracy"] - s["card"]["accuracy"]) < 1e-3
        for s in out["splits"].values()
    )
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(report(), indent=2))
