"""Whole user-level operations over the core, shared by the window and the command line.

Each function is a plain, Qt-free function with ``on_progress`` / ``stop_requested`` hooks
that a worker thread can run: it reads what it is given (a snapshot), builds new objects and
returns them; it never changes an open project. Applying a result to the open project is a
separate, quick ``apply_*`` function that runs where the project lives (the GUI thread).

- :func:`import_files` -- load files -> collection -> predictions -> themes -> a new project;
- :func:`open_project` -- an existing project with its themes restored;
- :func:`predict` / :func:`apply_predictions`;
- :func:`cluster` / :func:`apply_clustering`;
- :func:`retrain` / :func:`apply_retrain`;
- :func:`snapshot` -- a copy of a collection's arrays that later edits cannot reach.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from guiapp.core.collection import Collection
from guiapp.core.errors import ModelError, Problem
from guiapp.core.messages import CLASSES, NO_LABEL, TASKS
from guiapp.core.paths import user_data_dir
from guiapp.core.progress import Hooks
from guiapp.core.project import SUFFIX, Project

CLUSTERING_KEY = "clustering"


# ----------------------------------------------------------------------------- places
def projects_dir() -> Path:
    """Where projects for opened files are kept: ``<user data>/projects``."""
    path = user_data_dir() / "projects"
    path.mkdir(parents=True, exist_ok=True)
    return path


def project_name_for(paths: Sequence[str | Path]) -> str:
    """A readable project name from the inputs: the file (or folder) name, "+ N more"."""
    paths = [Path(p) for p in paths]
    if not paths:
        return "Untitled"
    first = paths[0]
    name = first.name if first.is_dir() else first.name.split(".")[0] or first.name
    if len(paths) > 1:
        name += f" + {len(paths) - 1} more"
    return name


def project_path_for(paths: Sequence[str | Path], folder: Path | None = None) -> Path:
    """A new, unused project path in :func:`projects_dir` named after the inputs."""
    folder = folder or projects_dir()
    stem = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", project_name_for(paths)).strip(" .") or "project"
    candidate = folder / f"{stem}{SUFFIX}"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem} ({number}){SUFFIX}"
        number += 1
    return candidate


# ----------------------------------------------------------------------------- results
@dataclass
class Predictions:
    """Model outputs for a set of rows, with the model version that made each."""

    rows: np.ndarray | None  # store rows (None: all rows of the snapshot, in order)
    n_rows: int
    prob: dict[str, np.ndarray] = field(default_factory=dict)  # spam: (n,), sentiment: (n, 3)
    versions: dict[str, str] = field(default_factory=dict)
    cards: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: dict[str, ModelError] = field(default_factory=dict)
    """Per task whose model could not be loaded, why (its ``remedy`` says what would help:
    ``"retrain"`` for a model made by another scikit-learn, ...); also in ``notes``."""


@dataclass
class Opened:
    """A project ready to show, and what happened while opening it."""

    project: Project
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    created: bool = False
    model_errors: dict[str, ModelError] = field(default_factory=dict)
    """Models that could not be used while importing (see ``Predictions.errors``)."""


def snapshot(collection: Collection) -> Collection:
    """A collection sharing the (immutable) text columns but owning copies of every array,
    so a worker can read it while the user keeps labelling the original."""
    return dataclasses.replace(
        collection,
        user={t: a.copy() for t, a in collection.user.items()},
        corrected={t: a.copy() for t, a in collection.corrected.items()},
        confirmed={t: a.copy() for t, a in collection.confirmed.items()},
        spam_prob=collection.spam_prob.copy(),
        sentiment_prob=collection.sentiment_prob.copy(),
        cluster=collection.cluster.copy(),
        model_versions=dict(collection.model_versions),
    )


# ----------------------------------------------------------------------------- predictions
def predict(
    collection: Collection,
    tasks: Sequence[str] = TASKS,
    *,
    rows: np.ndarray | None = None,
    versions: dict[str, str] | None = None,
    on_progress=None,
    stop_requested=None,
) -> Predictions:
    """Run the active (or the given version of the) models over ``rows`` of a collection.

    Both tasks share one pass over the texts. A task whose model cannot be loaded (a
    refused or missing model file) is skipped with a note; the other one still runs.
    """
    from guiapp.core import models  # heavy import (scikit-learn): only when predicting

    hooks = Hooks(on_progress, stop_requested)
    frame = collection.messages if rows is None else collection.messages.iloc[rows]
    frame = frame.reset_index(drop=True)
    out = Predictions(rows=rows, n_rows=len(frame))
    loaded = []
    for task in tasks:
        try:
            loaded.append(models.load_current(task, version=(versions or {}).get(task)))
        except ModelError as exc:
            out.notes.append(f"No {task} predictions: {exc}")
            out.errors[task] = exc
    if not loaded:
        return out
    probs = models.predict_many(frame, loaded, hooks=hooks)
    for model, prob in zip(loaded, probs, strict=True):
        prob = np.asarray(prob, dtype=np.float32)
        out.prob[model.task] = np.ascontiguousarray(prob[:, 1]) if model.task == "spam" else prob
        out.versions[model.task] = model.version
        out.cards[model.task] = dict(model.card)
    hooks.progress(len(frame), len(frame), "predicted")
    return out


def apply_predictions(project: Project, predictions: Predictions, *, save: bool = True) -> None:
    """Write predictions into the open project (memory, and disk unless ``save=False``:
    they were saved with :func:`save_predictions` first)."""
    collection = project.collection
    for task, prob in predictions.prob.items():
        rows = predictions.rows
        if rows is None and len(prob) != len(collection):
            rows = np.arange(len(prob), dtype=np.int64)
        collection.set_predictions(task, prob, predictions.versions[task], rows=rows)
    if save:
        project.save_arrays()


_PROB_ARRAY = {"spam": "spam_prob", "sentiment": "sentiment_prob"}


def save_predictions(project: Project, predictions: Predictions) -> None:
    """Write predictions of every row to the project file, leaving the open collection as
    it is. Safe on a worker thread: a window saves a result with this, then shows it with
    ``apply_predictions(..., save=False)`` on the GUI thread, so that what the user sees
    is on disk. Raises ValueError for predictions of some rows only."""
    n = len(project.collection)
    if predictions.rows is not None or any(len(p) != n for p in predictions.prob.values()):
        raise ValueError("only predictions of every row are saved ahead of applying them")
    if predictions.prob:
        project.save_results(
            {_PROB_ARRAY[t]: p for t, p in predictions.prob.items()},
            {t: predictions.versions[t] for t in predictions.prob},
        )


# ----------------------------------------------------------------------------- themes
def cluster(
    collection: Collection,
    *,
    k: int | str = "auto",
    seed: int = 0,
    on_progress=None,
    stop_requested=None,
):
    """k-means themes over the messages without a user label (every row gets a theme)."""
    from guiapp.core.clustering import cluster_messages

    mask = ~collection.labelled_by_user()
    return cluster_messages(
        collection.messages,
        k=k,
        mask=mask,
        seed=seed,
        on_progress=on_progress,
        stop_requested=stop_requested,
    )


def clustering_column(collection: Collection, clustering) -> np.ndarray:
    """The ``cluster`` column a clustering gives ``collection``: its labels, and for rows
    added after it ran, their nearest theme (int32, a new array)."""
    labels = np.asarray(clustering.labels, dtype=np.int32)
    n = min(len(labels), len(collection))
    column = collection.cluster.copy()
    column[:n] = labels[:n]
    if n < len(collection) and clustering.model is not None:
        column[n:] = clustering.assign(collection.messages.iloc[n:])
    return column


def apply_clustering(
    project: Project, clustering, *, save: bool = True, column: np.ndarray | None = None
) -> None:
    """Put a clustering into the open project (the ``cluster`` column and its state).

    ``column``: the :func:`clustering_column` computed beforehand (on a worker thread);
    ``save=False``: it was saved with :func:`save_clustering` first.
    """
    collection = project.collection
    if column is None or len(column) != len(collection):
        column = clustering_column(collection, clustering)
    collection.cluster[:] = column
    collection.clustering = clustering
    if save:
        project.save_json(CLUSTERING_KEY, clustering.to_json())
        project.save_named_arrays(CLUSTERING_KEY, clustering.state_arrays())
        project.save_arrays()


def save_clustering(project: Project, clustering, column: np.ndarray) -> None:
    """Write a clustering and its ``cluster`` column (:func:`clustering_column`) to the
    project file, leaving the open collection as it is (see :func:`save_predictions`)."""
    project.save_json(CLUSTERING_KEY, clustering.to_json())
    project.save_named_arrays(CLUSTERING_KEY, clustering.state_arrays())
    project.save_results({"cluster": np.asarray(column, dtype=np.int32)})


def restore_clustering(project: Project):
    """The clustering saved in a project, or None."""
    from guiapp.core.clustering import Clustering

    text = project.load_json(CLUSTERING_KEY)
    if not text:
        return None
    arrays = project.load_named_arrays(CLUSTERING_KEY)
    try:
        return Clustering.from_state(text, arrays)
    except (ValueError, KeyError):
        return None


# ----------------------------------------------------------------------------- open
def import_files(
    paths: Sequence[str | Path],
    *,
    text_column: str | None = None,
    label_columns: dict[str, str | None] | None = None,
    project_path: str | Path | None = None,
    k: int | str = "auto",
    on_progress=None,
    stop_requested=None,
) -> Opened:
    """Load files into a new project: read, predict both tasks, find themes, save.

    Raises :class:`~guiapp.core.errors.InputError` (including ``AmbiguousTextColumn``) when
    the input cannot be read at all; parts that were skipped come back as ``problems``.
    """
    from guiapp.core.io import load_collection

    hooks = Hooks(on_progress, stop_requested)
    result = load_collection(
        [str(p) for p in paths],
        text_column=text_column,
        label_columns=label_columns,
        on_progress=hooks.scaled(0.0, 0.35).on_progress,
        stop_requested=stop_requested,
    )
    collection = Collection.from_load(result)
    notes: list[str] = []
    model_errors: dict[str, ModelError] = {}
    if len(collection):
        predictions = predict(collection, **_hooks(hooks.scaled(0.35, 0.7)))
        for task, prob in predictions.prob.items():
            collection.set_predictions(task, prob, predictions.versions[task])
        notes += predictions.notes
        model_errors.update(predictions.errors)
        clustering = cluster(collection, k=k, **_hooks(hooks.scaled(0.7, 0.92)))
        collection.cluster[:] = clustering.labels
        collection.clustering = clustering
    else:
        clustering = None
    hooks.check()
    path = Path(project_path) if project_path else project_path_for(paths)
    project = Project.create(
        path,
        collection,
        name=project_name_for(paths),
        **_hooks(hooks.scaled(0.92, 1.0)),
    )
    try:
        project.save_json("sources", [str(Path(p).resolve()) for p in paths])
        if clustering is not None:
            project.save_json(CLUSTERING_KEY, clustering.to_json())
            project.save_named_arrays(CLUSTERING_KEY, clustering.state_arrays())
        for task, version in collection.model_versions.items():
            _record_model(project, task, version)
    except Exception:
        project.close()
        raise
    return Opened(
        project,
        list(result.problems),
        list(result.files),
        notes,
        created=True,
        model_errors=model_errors,
    )


@dataclass
class Imported:
    """What :func:`import_to_file` made: a closed project file and the import's report."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    model_errors: dict[str, ModelError] = field(default_factory=dict)


