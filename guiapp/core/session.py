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
    """Run the project's active (or the given version of its) models over ``rows`` of a
    collection (a collection without a project: the shipped models).

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
            loaded.append(models.load_from(collection.source, task, (versions or {}).get(task)))
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


def open_project(
    path: str | Path, *, read_only: bool = False, on_progress=None, stop_requested=None
) -> Opened:
    """Open a project file and restore its themes; ``model_errors`` says which models in
    use could not be loaded (a damaged or missing model).

    Raises :class:`~guiapp.core.project_lock.ProjectLocked` when another process has it
    open for writing; ``read_only``: a view that takes no lock and writes nothing.
    """
    project = Project.open(
        path, read_only=read_only, on_progress=on_progress, stop_requested=stop_requested
    )
    try:
        project.collection.clustering = restore_clustering(project)
        errors = unusable_models(project)
    except Exception:
        project.close()
        raise
    return Opened(project, model_errors=errors)


def unusable_models(project: Project) -> dict[str, ModelError]:
    """Per task whose model in use cannot be loaded, why (each is loaded and checked)."""
    out: dict[str, ModelError] = {}
    for task in TASKS:
        try:
            project.load_model(task)
        except ModelError as exc:
            out[task] = exc
    return out


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


# ----------------------------------------------------------------------------- retraining
@dataclass
class TaskReport:
    """What retraining one task's model changed (the report's tab for that task).

    Every figure is measured on labels the measured model was not fitted on; a figure is
    None where there are too few labels to measure it (see
    :func:`guiapp.core.models.figures`): ``new`` -- the new model, by ``method``
    (cross-validation over the project's labels); ``previous`` -- the version in use
    before, on the ``n_added`` labels added since it was trained; ``start`` -- the model
    the retrain started from (shipped or imported) on all ``n_user_labels`` labels.
    """

    task: str
    version: str  # the new version's id once saved ("" before; the previous one if kept)
    previous: str
    start_version: str
    kept: bool  # the starting model cross-validated best: no new version
    n_user_labels: int
    n_corrected: int
    method: str
    new: dict | None
    previous_figures: dict | None
    n_added: int
    start: dict
    classes: list[str]
    changed_unlabelled: int  # unlabelled messages whose predicted label changed
    flipped: int  # rows of the collection whose predicted label changed
    card: dict = field(default_factory=dict)
    choice: dict = field(default_factory=dict)
    unfitted_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Store rows whose user label the new model still contradicts (see ``notes``)."""
    unfitted_reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    edit: int = 0  # the project's edit number the labels were read at
    oof_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Store rows with an out-of-sample prediction, and ``oof_prob`` its class
    probabilities (what the review queue's "likely mislabelled" order questions)."""
    oof_prob: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))


@dataclass
class RetrainOutcome:
    """The result of :func:`retrain`, saved by :func:`save_retrain`, shown by
    :func:`apply_retrain`."""

    revision: int  # the collection revision (label edits) the training data was read at
    reports: dict[str, TaskReport]
    predictions: Predictions
    flipped: np.ndarray  # store rows whose predicted label changed (any task), ascending
    models: dict = field(default_factory=dict, repr=False)
    """Per task with a new version, ``(TrainedModel, origin, (rows, labels))`` to store."""


