"""Retraining a project's models on its labels, and the honest figures of the report.

For each task: the starting model (the shipped one, or the model the project imported)
is adapted to the project's labels (:mod:`.adapt`); every figure is measured on labels
the measured model was not fitted on:

- the new model by cross-validation over the project's labels (its choices included);
- the version in use before, on the labels added since it was trained;
- the starting model on all of the labels (it was fitted on none of them).

A figure needs ``MIN_CLASS`` labels of each class it depends on; below that it is
``None`` and the report says "not enough labels to measure".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from guiapp.core.errors import ModelError
from guiapp.core.messages import CLASSES, TASKS
from guiapp.core.models import adapt, store
from guiapp.core.models.hashed import HashedTexts, hash_texts, hasher_key
from guiapp.core.models.linear import count_scores
from guiapp.core.models.linear import probabilities as class_probabilities
from guiapp.core.models.predict import classification_metrics, model_texts, unwritten
from guiapp.core.models.registry import SHIPPED, TrainedModel
from guiapp.core.progress import Hooks

#: A figure that depends on a class needs this many labels of it.
MIN_CLASS = 10
HASH_JOBS = 2
UNFITTED_CONFLICT = "the same text carries another label too"
UNFITTED_OUTWEIGHED = "the rest of the evidence outweighs this label"


def figures(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """:func:`~.predict.classification_metrics`, with ``None`` for every figure whose
    classes have fewer than ``MIN_CLASS`` labels (``"short"`` lists those classes,
    ``"absent"`` the classes without any)."""
    m = classification_metrics(task, y_true, y_pred)
    support = {c: v["support"] for c, v in m["per_class"].items()}
    short = [c for c, n in support.items() if 0 < n < MIN_CLASS]
    absent = [c for c, n in support.items() if n == 0]
    for c, values in m["per_class"].items():
        if support[c] < MIN_CLASS:
            values["recall"] = values["precision"] = values["f1"] = None
    present = [c for c, n in support.items() if n]
    if m["n"] < MIN_CLASS:
        m["accuracy"] = None
    if short or len(present) < 2:
        m["macro_recall"] = m["macro_f1"] = None
        if task == "spam":
            m["spam_f1"] = None
    m["short"], m["absent"] = short, absent
    return m


@dataclass
class TaskOutcome:
    """What retraining one task produced (nothing is saved here)."""

    task: str
    model: TrainedModel
    kept_start: bool
    start_version: str
    previous_version: str
    labelled_rows: np.ndarray  # store rows the model learnt from
    labels: np.ndarray  # their labels
    new: dict[str, Any] | None  # figures of the new model (cross-validated), or None
    method: str
    previous: dict[str, Any] | None  # the version in use before, on labels added since
    n_added: int  # labels added since the previous version was trained
    start: dict[str, Any]  # the starting model on all labels
    probabilities: np.ndarray  # the new model's, every row: spam (n,), sentiment (n, 3)
    changed_unlabelled: int
    unfitted_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unfitted_reasons: dict[str, int] = field(default_factory=dict)
    choice: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    oof_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Store rows with an out-of-sample prediction (every labelled row, or with many labels
    the held-out share), and ``oof_prob`` their class probabilities ``(n, k)``."""
    oof_prob: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    @property
    def codes(self) -> np.ndarray:
        return predicted(self.task, self.probabilities)


def predicted(task: str, prob: np.ndarray) -> np.ndarray:
    """Label codes of probabilities; -1 where there is none (NaN: "no sentiment")."""
    prob = np.asarray(prob)
    if task == "spam":
        codes = (prob >= 0.5).astype(np.int8)
        codes[np.isnan(prob)] = -1
        return codes
    codes = np.argmax(np.nan_to_num(prob, nan=-1.0), axis=1).astype(np.int8)
    codes[np.isnan(prob).any(axis=1)] = -1
    return codes


def starting_point(
    source: str | Path | None, task: str
) -> tuple[TrainedModel, str, TrainedModel | None, str, list[str]]:
    """``(start, start_version, previous, previous_version, notes)``: the model a retrain
    adapts (the lineage's root: shipped, or an imported/copied model) and the version in
    use now (None when it is the start itself)."""
    notes: list[str] = []
    chosen = store.active_from(source)[task]
    current: TrainedModel | None = None
    try:
        current = store.load_from(source, task, chosen)
    except ModelError as exc:
        notes.append(f"The {task} model in use ({chosen}) could not be loaded ({exc.reason}).")
        chosen = SHIPPED
    origin = (current.card.get("origin") if current is not None else None) or {}
    start_version = (
        str(origin.get("start", chosen)) if origin.get("kind") == "retrained" else chosen
    )
    if start_version == chosen and current is not None:
        return current, chosen, None, chosen, notes
    try:
        start = store.load_from(source, task, start_version)
    except ModelError as exc:
        notes.append(
            f"The {task} model it was adapted from ({start_version}) could not be loaded "
            f"({exc.reason}); the shipped model is the starting point."
        )
        start, start_version = store.load_from(None, task), SHIPPED
    return start, start_version, current, chosen, notes


