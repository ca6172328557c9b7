"""Prediction and evaluation with the spam and sentiment models.

Both models read the same hashed features (same :class:`~.features.TextHasher`
parameters), so :func:`predict` hashes each batch once and scores it with both heads
(:func:`~.linear.decision_scores`). Batches are spread over two worker threads: the
numpy and SciPy work releases the GIL, the regular expressions do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from guiapp.core.extraction import join_written, written_texts
from guiapp.core.messages import CLASSES, LABEL_COLUMN
from guiapp.core.models.features import TextHasher
from guiapp.core.models.linear import (
    TfidfBlock,
    _hashed_coef,
    _row_blocks,
    _segment_sums,
    decision_scores,
    probabilities,
)
from guiapp.core.models.registry import TrainedModel
from guiapp.core.progress import Hooks

if TYPE_CHECKING:
    from guiapp.core.models.hashed import HashedTexts

BATCH = 2000


@dataclass
class Predictions:
    """Class probabilities: ``spam_prob`` (n,) P(spam); ``sentiment_prob`` (n, 3) in the
    order negative, neutral, positive. float32; a task that was not asked for is None."""

    spam_prob: np.ndarray | None
    sentiment_prob: np.ndarray | None


def model_texts(messages: pd.DataFrame | Sequence[str]) -> list[str]:
    """What the models read of each message: subject (if any) + newline + the part a person
    wrote (:func:`guiapp.core.extraction.written_text`: HTML as text, entities decoded,
    quoted replies and signatures left out). Training reads the same."""
    if isinstance(messages, pd.DataFrame):
        texts = messages["text"].fillna("").astype(str).tolist()
        if "subject" in messages.columns:
            subjects = messages["subject"].fillna("").astype(str).tolist()
            return join_written(subjects, texts)
        return written_texts(texts)
    return written_texts("" if t is None else str(t) for t in messages)


def unwritten(texts: Sequence[str]) -> np.ndarray:
    """Mask of :func:`model_texts` with no written part (only a subject, or nothing): the
    sentiment of such a message is not guessed."""
    return np.fromiter((not t or t[-1] == "\n" for t in texts), dtype=bool, count=len(texts))


def _same_hasher(a: TextHasher, b: TextHasher) -> bool:
    pa, pb = a.get_params(), b.get_params()
    return pa.keys() == pb.keys() and all(_equal(pa[k], pb[k]) for k in pa)


def _equal(x: Any, y: Any) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return x is y or x == y
    return bool(x == y)


def _score_batch(texts: list[str], models: list[TrainedModel]) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    cache: list[tuple[TextHasher, Any]] = []
    for model in models:
        hasher = model.pipeline["hash"]
        batch = next((b for h, b in cache if _same_hasher(h, hasher)), None)
        if batch is None:
            batch = hasher.hash(texts)
            cache.append((hasher, batch))
        scores = decision_scores(batch, model.pipeline["tfidf"], model.pipeline["clf"])
        out.append(probabilities(scores).astype(np.float32))
    return out


def predict_many(
    messages: pd.DataFrame | Sequence[str],
    models: Sequence[TrainedModel],
    *,
    hooks: Hooks | None = None,
    n_jobs: int = 2,
    batch_size: int = BATCH,
    unwritten_sentiment: bool = True,
) -> list[np.ndarray]:
    """Class probabilities ``(n, n_classes)`` of each model, features computed once.

    A sentiment model's row is NaN ("no sentiment") for a message with no written part
    (:func:`unwritten`), unless ``unwritten_sentiment`` is False (then it is scored on
    what there is, e.g. for metrics over a labelled set)."""
    hooks = hooks or Hooks()
    texts = model_texts(messages)
    n = len(texts)
    results: list[list[np.ndarray]] = [[] for _ in models]
    starts = list(range(0, n, batch_size))
    hooks.step(0, n, "predicting")
    if n_jobs <= 1 or len(starts) <= 1:
        for start in starts:
            part = _score_batch(texts[start : start + batch_size], list(models))
            for i, p in enumerate(part):
                results[i].append(p)
            hooks.step(min(start + batch_size, n), n, "predicting")
    else:
        # A bounded window of batches in flight, so Cancel is honoured within one batch.
        pool = ThreadPoolExecutor(n_jobs, thread_name_prefix="triage-predict")
        try:
            pending: list[Any] = []
            done = 0
            for start in starts:
                pending.append(
                    pool.submit(_score_batch, texts[start : start + batch_size], list(models))
                )
                if len(pending) >= 2 * n_jobs:
                    part = pending.pop(0).result()
                    for i, p in enumerate(part):
                        results[i].append(p)
                    done += len(part[0])
                    hooks.step(done, n, "predicting")
            for future in pending:
                part = future.result()
                for i, p in enumerate(part):
                    results[i].append(p)
                done += len(part[0])
                hooks.step(done, n, "predicting")
        finally:
            # On Cancel, return at once: batches in flight finish unobserved.
            pool.shutdown(wait=False, cancel_futures=True)
    out = []
    blank = None
    for model, parts in zip(models, results, strict=True):
        width = len(model.classes)
        prob = np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.float32)
        if unwritten_sentiment and model.task == "sentiment" and n:
            blank = unwritten(texts) if blank is None else blank
            prob[blank] = np.nan
        out.append(prob)
    return out


def scores_from_counts(
    counts: sp.csr_matrix,
    tfidf: TfidfBlock,
    clf: Any,
    rows: np.ndarray | None = None,
    hooks: Hooks | None = None,
) -> np.ndarray:
    """``clf.decision_function(tfidf.transform(counts[rows]))`` as ``(n, n_outputs)``
    (all rows when ``rows`` is None), block by block, without building the weighted matrix
    (the same arithmetic as :func:`~.linear.decision_scores`)."""
    counts = sp.csr_matrix(counts)
    n_features = counts.shape[1]
    n_dense = int(tfidf.n_dense)
    n_hashed = n_features - n_dense
    coef = np.asarray(clf.coef_)
    if coef.shape[1] != n_features:
        raise ValueError(f"model expects {coef.shape[1]} features, the counts have {n_features}")
    idf = np.concatenate((np.asarray(tfidf.idf_, dtype=np.float64), np.zeros(n_dense)))
    # The dense columns weigh 0 in the product (their idf is 0); they are added scaled.
    hashed_coef = _hashed_coef(clf, n_hashed)
    padded = np.concatenate((hashed_coef, np.zeros((n_dense, hashed_coef.shape[1]))))
    dense_coef = coef[:, n_hashed:].T * tfidf.dense_scale_[:, None]
    parts = []
    for ind, dat, lengths in _row_blocks(counts, rows):
        if hooks is not None:
            hooks.check()  # Cancel between blocks of ~2M entries
        w = idf[ind]
        weighted = dat * w
        norms = np.sqrt(_segment_sums(weighted * w, lengths))
        norms[norms == 0] = 1.0
        indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        block = sp.csr_matrix((weighted, ind, indptr), shape=(len(lengths), n_features))
        out = np.asarray(block @ padded)
        out /= norms[:, None]
        if n_dense:
            tail = np.flatnonzero(ind >= n_hashed)
            row_of = np.searchsorted(indptr, tail, side="right") - 1
            dense = np.zeros((len(lengths), n_dense))
            dense[row_of, ind[tail] - n_hashed] = dat[tail]
            out += dense @ dense_coef
        parts.append(out)
    width = 1 if coef.shape[0] == 1 else coef.shape[0]
    out = np.concatenate(parts) if parts else np.zeros((0, width))
    return out + np.asarray(clf.intercept_)


def predict_hashed(
    hashed: HashedTexts, models: Sequence[TrainedModel], hooks: Hooks | None = None
) -> list[np.ndarray]:
    """Class probabilities ``(n_rows, n_classes)`` of each model from already hashed rows
    (:func:`~.hashed.hash_texts`, made with the models' hasher parameters): each distinct
    text is scored once."""
    out = []
    for model in models:
        if not hashed.matches(model.pipeline["hash"]):
            raise ValueError(f"the {model.task} model reads other features than these")
        scores = scores_from_counts(
            hashed.counts, model.pipeline["tfidf"], model.pipeline["clf"], hooks=hooks
        )
        out.append(probabilities(scores).astype(np.float32)[hashed.index])
    return out


def predict(
    messages: pd.DataFrame | Sequence[str],
    spam_model: TrainedModel | None,
    sentiment_model: TrainedModel | None,
    hooks: Hooks | None = None,
    *,
    n_jobs: int = 2,
    batch_size: int = BATCH,
) -> Predictions:
    """Both models over ``messages`` (a collection frame, or texts), in batches.

    Progress is reported per batch and Cancel honoured between batches.
    """
    models = [m for m in (spam_model, sentiment_model) if m is not None]
    probs = predict_many(messages, models, hooks=hooks, n_jobs=n_jobs, batch_size=batch_size)
    spam = sentiment = None
    it = iter(probs)
    if spam_model is not None:
        spam = np.ascontiguousarray(next(it)[:, 1])
    if sentiment_model is not None:
        sentiment = next(it)
    return Predictions(spam_prob=spam, sentiment_prob=sentiment)


def predict_proba(
    model: TrainedModel,
    messages: pd.DataFrame | Sequence[str],
    *,
    on_progress: Any = None,
    stop_requested: Any = None,
    n_jobs: int = 2,
) -> np.ndarray:
    """One model: P(spam) ``(n,)`` for spam, ``(n, 3)`` for sentiment (float32)."""
    (prob,) = predict_many(
        messages, [model], hooks=Hooks(on_progress, stop_requested), n_jobs=n_jobs
    )
    return np.ascontiguousarray(prob[:, 1]) if model.task == "spam" else prob


def predicted_codes(task: str, prob: np.ndarray) -> np.ndarray:
    """Class codes from :func:`predict_proba` output (spam: P >= 0.5)."""
    if task == "spam" and prob.ndim == 1:
        return (prob >= 0.5).astype(np.int8)
    return np.argmax(prob, axis=1).astype(np.int8)


# --------------------------------------------------------------------- metrics


def classification_metrics(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro recall / F1, per-class precision/recall/F1/support, confusion matrix
    (rows true class, columns predicted), plus ``spam_f1`` for spam."""
    classes = CLASSES[task]
    k = len(classes)
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class: dict[str, dict[str, float]] = {}
    recalls, f1s = [], []
    for i, name in enumerate(classes):
        tp = confusion[i, i]
        support = confusion[i].sum()
        predicted = confusion[:, i].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(support),
        }
        if support:
            recalls.append(recall)
            f1s.append(f1)
    n = int(confusion.sum())
    out: dict[str, Any] = {
        "n": n,
        "accuracy": round(float(np.trace(confusion) / n), 4) if n else None,
        "macro_recall": round(float(np.mean(recalls)), 4) if recalls else None,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else None,
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }
    if task == "spam":
        out["spam_f1"] = per_class["spam"]["f1"]
    return out


def evaluate(
    model: TrainedModel,
    messages: pd.DataFrame,
    labels: np.ndarray | None = None,
    *,
    hooks: Hooks | None = None,
) -> dict[str, Any]:
    """Metrics of ``model`` on labelled messages (``labels`` or the frame's user label
    column for the task; unlabelled rows, code -1, are left out)."""
    if labels is None:
        labels = messages[LABEL_COLUMN[model.task]].to_numpy()
    labels = np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    frame = (
        messages.loc[keep].reset_index(drop=True)
        if isinstance(messages, pd.DataFrame)
        else messages
    )
    (prob,) = predict_many(frame, [model], hooks=hooks, unwritten_sentiment=False)
    return classification_metrics(model.task, labels[keep], np.argmax(prob, axis=1))