def retrain(
    collection: Collection,
    tasks: Sequence[str] = TASKS,
    *,
    revision: int | None = None,
    before: dict[str, np.ndarray] | None = None,
    edit: int = 0,
    on_progress=None,
    stop_requested=None,
) -> RetrainOutcome:
    """Adapt the project's models to its labels (see :mod:`guiapp.core.models.adapt`).

    ``collection`` is a :func:`snapshot` (the user may keep labelling the original); the
    outcome says which ``revision`` of the labels it learnt from. Nothing is saved here:
    :func:`save_retrain` stores the new versions in the project. A task without labels is
    not retrained -- unless its model in use cannot be loaded: then its starting model is
    put back in use.

    ``before``: per task, the predicted label codes the changes are counted against
    (``Collection.predicted``: the window passes the codes it keeps); ``edit``: the
    project's edit number the labels were read at (recorded in each version's origin).
    """
    from guiapp.core import models

    hooks = Hooks(on_progress, stop_requested)
    tasks = [t for t in TASKS if t in tasks]
    was = {
        t: (before or {}).get(t)
        if (before or {}).get(t) is not None and len(before[t]) == len(collection)
        else collection.predicted(t)
        for t in tasks
    }
    outcomes = models.retrain_project(  # leaves out tasks with nothing to do
        collection.messages,
        {t: collection.user[t] for t in tasks},
        source=collection.source,
        before=was,
        hooks=hooks,
    )
    predictions = Predictions(rows=None, n_rows=len(collection))
    reports: dict[str, TaskReport] = {}
    new_models: dict = {}
    flipped = np.zeros(len(collection), dtype=bool)
    for task, done in outcomes.items():
        changed = (was[task] != done.codes) & (was[task] >= 0)
        flipped |= changed
        version = done.start_version if done.kept_start else ""
        predictions.prob[task] = done.probabilities
        predictions.versions[task] = version
        predictions.cards[task] = dict(done.model.card)
        if not done.kept_start:
            origin = {
                "kind": "retrained",
                "labels": int(len(done.labelled_rows)),
                "edit": int(edit),
                "parent": done.previous_version,
                "start": done.start_version,
            }
            new_models[task] = (done.model, origin, (done.labelled_rows, done.labels))
        reports[task] = TaskReport(
            task=task,
            version=version,
            previous=done.previous_version,
            start_version=done.start_version,
            kept=done.kept_start,
            n_user_labels=int(len(done.labelled_rows)),
            n_corrected=int(collection.corrected[task].sum()),
            method=done.method,
            new=done.new,
            previous_figures=done.previous,
            n_added=done.n_added,
            start=done.start,
            classes=list(CLASSES[task]),
            changed_unlabelled=done.changed_unlabelled,
            flipped=int(changed.sum()),
            card=dict(done.model.card),
            choice=dict(done.choice),
            unfitted_rows=done.unfitted_rows,
            unfitted_reasons=dict(done.unfitted_reasons),
            notes=list(done.notes),
            edit=int(edit),
            oof_rows=done.oof_rows,
            oof_prob=done.oof_prob,
        )
    hooks.progress(1000, 1000, "retrained")
    return RetrainOutcome(
        revision=collection.revision if revision is None else revision,
        reports=reports,
        predictions=predictions,
        flipped=np.flatnonzero(flipped),
        models=new_models,
    )


def apply_retrain(project: Project, outcome: RetrainOutcome, *, save: bool = True) -> None:
    """Make the retrained models current in the open project (predictions + versions);
    ``save=False``: they were saved with :func:`save_retrain` first."""
    if save:
        save_retrain(project, outcome)
    apply_predictions(project, outcome.predictions, save=False)


def save_retrain(project: Project, outcome: RetrainOutcome) -> None:
    """Store the new versions in the project (made active) and the predictions they made,
    leaving the open collection as it is (see :func:`save_predictions`)."""
    for task, (model, origin, trained_on) in outcome.models.items():
        stored = project.add_model_version(model, origin, trained_on=trained_on)
        outcome.predictions.versions[task] = stored.version
        outcome.predictions.cards[task] = dict(stored.card)
        outcome.reports[task].version = stored.version
        outcome.reports[task].card = dict(stored.card)
    active = project.active_models()
    for task, report in outcome.reports.items():
        if report.kept and active.get(task) != report.version:
            project.set_active_model(task, report.version)  # e.g. back from a damaged one
    outcome.models = {}
    save_predictions(project, outcome.predictions)
    save_yardsticks(project, outcome)


@dataclass
class VersionInfo:
    """One model version as the versions dialog and ``triage versions`` list it."""

    task: str
    version: str
    title: str
    origin: str  # in words: "shipped", "retrained here on 120 labels at edit #14", ...
    created: str
    shipped: bool
    active: bool
    n_user_labels: int
    accuracy: float | None
    macro_recall: float | None
    measured_on: str
    description: str


def _origin_text(origin: dict) -> str:
    kind = origin.get("kind", "shipped")
    if kind == "retrained":
        start = origin.get("start", "shipped")
        return (
            f"retrained here on {int(origin.get('labels', 0)):,} labels at edit "
            f"#{int(origin.get('edit', 0))}" + ("" if start == "shipped" else f" (from {start})")
        )
    if kind == "imported":
        return f"imported from {Path(str(origin.get('file', ''))).name}"
    if kind == "copied":
        return f"copied from project {origin.get('project', '?')} ({origin.get('version', '?')})"
    return "shipped with Triage"