def _conflicts(features: HashedTexts, labels: np.ndarray) -> np.ndarray:
    """Per labelled row, whether another labelled row with the same text has another label."""
    frame = pd.DataFrame({"text": features.index, "y": labels})
    return frame.groupby("text")["y"].transform("nunique").to_numpy() > 1


def _scores(model: TrainedModel, hashed: HashedTexts, hooks: Hooks) -> np.ndarray:
    """Class probabilities of every row of ``hashed`` by ``model``."""
    pipe = model.pipeline
    scores = count_scores(hashed.counts, pipe["tfidf"], pipe["clf"], hooks=hooks)
    return class_probabilities(scores).astype(np.float32)[hashed.index]


def retrain_task(
    task: str,
    hashed: HashedTexts,
    labels: np.ndarray,
    *,
    source: str | Path | None,
    before: np.ndarray | None = None,
    start: tuple[TrainedModel, str, TrainedModel | None, str, list[str]] | None = None,
    trained_on: tuple[np.ndarray, np.ndarray] | None = None,
    unwritten: np.ndarray | None = None,
    hooks: Hooks | None = None,
) -> TaskOutcome:
    """Adapt ``task``'s starting model to ``labels`` (per row of ``hashed``, -1 none).

    ``trained_on``: the (rows, labels) the version in use was trained on, to measure it on
    the labels added since; ``before``: the label codes shown before, to count how many
    unlabelled messages change; ``unwritten``: rows with nothing written by the sender,
    which get no sentiment (see :func:`~.predict.unwritten`).
    """
    hooks = hooks or Hooks()
    began = time.perf_counter()
    start_model, start_version, previous, previous_version, notes = start or starting_point(
        source, task
    )
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.flatnonzero(labels >= 0)
    y = labels[rows]
    features = hashed.subset(rows)
    result = adapt.adapt(task, start_model, features, y, hooks=hooks.scaled(0.0, 0.8))
    if result.note:
        notes.append(result.note)
    k_out = 1 if len(CLASSES[task]) == 2 else len(CLASSES[task])
    new: dict[str, Any] | None = None
    oof_rows = np.zeros(0, dtype=np.int64)
    oof_prob = np.zeros((0, len(CLASSES[task])), dtype=np.float32)
    if result.oof_scores is not None and result.assessed.any():
        oof = result.oof_scores[result.assessed].reshape(-1, k_out)
        new = figures(task, y[result.assessed], adapt.codes_of(oof))
        oof_rows = rows[result.assessed]
        oof_prob = class_probabilities(oof).astype(np.float32)
    start_codes = adapt.codes_of(result.start_scores.reshape(-1, k_out))
    start_figures = figures(task, y, start_codes)
    hooks.progress(850, 1000, "predicting")
    prob = _scores(result.model, hashed, hooks.scaled(0.85, 0.95))
    probabilities = np.ascontiguousarray(prob[:, 1]) if task == "spam" else prob
    if task == "sentiment" and unwritten is not None:
        probabilities[unwritten] = np.nan  # as predict_many does: not guessed
    codes = predicted(task, probabilities)
    # Measured on the labels added since the version in use was trained.
    previous_figures, n_added = None, 0
    if previous is not None and trained_on is not None:
        old_rows, old_labels = trained_on
        known = pd.Series(old_labels, index=old_rows)
        had = known.reindex(rows).to_numpy()
        added = ~(had == y)
        n_added = int(added.sum())
        if n_added:
            old_prob = _scores(previous, hashed.subset(rows[added]), hooks.scaled(0.95, 0.98))
            previous_figures = figures(task, y[added], np.argmax(old_prob, axis=1))
    wrong = (codes[rows] != y) & (codes[rows] >= 0)
    conflict = _conflicts(features, y)
    reasons = np.where(conflict, UNFITTED_CONFLICT, UNFITTED_OUTWEIGHED)[wrong]
    unfitted_reasons = {
        str(r): int(n) for r, n in zip(*np.unique(reasons, return_counts=True), strict=True)
    }
    if wrong.any():
        detail = "; ".join(f"{n} because {r}" for r, n in sorted(unfitted_reasons.items()))
        notes.append(
            f"The new model still calls {int(wrong.sum())} of your {len(rows)} labelled "
            f"messages otherwise ({detail}); your labels are kept for them."
        )
    changed = 0
    if before is not None and len(before) == len(codes):
        unlabelled = labels < 0
        changed = int(np.count_nonzero((np.asarray(before) != codes) & unlabelled & (before >= 0)))
    model = result.model
    if not result.kept_start:
        model.card = _card(task, model, start_model, start_version, result, len(rows), new)
    return TaskOutcome(
        task=task,
        model=model,
        kept_start=result.kept_start,
        start_version=start_version,
        previous_version=previous_version,
        labelled_rows=rows,
        labels=y.astype(np.int8),
        new=new,
        method=result.method,
        previous=previous_figures,
        n_added=n_added,
        start=start_figures,
        probabilities=probabilities,
        changed_unlabelled=changed,
        unfitted_rows=rows[wrong],
        unfitted_reasons=unfitted_reasons,
        choice=adapt.summary(result),
        notes=notes,
        seconds=round(time.perf_counter() - began, 2),
        oof_rows=oof_rows,
        oof_prob=oof_prob,
    )


