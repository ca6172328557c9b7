"""The review queue: in which order to show messages so that each label teaches most.

Three orders, each a plain function of arrays (the window's Review mode and the
``benchmarks/bench_review.py`` simulation call the same ones):

- :func:`least_confident_queue` -- the unlabelled messages the model is least sure of
  first (binary: ``|P(spam) - 0.5|`` smallest; three classes: the smallest margin between
  the two most probable classes), after a short random warm-up: below ~50 labels the
  least-confident order taught a model less than a random one (issue 9), because a model
  fitted on a handful of labels is unsure about the wrong things;
- :func:`likely_mislabelled_queue` -- the user's own labels that a confident
  cross-validated prediction disagrees with, the most confident disagreement first;
- :func:`random_queue` -- a random sample of the unlabelled messages, reproducible by seed.

Only messages without a user label *for that task* enter the least-confident and random
queues, and the warm-up counts only that task's labels.

:func:`cross_validated_probabilities` gives the out-of-fold class probabilities the
"likely mislabelled" order needs: plain TF-IDF + logistic regression on the user's labels,
stratified K-fold, so each message is judged by a model that never saw its label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from guiapp.core.errors import Cancelled
from guiapp.core.messages import CLASSES, NO_LABEL, TASKS
from guiapp.core.progress import Hooks, ProgressFn, StopFn

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

ORDERS = ("uncertain", "mislabelled", "random")
ORDER_NAMES = {
    "uncertain": "Least confident first",
    "mislabelled": "Likely mislabelled",
    "random": "Random sample",
}
#: Random messages shown before the least-confident order starts, counted in the task's
#: labels (a project with 30 labels of that task starts least-confident at once).
WARM_UP = 30
#: A cross-validated prediction at least this probable that disagrees with the user's
#: label makes that label "likely mislabelled".
MIN_CONFIDENCE = 0.7
#: Labels per class needed to cross-validate (each fold must hold one of every class).
MIN_PER_CLASS = 2


class NotEnoughLabels(ValueError):
    """Too few labels of a task (or of one of its classes) to cross-validate."""


def class_probabilities(task: str, prob: np.ndarray) -> np.ndarray:
    """``(n, k)`` class probabilities from a task's probabilities as a
    :class:`~guiapp.core.collection.Collection` keeps them (spam: P(spam) per row)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    prob = np.asarray(prob)
    if task == "spam":
        if prob.ndim != 1:
            raise ValueError("spam probabilities are one P(spam) per row")
        return np.column_stack([1 - prob, prob])
    if prob.ndim != 2 or prob.shape[1] != len(CLASSES[task]):
        raise ValueError(f"{task} probabilities are (n, {len(CLASSES[task])})")
    return prob


