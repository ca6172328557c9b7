"""Model files, their cards, safe loading, and the versions of each task's model.

A model file is a pickle, and unpickling runs code. So a model is only ever loaded through
its card (``<task>.card.json`` beside ``<task>.joblib``), written by this app, and only
after the file's SHA-256 matches the one in the card. A card made by another scikit-learn
version, or a pickle that raises scikit-learn's ``InconsistentVersionWarning``, is refused
with a :class:`~guiapp.core.errors.ModelError` that says to retrain -- never a traceback.

Versions: the shipped models live in ``models/`` (read-only; only
:func:`~guiapp.core.models.training.build_shipped_models` writes there). Every retrained
model is a folder ``<user models>/<task>/<version>/`` holding the model file and its card.
``<user models>/active.json`` says which version of each task is in use ("shipped" when
absent); :func:`activate` and :func:`rollback` change it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy
import sklearn
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import Pipeline

from guiapp.core import paths
from guiapp.core.errors import ModelError
from guiapp.core.messages import CLASSES, TASKS

APP_MARK = "triage-model-card/1"
SHIPPED = "shipped"
#: ``ModelError.remedy`` of a model that this app cannot use but a retrain replaces.
RETRAIN_REMEDY = "retrain"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def environment() -> dict[str, str]:
    """The library versions a model file depends on (recorded in every card)."""
    return {
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class TrainedModel:
    """A fitted pipeline (``hash -> tfidf -> clf``) and its card.

    ``card`` is a JSON-able dict: task, version, classes, environment, training data,
    hyper-parameters, metrics, ... (see ``models/README.md``). ``path`` is the model file
    once saved or loaded.
    """

    task: str
    pipeline: Pipeline
    card: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def version(self) -> str:
        return str(self.card.get("version", ""))

    @property
    def classes(self) -> tuple[str, ...]:
        return CLASSES[self.task]

    @property
    def shipped(self) -> bool:
        return bool(self.card.get("shipped", False))

    def save(self, folder: Path) -> Path:
        """Write ``<task>.joblib`` and ``<task>.card.json`` into ``folder`` (atomically)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{self.task}.joblib"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.task}.", suffix=".tmp")
        os.close(fd)
        try:
            joblib.dump(self.pipeline, tmp, compress=("zlib", 6))
            sha = file_sha256(Path(tmp))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        card = dict(self.card)
        card.update(
            {
                "card": APP_MARK,
                "task": self.task,
                "file": target.name,
                "sha256": sha,
                "size_bytes": target.stat().st_size,
                "environment": card.get("environment") or environment(),
            }
        )
        card_path = folder / f"{self.task}.card.json"
        tmp_card = card_path.with_suffix(".json.tmp")
        tmp_card.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        os.replace(tmp_card, card_path)
        self.card = card
        self.path = target
        return target


# ------------------------------------------------------------------------ loading


def read_card(card_path: Path) -> dict[str, Any]:
    card_path = Path(card_path)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            card_path, "the model card is missing, so the model file cannot be trusted."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(card_path, f"the model card cannot be read ({exc}).") from None
    if not isinstance(card, dict) or card.get("card") != APP_MARK:
        raise ModelError(card_path, "this is not a model card written by Triage.")
    return card


def card_path_for(model_path: Path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name.removesuffix(".joblib") + ".card.json")


def check_environment(card: dict[str, Any], model_path: Path) -> None:
    """Refuse, from its card and before anything is unpickled, a model made by another
    scikit-learn (its estimators' internals change between versions) or another major
    numpy (its arrays do not unpickle across 1.x / 2.x)."""
    env = card.get("environment") or {}
    wanted = str(env.get("scikit_learn", ""))
    if wanted != sklearn.__version__:
        raise ModelError(
            model_path,
            f"it was made with scikit-learn {wanted or '(unknown)'}, this app runs "
            f"scikit-learn {sklearn.__version__}; it was not loaded.",
            remedy=RETRAIN_REMEDY,
        )
    made = str(env.get("numpy", ""))
    if made.split(".")[0] != np.__version__.split(".")[0]:
        raise ModelError(
            model_path,
            f"it was made with numpy {made or '(unknown)'}, this app runs numpy "
            f"{np.__version__}; it was not loaded.",
            remedy=RETRAIN_REMEDY,
        )