def import_to_file(
    paths: Sequence[str | Path],
    *,
    text_column: str | None = None,
    label_columns: dict[str, str | None] | None = None,
    project_path: str | Path | None = None,
    k: int | str = "auto",
    on_progress=None,
    stop_requested=None,
) -> Imported:
    """:func:`import_files`, leaving the project closed on disk (for a child process: the
    caller opens the file with :func:`open_project`)."""
    opened = import_files(
        paths,
        text_column=text_column,
        label_columns=label_columns,
        project_path=project_path,
        k=k,
        on_progress=on_progress,
        stop_requested=stop_requested,
    )
    opened.project.close()
    return Imported(
        opened.project.path, opened.problems, opened.files, opened.notes, opened.model_errors
    )


def open_project(path: str | Path, *, on_progress=None, stop_requested=None) -> Opened:
    """Open a project file and restore its themes; ``model_errors`` says which models in
    use could not be loaded (another scikit-learn, a missing file), from their cards."""
    from guiapp.core import models

    project = Project.open(path, on_progress=on_progress, stop_requested=stop_requested)
    try:
        project.collection.clustering = restore_clustering(project)
    except Exception:
        project.close()
        raise
    return Opened(project, model_errors=models.unusable_models())


def recover_project(path: str | Path, *, on_progress=None, stop_requested=None) -> Opened:
    """Recover a damaged project from its automatic backup into a new file beside it (the
    damaged one is left untouched) and open that, themes restored; see
    :func:`guiapp.core.project.recover`."""
    from guiapp.core.project import recover

    project = recover(path, on_progress=on_progress, stop_requested=stop_requested)
    try:
        project.collection.clustering = restore_clustering(project)
    except Exception:
        project.close()
        raise
    return Opened(project, notes=[f"Recovered from the backup of {Path(path).name}."])