def _card(
    task: str,
    model: TrainedModel,
    start: TrainedModel,
    start_version: str,
    result: adapt.Adaptation,
    n_labels: int,
    new: dict[str, Any] | None,
) -> dict[str, Any]:
    base = start.card
    return {
        "card": base.get("card"),
        "name": f"triage-{task}",
        "task": task,
        "classes": list(CLASSES[task]),
        "description": f"Adapted from {start_version} to {n_labels} of the project's labels",
        "environment": base.get("environment", {}),
        "features": base.get("features", {}),
        "hyperparameters": {
            **adapt.summary(result),
            "intercept_offsets": [float(v) for v in np.ravel(result.offsets)],
        },
        "training": {"labels": n_labels, "start": start_version},
        "metrics": {
            "accuracy": None if new is None else new["accuracy"],
            "macro_recall": None if new is None else new["macro_recall"],
            "split": result.method,
            "n": 0 if new is None else new["n"],
        },
        "evaluation": {"project_labels": new},
    }


def hash_collection(
    messages: pd.DataFrame, models: Sequence[TrainedModel], hooks: Hooks
) -> dict[str, HashedTexts]:
    """Each distinct text hashed once per distinct hasher among ``models``; by task."""
    out: dict[str, HashedTexts] = {}
    done: list[HashedTexts] = []
    for i, model in enumerate(models):
        hasher = model.pipeline["hash"]
        found = next((h for h in done if h.hasher == hasher_key(hasher)), None)
        if found is None:
            found = hash_texts(
                hasher,
                messages,
                hooks.scaled(i / len(models), (i + 1) / len(models)),
                n_jobs=HASH_JOBS,
            )
            done.append(found)
        out[model.task] = found
    return out


def retrain_project(
    messages: pd.DataFrame,
    labels: dict[str, np.ndarray],
    *,
    source: str | Path | None,
    before: dict[str, np.ndarray] | None = None,
    trained_on: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    hooks: Hooks | None = None,
) -> dict[str, TaskOutcome]:
    """Retrain every task in ``labels`` (per row of ``messages``; -1: none) of the project
    at ``source`` (None: from the shipped models), hashing each distinct text once."""
    hooks = hooks or Hooks()
    starts = {t: starting_point(source, t) for t in TASKS if t in labels}
    # A task without labels is left alone, unless its model in use cannot be loaded: then
    # the retrain (the remedy offered for that) puts its starting model back in use.
    tasks = [t for t in starts if (np.asarray(labels[t]) >= 0).any() or starts[t][4]]
    starts = {t: starts[t] for t in tasks}
    if trained_on is None and source is not None:
        with store.read_only(source) as conn:
            trained_on = {
                t: found
                for t in tasks
                if starts[t][2] is not None
                and (found := store.trained_on(conn, t, starts[t][3])) is not None
            }
    hashed = hash_collection(messages, [starts[t][0] for t in tasks], hooks.scaled(0.0, 0.3))
    blank = unwritten(model_texts(messages)) if "sentiment" in tasks else None
    out: dict[str, TaskOutcome] = {}
    for i, task in enumerate(tasks):
        sub = hooks.scaled(0.3 + 0.7 * i / len(tasks), 0.3 + 0.7 * (i + 1) / len(tasks))
        out[task] = retrain_task(
            task,
            hashed[task],
            labels[task],
            source=source,
            before=(before or {}).get(task),
            start=starts[task],
            trained_on=(trained_on or {}).get(task),
            unwritten=blank,
            hooks=sub,
        )
    hooks.progress(1000, 1000, "retrained")
    return out


__all__ = [
    "MIN_CLASS",
    "TaskOutcome",
    "figures",
    "retrain_project",
    "retrain_task",
    "starting_point",
]