def load_model(path: Path) -> TrainedModel:
    """Load a model file (or its card) after checking it against its card.

    Raises :class:`ModelError` when the card is missing or foreign, the file's SHA-256
    differs from the card's, the card names another scikit-learn version, or unpickling
    raises a version warning or fails.
    """
    path = Path(path)
    if path.name.endswith(".card.json"):
        card_path = path
        card = read_card(card_path)
        model_path = path.with_name(str(card.get("file", "")))
    else:
        model_path = path
        card_path = card_path_for(path)
        card = read_card(card_path)
        if card.get("file") != model_path.name:
            raise ModelError(model_path, f"its card describes another file ({card.get('file')!r}).")
    task = card.get("task")
    if task not in TASKS:
        raise ModelError(card_path, f"unknown task {task!r} in the model card.")
    if not model_path.is_file():
        raise ModelError(model_path, "the model file is missing.", remedy=RETRAIN_REMEDY)
    sha = file_sha256(model_path)
    if sha != card.get("sha256"):
        raise ModelError(
            model_path,
            "the file does not match the SHA-256 in its card (changed or damaged since it was "
            "written); it was not loaded.",
            remedy=RETRAIN_REMEDY,
        )
    check_environment(card, model_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", InconsistentVersionWarning)
            pipeline = joblib.load(model_path)
    except InconsistentVersionWarning as exc:
        raise ModelError(
            model_path,
            f"scikit-learn says the file was pickled with version {exc.original_sklearn_version}, "
            f"not {exc.current_sklearn_version}.",
            remedy=RETRAIN_REMEDY,
        ) from None
    except Exception as exc:  # a damaged pickle can raise nearly anything
        raise ModelError(
            model_path,
            f"the model file cannot be read ({type(exc).__name__}: {exc}).",
            remedy=RETRAIN_REMEDY,
        ) from None
    if not isinstance(pipeline, Pipeline) or [name for name, _ in pipeline.steps] != [
        "hash",
        "tfidf",
        "clf",
    ]:
        raise ModelError(
            model_path, "the file does not hold a Triage model pipeline.", remedy=RETRAIN_REMEDY
        )
    return TrainedModel(task=str(task), pipeline=pipeline, card=card, path=model_path)


# ----------------------------------------------------------------------- versions


@dataclass(frozen=True)
class ModelVersion:
    """One version of a task's model: the shipped one or a retrained one."""

    task: str
    version: str
    shipped: bool
    path: Path  # the model file
    card: dict[str, Any]
    active: bool = False

    @property
    def created(self) -> str:
        return str(self.card.get("created", ""))


def shipped_model_path(task: str) -> Path:
    return paths.shipped_models_dir() / f"{task}.joblib"


def _task_dir(task: str) -> Path:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    return paths.user_models_dir() / task


def _active_file() -> Path:
    return paths.user_models_dir() / "active.json"


def _read_active() -> dict[str, str]:
    try:
        data = json.loads(_active_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_active(active: dict[str, str]) -> None:
    target = _active_file()
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(active, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)


def list_versions(task: str) -> list[ModelVersion]:
    """The shipped model and every retrained version of ``task``, newest first.

    Versions whose card cannot be read are left out (they could not be loaded either).
    """
    active = active_version(task)
    found: list[ModelVersion] = []
    folder = _task_dir(task)
    if folder.is_dir():
        for sub in folder.iterdir():
            card_path = sub / f"{task}.card.json"
            try:
                card = read_card(card_path)
            except ModelError:
                continue
            found.append(
                ModelVersion(
                    task, sub.name, False, sub / f"{task}.joblib", card, sub.name == active
                )
            )
    found.sort(key=lambda v: (v.created, v.version), reverse=True)
    shipped_card_path = paths.shipped_models_dir() / f"{task}.card.json"
    try:
        card = read_card(shipped_card_path)
        found.append(
            ModelVersion(
                task,
                str(card.get("version", SHIPPED)),
                True,
                shipped_model_path(task),
                card,
                active == SHIPPED,
            )
        )
    except ModelError:
        pass
    return found


def active_version(task: str) -> str:
    """The version id in use for ``task``, or ``"shipped"``."""
    chosen = _read_active().get(task, SHIPPED)
    if chosen != SHIPPED and not (_task_dir(task) / chosen / f"{task}.card.json").is_file():
        return SHIPPED
    return chosen


def _find(task: str, version: str | None) -> ModelVersion:
    wanted = active_version(task) if version is None else version
    for v in list_versions(task):
        if v.version == wanted or (wanted == SHIPPED and v.shipped):
            return v
    raise ModelError(_task_dir(task) / str(wanted), f"there is no {task} model version {wanted!r}.")


def load_current(task: str, version: str | None = None) -> TrainedModel:
    """The active model of ``task`` (or the given version), checked against its card."""
    chosen = _find(task, version)
    model = load_model(chosen.path)
    if chosen.shipped:
        model.card["shipped"] = True
    return model


def unusable_models() -> dict[str, ModelError]:
    """Per task whose model in use cannot be loaded, why: checked from the cards alone (no
    file is read or unpickled), so it is cheap enough for every project open. A model that
    passes may still fail its SHA-256 check when it is loaded."""
    out: dict[str, ModelError] = {}
    for task in TASKS:
        try:
            chosen = _find(task, None)
            check_environment(chosen.card, chosen.path)
            if not chosen.path.is_file():
                raise ModelError(chosen.path, "the model file is missing.", remedy=RETRAIN_REMEDY)
        except ModelError as exc:
            out[task] = exc
    return out


def describe_version(task: str, version: str) -> dict[str, Any] | None:
    """The card of a version plus its ``path`` (None when there is no such version)."""
    try:
        chosen = _find(task, version)
    except ModelError:
        return None
    info = dict(chosen.card)
    info["path"] = str(chosen.path)
    info["shipped"] = chosen.shipped
    return info


def add_version(model: TrainedModel, *, activate_it: bool = True) -> ModelVersion:
    """Save a retrained model as a new version in the user's data directory."""
    task = model.task
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    version = f"{task}-{stamp}"
    model.card["version"] = version
    model.card.setdefault("created", _now())
    model.card["shipped"] = False
    folder = _task_dir(task) / version
    model.save(folder)
    if activate_it:
        activate(task, version)
    return ModelVersion(task, version, False, folder / f"{task}.joblib", model.card, activate_it)


def activate(task: str, version: str) -> None:
    """Make ``version`` (a retrained version id, or ``"shipped"``) the one in use."""
    if version != SHIPPED:
        chosen = _find(task, version)
        if chosen.shipped:
            version = SHIPPED
    active = _read_active()
    active[task] = version
    _write_active(active)


def rollback(task: str, to: str | None = None) -> str:
    """Go back to version ``to``, or to the version before the active one (else shipped).

    Returns the version now active. Nothing is deleted: a later version can be activated
    again.
    """
    if to is not None:
        activate(task, to)
        return active_version(task)
    versions = [v for v in list_versions(task) if not v.shipped]
    current = active_version(task)
    ids = [v.version for v in versions]
    if current in ids:
        older = ids[ids.index(current) + 1 :]
        target = older[0] if older else SHIPPED
    else:
        target = SHIPPED
    activate(task, target)
    return target


__all__ = [
    "RETRAIN_REMEDY",
    "ModelVersion",
    "TrainedModel",
    "activate",
    "active_version",
    "add_version",
    "check_environment",
    "describe_version",
    "environment",
    "list_versions",
    "load_current",
    "load_model",
    "rollback",
    "shipped_model_path",
]