def _hooks(h: Hooks) -> dict:
    return {"on_progress": h.on_progress, "stop_requested": h.stop_requested}


def _record_model(project: Project, task: str, version: str) -> None:
    from guiapp.core import models

    info = models.describe_version(task, version)
    if info is not None:
        project.record_model(task, version, info.get("sha256", ""), info.get("path", ""), info)


# ----------------------------------------------------------------------------- retraining
@dataclass
class TaskReport:
    """What retraining one task's model changed (the window's report tab for that task)."""

    task: str
    version: str
    previous: str
    n_user_labels: int
    n_corrected: int
    cv: dict
    """``{"before": {"accuracy", "macro_recall"}, "after": {...}, "method": str, "note": str}``
    -- cross-validated on the user's labelled messages."""
    classes: list[str]
    per_class: dict[str, dict]  # class -> precision, recall, support (after)
    confusion: list[list[int]]  # rows: true class, columns: predicted (after)
    flipped: int  # rows of the collection whose predicted label changed
    card: dict = field(default_factory=dict)
    unfitted_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Store rows whose user label the new model still contradicts (see ``notes``)."""
    unfitted_reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class RetrainOutcome:
    """The result of :func:`retrain`, applied by :func:`apply_retrain`."""

    revision: int  # the collection revision (label edits) the training data was read at
    reports: dict[str, TaskReport]
    predictions: Predictions
    flipped: np.ndarray  # store rows whose predicted label changed (any task), ascending


def retrain(
    collection: Collection,
    tasks: Sequence[str] = TASKS,
    *,
    revision: int | None = None,
    before: dict[str, np.ndarray] | None = None,
    on_progress=None,
    stop_requested=None,
) -> RetrainOutcome:
    """Train new versions of the models on the shipped data plus the user's labels.

    ``collection`` is a :func:`snapshot`: the user may keep labelling the original; the
    outcome says which ``revision`` of the labels it learnt from. Every new model is saved as
    a version in the user's data directory (never in the shipped ``models/``); predictions
    for every row come back in the outcome, nothing is applied here.

    ``before``: per task, the predicted label codes the flipped rows are counted against
    (``Collection.predicted``; the window passes the codes it keeps, so the snapshot it
    sends need not carry the probabilities).
    """
    from guiapp.core import models

    hooks = Hooks(on_progress, stop_requested)
    tasks = [t for t in TASKS if t in tasks]
    # Each distinct text is hashed once, for every task's training and for the predictions.
    results, prob_by_task = models.retrain_many(
        collection.messages,
        {t: collection.user[t] for t in tasks},
        corrected={t: collection.corrected[t] for t in tasks},
        hooks=hooks,
    )
    probs = [prob_by_task[t] for t in tasks]
    predictions = Predictions(rows=None, n_rows=len(collection))
    reports: dict[str, TaskReport] = {}
    flipped = np.zeros(len(collection), dtype=bool)
    for task, prob in zip(tasks, probs, strict=True):
        prob = np.asarray(prob, dtype=np.float32)
        prob = np.ascontiguousarray(prob[:, 1]) if task == "spam" else prob
        was = (before or {}).get(task)
        if was is None or len(was) != len(collection):
            was = collection.predicted(task)
        changed = (was != _codes(task, prob)) & (was >= 0)
        flipped |= changed
        model = results[task].model
        predictions.prob[task] = prob
        predictions.versions[task] = model.version
        predictions.cards[task] = {**model.card, "path": str(model.path or "")}
        reports[task] = _task_report(task, results[task], collection, int(changed.sum()))
    hooks.progress(1000, 1000, "retrained")
    return RetrainOutcome(
        revision=collection.revision if revision is None else revision,
        reports=reports,
        predictions=predictions,
        flipped=np.flatnonzero(flipped),
    )


def _codes(task: str, prob: np.ndarray) -> np.ndarray:
    if task == "spam":
        codes = (prob >= 0.5).astype(np.int8)
        codes[np.isnan(prob)] = NO_LABEL
        return codes
    codes = np.argmax(np.nan_to_num(prob, nan=-1.0), axis=1).astype(np.int8)
    codes[np.isnan(prob).any(axis=1)] = NO_LABEL
    return codes


def _task_report(task: str, result, collection: Collection, flipped: int) -> TaskReport:
    report = result.report
    return TaskReport(
        task=task,
        version=result.model.version,
        previous=collection.model_versions.get(task, ""),
        n_user_labels=int((collection.user[task] >= 0).sum()),
        n_corrected=int(collection.corrected[task].sum()),
        cv=dict(report.cv),
        classes=list(CLASSES[task]),
        per_class={k: dict(v) for k, v in report.per_class.items()},
        confusion=[list(map(int, row)) for row in report.confusion],
        flipped=flipped,
        card=dict(result.model.card),
        unfitted_rows=np.flatnonzero(collection.user[task] >= 0)[report.unfitted_rows],
        unfitted_reasons=dict(report.unfitted_reasons),
        notes=list(report.notes),
    )


def apply_retrain(project: Project, outcome: RetrainOutcome, *, save: bool = True) -> None:
    """Make the retrained models current in the open project (predictions + record);
    ``save=False``: they were saved with :func:`save_retrain` first."""
    apply_predictions(project, outcome.predictions, save=save)
    if save:
        _record_retrained(project, outcome)


def save_retrain(project: Project, outcome: RetrainOutcome) -> None:
    """Write a retrain's predictions and model records to the project file, leaving the
    open collection as it is (see :func:`save_predictions`)."""
    save_predictions(project, outcome.predictions)
    _record_retrained(project, outcome)


def _record_retrained(project: Project, outcome: RetrainOutcome) -> None:
    for task, version in outcome.predictions.versions.items():
        card = outcome.predictions.cards.get(task, {})
        project.record_model(task, version, card.get("sha256", ""), card.get("path", ""), card)


@dataclass
class VersionInfo:
    """One model version as the versions dialog lists it."""

    task: str
    version: str
    title: str
    created: str
    shipped: bool
    n_user_labels: int
    accuracy: float | None
    macro_recall: float | None
    measured_on: str
    description: str


def list_versions(task: str) -> list[VersionInfo]:
    """The shipped model and every retrained version of ``task``, newest first."""
    from guiapp.core import models

    return [_version_info(task, v) for v in models.list_versions(task)]


def _version_info(task: str, v) -> VersionInfo:
    card = dict(getattr(v, "card", {}) or {})
    metrics = card.get("metrics", {}) or {}
    created = str(card.get("created", ""))[:16].replace("T", " ")
    return VersionInfo(
        task=task,
        version=v.version,
        title=("Shipped model" if v.shipped else f"Retrained {created}"),
        created=created,
        shipped=bool(v.shipped),
        n_user_labels=int(card.get("n_user_labels", 0) or 0),
        accuracy=metrics.get("accuracy"),
        macro_recall=metrics.get("macro_recall"),
        measured_on=str(metrics.get("split", "")),
        description=f"{v.version}: {card.get('description', '')}",
    )


def use_version(
    collection: Collection,
    task: str,
    version: str,
    *,
    on_progress=None,
    stop_requested=None,
) -> Predictions:
    """Predictions of ``task`` for every row by an earlier (or the shipped) version."""
    return predict(
        collection,
        (task,),
        versions={task: version},
        on_progress=on_progress,
        stop_requested=stop_requested,
    )


def record_version(project: Project, task: str, version: str) -> None:
    """Make ``version`` the active model of ``task`` (registry) and note it in the project."""
    from guiapp.core import models

    info = models.describe_version(task, version)
    models.activate(task, models.SHIPPED if info and info.get("shipped") else version)
    _record_model(project, task, version)


# ----------------------------------------------------------------------------- labels
def label_counts(
    collection: Collection,
    rows: np.ndarray | None = None,
    *,
    predicted: dict[str, np.ndarray] | None = None,
) -> dict[str, list[int]]:
    """Per task, how many of ``rows`` (all when None) carry each label (user or model).

    ``predicted``: the model's codes per task (``Collection.predicted``) when the caller
    keeps them, which saves recomputing them from the probabilities.
    """
    out = {}
    for task in TASKS:
        codes = (predicted or {}).get(task)
        if codes is not None and len(codes) == len(collection):
            user = collection.user[task]
            labels = np.where(user >= 0, user, codes)
        else:
            labels = collection.label(task)
        if rows is not None:
            labels = labels[rows]
        # One int8 comparison per class: a bincount needed a 64-bit copy first (a million
        # rows: ~10 ms on the GUI thread, which shows the counts, against ~2).
        out[task] = [int(np.count_nonzero(labels == code)) for code in range(len(CLASSES[task]))]
    return out


__all__ = [
    "CLUSTERING_KEY",
    "NO_LABEL",
    "Imported",
    "Opened",
    "Predictions",
    "RetrainOutcome",
    "TaskReport",
    "VersionInfo",
    "apply_clustering",
    "apply_retrain",
    "apply_predictions",
    "cluster",
    "clustering_column",
    "import_files",
    "import_to_file",
    "label_counts",
    "open_project",
    "predict",
    "project_name_for",
    "project_path_for",
    "projects_dir",
    "recover_project",
    "restore_clustering",
    "retrain",
    "save_clustering",
    "save_predictions",
    "save_retrain",
    "list_versions",
    "use_version",
    "record_version",
    "snapshot",
]
