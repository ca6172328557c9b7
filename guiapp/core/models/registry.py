"""Model files and their cards, the shipped models, and loading them safely.

A model file (``<task>.npz``) holds arrays and JSON only (see :mod:`.serial`): loading
it runs no code. It is only ever loaded through its card (``<task>.card.json`` beside it)
and only after the file's SHA-256 matches the card's. The shipped models live in
``models/`` (read-only; only :func:`~guiapp.core.models.training.build_shipped_models`
writes there); every other version belongs to a project (see :mod:`.store`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn
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
        """Write ``<task>.npz`` and ``<task>.card.json`` into ``folder`` (atomically)."""
        from guiapp.core.models import serial

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{self.task}{serial.SUFFIX}"
        data = serial.pipeline_bytes(self.pipeline)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.task}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
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
                "format": serial.FORMAT,
                "sha256": serial.digest(data),
                "size_bytes": len(data),
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
    return model_path.with_name(model_path.name.removesuffix(".npz") + ".card.json")


def load_model(path: Path) -> TrainedModel:
    """Load a model file (or its card) after checking it against its card.

    Raises :class:`ModelError` when the card is missing or foreign, the file's SHA-256
    differs from the card's, or the file is not a sound Triage model (see :mod:`.serial`).
    """
    from guiapp.core.models import serial

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
    if card.get("format") != serial.FORMAT or model_path.suffix != serial.SUFFIX:
        raise ModelError(
            model_path,
            "it is not in Triage's model format (arrays and JSON); it was not loaded.",
            remedy=RETRAIN_REMEDY,
        )
    try:
        data = model_path.read_bytes()
    except FileNotFoundError:
        raise ModelError(model_path, "the model file is missing.", remedy=RETRAIN_REMEDY) from None
    except OSError as exc:
        raise ModelError(model_path, f"the model file cannot be read ({exc.strerror}).") from None
    if serial.digest(data) != card.get("sha256"):
        raise ModelError(
            model_path,
            "the file does not match the SHA-256 in its card (changed or damaged since it was "
            "written); it was not loaded.",
            remedy=RETRAIN_REMEDY,
        )
    pipeline = serial.pipeline_from_bytes(str(task), data, model_path)
    return TrainedModel(task=str(task), pipeline=pipeline, card=card, path=model_path)


def shipped_model_path(task: str) -> Path:
    return paths.shipped_models_dir() / f"{task}.npz"


_SHIPPED: dict[str, tuple[tuple[int, int], TrainedModel]] = {}
_SHIPPED_LOCK = threading.Lock()


def load_shipped(task: str) -> TrainedModel:
    """The shipped model of ``task`` (loaded once per process while its file is unchanged;
    every caller gets the same read-only model)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    path = shipped_model_path(task)
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = (0, 0)
    with _SHIPPED_LOCK:
        hit = _SHIPPED.get(task)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        model = load_model(path)
        model.card["shipped"] = True
        model.card.setdefault("shipped_version", model.card.get("version", ""))
        model.card["version"] = SHIPPED
        model.card.setdefault("origin", {"kind": "shipped"})
        _SHIPPED[task] = (stamp, model)
        return model


__all__ = [
    "RETRAIN_REMEDY",
    "SHIPPED",
    "TrainedModel",
    "environment",
    "load_model",
    "load_shipped",
    "read_card",
    "shipped_model_path",
]