def list_versions(project: Project | str | Path | None, task: str) -> list[VersionInfo]:
    """The project's versions of ``task``, newest first, then the shipped model.

    The yardstick of every version is the project's labels it was not fitted on: a
    retrained version's cross-validated figure when it was made; the shipped (or an
    imported) model's figure on all of the project's labels at the last retrain.
    """
    from guiapp.core import models

    if isinstance(project, Project):
        stored = project.model_versions(task)
        yardsticks = project.load_json(YARDSTICK_KEY, {}) or {}
    else:
        stored = models.versions_from(project, task)
        yardsticks = {}
    out = []
    for v in stored:
        card = dict(v.card)
        origin = v.origin
        metrics = card.get("metrics", {}) or {}
        if origin.get("kind") == "retrained":
            accuracy, recall = metrics.get("accuracy"), metrics.get("macro_recall")
            n = int((card.get("training") or {}).get("labels", 0) or 0)
            measured = (
                f"cross-validated on {n:,} of this project's labels"
                if accuracy is not None or recall is not None
                else "not enough labels to measure"
            )
        else:
            figures = (yardsticks.get(task) or {}).get(v.version)
            if figures:
                accuracy, recall = figures.get("accuracy"), figures.get("macro_recall")
                measured = f"on {int(figures.get('n', 0)):,} of this project's labels"
            else:
                accuracy = recall = None
                measured = "not measured on this project's labels yet (retrain to measure)"
            n = 0
        created = str(card.get("created", ""))[:16].replace("T", " ")
        out.append(
            VersionInfo(
                task=task,
                version=v.version,
                title="Shipped model" if v.shipped else f"{v.version} ({created} UTC)",
                origin=_origin_text(origin),
                created=created,
                shipped=v.shipped,
                active=v.active,
                n_user_labels=n,
                accuracy=accuracy,
                macro_recall=recall,
                measured_on=measured,
                description=str(card.get("description", "")),
            )
        )
    return out


#: Per task and version (shipped or imported), its figures on the project's labels at the
#: last retrain (the one yardstick the versions list shows for models not trained here).
YARDSTICK_KEY = "yardsticks"


def save_yardsticks(project: Project, outcome: RetrainOutcome) -> None:
    saved = project.load_json(YARDSTICK_KEY, {}) or {}
    for task, report in outcome.reports.items():
        figures = report.start
        saved.setdefault(task, {})[report.start_version] = {
            "accuracy": figures.get("accuracy"),
            "macro_recall": figures.get("macro_recall"),
            "n": figures.get("n", 0),
        }
    project.save_json(YARDSTICK_KEY, saved)


def use_version(
    collection: Collection,
    task: str,
    version: str,
    *,
    on_progress=None,
    stop_requested=None,
) -> Predictions:
    """Predictions of ``task`` for every row by another of the project's versions."""
    return predict(
        collection,
        (task,),
        versions={task: version},
        on_progress=on_progress,
        stop_requested=stop_requested,
    )


def record_version(project: Project, task: str, version: str) -> None:
    """Make ``version`` the project's active model of ``task``."""
    project.set_active_model(task, version)


def import_model(
    project: Project,
    path: str | Path,
    *,
    activate: bool = False,
    on_progress=None,
    stop_requested=None,
):
    """Check a shared model file and store it as a version of the project (origin
    "imported"); the stored version."""
    from guiapp.core.models import sharing

    model = sharing.import_model(path, on_progress=on_progress, stop_requested=stop_requested)
    return project.add_model_version(
        model, {"kind": "imported", "file": str(Path(path).resolve())}, activate=activate
    )


def copy_version(
    project: Project,
    other: str | Path,
    task: str,
    version: str | None = None,
    *,
    activate: bool = True,
):
    """Copy version ``version`` (None: the active one) of ``task`` from the project file
    ``other`` into ``project`` (origin "copied"); the stored version."""
    from guiapp.core import models

    model = models.load_from(other, task, version)
    name = Path(other).stem
    return project.add_model_version(
        model,
        {"kind": "copied", "project": name, "version": model.version, "file": str(other)},
        activate=activate,
    )


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
    "copy_version",
    "import_model",
    "list_versions",
    "record_version",
    "save_yardsticks",
    "unusable_models",
    "use_version",
    "snapshot",
]