def confidence_margin(prob: np.ndarray) -> np.ndarray:
    """Per row, the top class probability minus the second (0 = a coin toss, 1 = sure);
    NaN where the row was not predicted. For two classes this is ``2 |P - 0.5|``."""
    prob = np.asarray(prob)
    if prob.ndim != 2 or prob.shape[1] < 2:
        raise ValueError("class probabilities are (n, k) with k >= 2")
    if prob.shape[1] == 2:
        return np.abs(prob[:, 1] - prob[:, 0])
    top_two = np.partition(prob, prob.shape[1] - 2, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def _unlabelled(labels: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.asarray(labels) == NO_LABEL).astype(np.int64)


def random_queue(labels: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """The store rows without a label (``labels`` is the task's user-label column, -1
    none) in a random order that depends only on ``seed`` and the unlabelled rows."""
    return np.random.default_rng(seed).permutation(_unlabelled(labels))


def least_confident_queue(
    prob: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    warm_up: int = WARM_UP,
) -> np.ndarray:
    """The unlabelled store rows, least confident first, after a random warm-up.

    Parameters
    ----------
    prob
        ``(n, k)`` class probabilities per store row (see :func:`class_probabilities`);
        NaN where not predicted.
    labels
        The task's user labels per store row (int codes, -1 none).
    seed
        Seeds the warm-up sample and the order among ties and unpredicted rows.
    warm_up
        How many of the task's labels to collect in random order before the model's
        confidence decides; the labels the task already has count toward it.

    Returns
    -------
    numpy.ndarray
        int64 store rows: ``max(0, warm_up - labelled)`` random unlabelled rows, then the
        other unlabelled rows by increasing confidence margin (ties in random order), then
        the rows that were not predicted (random order).
    """
    prob = np.asarray(prob)
    labels = np.asarray(labels)
    if len(prob) != len(labels):
        raise ValueError("one probability row per label")
    if warm_up < 0:
        raise ValueError("the warm-up cannot be negative")
    rng = np.random.default_rng(seed)
    candidates = rng.permutation(_unlabelled(labels))
    needed = max(0, warm_up - int((labels != NO_LABEL).sum()))
    first, rest = candidates[:needed], candidates[needed:]
    margin = confidence_margin(prob[rest]) if len(rest) else np.zeros(0)
    unknown = np.isnan(margin)
    # ``rest`` is already shuffled, so a stable sort leaves ties in random order.
    known = rest[~unknown][np.argsort(margin[~unknown], kind="stable")]
    return np.concatenate([first, known, rest[unknown]]).astype(np.int64)


def unlabelled_queue(
    order: str,
    task: str,
    prob: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    warm_up: int = WARM_UP,
    on_progress: ProgressFn | None = None,
    stop_requested: StopFn | None = None,
) -> np.ndarray:
    """The queue of ``order`` ("uncertain" or "random") over a task's unlabelled rows, from
    the task's probabilities as a collection keeps them (spam: P(spam) per row). A plain
    function with the task hooks: over a million rows it takes a few hundred ms, which the
    window spends on a worker thread."""
    if order == "random":
        return random_queue(labels, seed=seed)
    if order != "uncertain":
        raise ValueError(f"{order!r} is not a queue of unlabelled messages")
    return least_confident_queue(
        class_probabilities(task, prob), labels, seed=seed, warm_up=warm_up
    )


def likely_mislabelled_queue(
    oof_probabilities: np.ndarray,
    rows: np.ndarray,
    labels: np.ndarray,
    *,
    min_confidence: float = MIN_CONFIDENCE,
) -> np.ndarray:
    """The user's labels that a confident out-of-fold prediction disagrees with.

    Parameters
    ----------
    oof_probabilities
        ``(len(rows), k)`` cross-validated class probabilities of the labelled rows
        (:func:`cross_validated_probabilities`, or a retrain's own out-of-fold figures).
    rows
        The store rows those probabilities belong to.
    labels
        The task's user labels per store row *now*; a row whose label was cleared since
        the probabilities were computed is left out.
    min_confidence
        How probable the disagreeing class must be.

    Returns
    -------
    numpy.ndarray
        int64 store rows whose label differs from the out-of-fold prediction, that
        prediction at least ``min_confidence`` probable, most probable first.
    """
    oof = np.asarray(oof_probabilities, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.int64)
    labels = np.asarray(labels)
    if oof.ndim != 2 or len(oof) != len(rows):
        raise ValueError("one row of out-of-fold probabilities per labelled row")
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    user = labels[rows].astype(np.int64)
    labelled = (user >= 0) & (user < oof.shape[1])
    predicted = np.argmax(np.nan_to_num(oof, nan=-1.0), axis=1)
    confidence = oof[np.arange(len(rows)), predicted]
    disagree = labelled & (predicted != user) & (confidence >= min_confidence)
    chosen = np.flatnonzero(disagree)
    # Most confident first; a stable sort keeps equal ones in store order.
    chosen = chosen[np.argsort(-confidence[chosen], kind="stable")]
    return rows[chosen]


def plain_classifier(n_classes: int) -> LogisticRegression:
    """The plain logistic regression of :func:`cross_validated_probabilities` (and of the
    review benchmark): ``C=10``, balanced class weights; liblinear for two classes (it
    fits a few hundred TF-IDF rows in ~0.02 s where lbfgs took 2.4 s on a busy machine),
    lbfgs (multinomial) for more, which liblinear does not fit."""
    from sklearn.linear_model import LogisticRegression

    solver = "liblinear" if n_classes <= 2 else "lbfgs"
    return LogisticRegression(C=10.0, class_weight="balanced", solver=solver, max_iter=1000)


def cross_validated_probabilities(
    task: str,
    texts: Sequence[str],
    labels: np.ndarray,
    folds: int = 5,
    *,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
    stop_requested: StopFn | None = None,
) -> np.ndarray:
    """Out-of-fold class probabilities of labelled messages: each row predicted by a model
    fitted on the other folds (TF-IDF of word 1-2-grams + logistic regression, balanced
    class weights, ``StratifiedKFold`` shuffled by ``seed``). This is what
    ``cross_val_predict(..., method="predict_proba")`` computes, written as a loop over the
    folds so that a stop request lands between folds. ``C=10``: with a few hundred labels
    the default ``C=1`` leaves nearly every probability near 0.5, so that no prediction is
    confident enough to question a label (see :func:`plain_classifier`).

    ``labels`` are the task's codes (0..k-1) of ``texts``; ``folds`` is lowered to the
    smallest class's count when that is smaller. Returns ``(len(texts), k)`` float64 with a
    column for every class of the task (0 for a class none of the labels has).

    Raises :class:`NotEnoughLabels` with fewer than two classes or a class with fewer than
    :data:`MIN_PER_CLASS` labels; :class:`~guiapp.core.errors.Cancelled` if asked to stop.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    k = len(CLASSES[task])
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(texts):
        raise ValueError("one label per text")
    if len(labels) and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"{task} label codes are 0..{k - 1}")
    hooks = Hooks(on_progress, stop_requested)
    present, counts = np.unique(labels, return_counts=True)
    if len(present) < 2 or counts.min() < MIN_PER_CLASS:
        have = ", ".join(f"{CLASSES[task][c]} {int((labels == c).sum())}" for c in range(k))
        raise NotEnoughLabels(
            f"not enough {task} labels to cross-validate: {have} "
            f"(at least {MIN_PER_CLASS} of two classes are needed)"
        )
    n_folds = int(min(folds, counts.min()))
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    out = np.zeros((len(labels), k), dtype=np.float64)
    texts = list(texts)
    # One thread: the multinomial fit's OpenMP threads spin against each other on a busy
    # 2-core machine (400 tweets: 8.7 s with the default threads at load 7-11, 0.6 s with one).
    with threadpool_limits(1):
        for i, (train, test) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
            hooks.step(i, n_folds, f"cross-validating {task} labels, fold {i + 1} of {n_folds}")
            vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
            x_train = vectorizer.fit_transform([texts[j] for j in train])
            model = plain_classifier(len(np.unique(labels[train])))
            model.fit(x_train, labels[train])
            proba = model.predict_proba(vectorizer.transform([texts[j] for j in test]))
            out[np.ix_(test, model.classes_)] = proba
    if hooks.stop_requested is not None and hooks.stop_requested():
        raise Cancelled()
    hooks.progress(n_folds, n_folds, "cross-validated")
    return out


__all__ = [
    "MIN_CONFIDENCE",
    "MIN_PER_CLASS",
    "ORDERS",
    "ORDER_NAMES",
    "WARM_UP",
    "NotEnoughLabels",
    "class_probabilities",
    "confidence_margin",
    "cross_validated_probabilities",
    "least_confident_queue",
    "likely_mislabelled_queue",
    "plain_classifier",
    "random_queue",
    "unlabelled_queue",
]
