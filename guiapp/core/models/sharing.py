"""Sharing a model with another user: export and import in a format that runs no code on load.

Inside Triage a model is arrays and JSON (:mod:`.serial`); a model given to someone else
travels as a pair:

- ``<name>.skops`` -- the pipeline in skops' format (a zip of JSON and ``.npy`` arrays;
  loading it builds objects only of the types it is told to trust, and runs no
  ``__reduce__``, so a crafted file cannot execute code), and
- ``<name>.card.json`` -- the model's card (task, classes, versions, training data,
  metrics) plus an ``export`` section: the ``.skops`` file's SHA-256, and the
  probabilities the model gave for a few fixed probe texts when it was exported.

:func:`import_model` checks the card (written by Triage, known task, same scikit-learn),
the file's SHA-256, then loads it with an explicit allow-list -- this app's two feature
classes plus the scikit-learn / NumPy / SciPy types skops trusts by default -- refusing
any other type before anything is built, checks that the result is a Triage pipeline for
the card's task, checks every parameter and array the way a model file of this app is
checked (:func:`.serial.pipeline_from_bytes`), and that its probabilities on the probe
texts are the exported ones. The caller stores it as a version of a project (its origin
"imported").
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from guiapp.core.errors import ExportError, ModelError
from guiapp.core.messages import CLASSES, TASKS
from guiapp.core.models import serial, store
from guiapp.core.models.features import TextHasher
from guiapp.core.models.linear import TfidfBlock
from guiapp.core.models.registry import APP_MARK, TrainedModel, file_sha256
from guiapp.core.progress import Hooks

EXPORT_MARK = "triage-model-export/1"
#: The only types a shared model may hold beyond those skops trusts by default
#: (scikit-learn estimators, NumPy and SciPy arrays, builtins).
TRUSTED_TYPES = (
    f"{TextHasher.__module__}.{TextHasher.__qualname__}",
    f"{TfidfBlock.__module__}.{TfidfBlock.__qualname__}",
)
#: Fixed texts whose probabilities the card records, to check that a file is the model its
#: card describes (one of each kind of message the models read).
PROBE_TEXTS = (
    "WINNER!! You have been selected to receive a 900 prize reward! Call 09061701461 now",
    "Ok lar... Joking wif u oni... I'll call you when I get home",
    "Subject: meeting tomorrow\nplease find attached the agenda for tomorrow's review",
    "I love this new phone, best purchase of the year :)",
    "This is the worst service I have ever had. Never again.",
    "The train leaves at 5 pm from platform 2",
)
PROBE_TOLERANCE = 1e-5


def _skops() -> Any:
    try:
        import skops.io as sio
    except ModuleNotFoundError:
        raise ModelError(
            "skops",
            "sharing models needs the skops package, which is not installed.",
            remedy="pip install skops",
        ) from None
    return sio


def _probe(pipeline: Pipeline) -> list[list[float]]:
    return np.asarray(pipeline.predict_proba(list(PROBE_TEXTS)), dtype=np.float64).tolist()


def _check_pipeline(pipeline: Any, task: str, path: Path) -> None:
    """Is this a Triage pipeline for ``task`` whose parts fit together?"""
    if not isinstance(pipeline, Pipeline) or [n for n, _ in pipeline.steps] != [
        "hash",
        "tfidf",
        "clf",
    ]:
        raise ModelError(path, "the file does not hold a Triage model pipeline.")
    hasher, tfidf, clf = (pipeline[name] for name in ("hash", "tfidf", "clf"))
    if not (
        type(hasher) is TextHasher and type(tfidf) is TfidfBlock and type(clf) is LogisticRegression
    ):
        raise ModelError(path, "the pipeline's steps are not the ones Triage builds.")
    bits, dense = getattr(hasher, "n_bits", None), getattr(tfidf, "n_dense", None)
    low, high = serial.N_BITS
    if not (type(bits) is int and low <= bits <= high and type(dense) is int and 0 <= dense <= 64):
        raise ModelError(
            path, f"the feature sizes are not valid (n_bits {bits!r}, n_dense {dense!r})."
        )
    k = len(CLASSES[task])
    n_features = (1 << bits) + dense
    coef = np.asarray(getattr(clf, "coef_", np.zeros((0, 0))))
    if coef.shape != (1 if k == 2 else k, n_features) or list(
        np.asarray(getattr(clf, "classes_", []))
    ) != list(range(k)):
        raise ModelError(
            path, f"the classifier does not fit a {task} model of {n_features} features."
        )
    if len(np.asarray(getattr(tfidf, "idf_", []))) != 1 << bits:
        raise ModelError(path, "the TF-IDF weights do not fit the feature hasher.")


def export_model(
    version: str,
    path: str | Path,
    *,
    task: str | None = None,
    source: str | Path | None = None,
    on_progress: Any = None,
    stop_requested: Any = None,
) -> tuple[Path, Path]:
    """Write the model ``version`` (a version id of the project at ``source``, or
    ``"shipped"`` with ``task``) as
    ``path`` (``.skops`` added if missing) and its card beside it (``<stem>.card.json``).

    The model is loaded the safe way first (its card and SHA-256 checked). Returns the two
    paths. Raises :class:`ModelError` if there is no such version or it cannot be loaded,
    :class:`ExportError` (naming the path and the reason: disk full, read-only folder, ...)
    if the files cannot be written -- then nothing is left at ``path``; an earlier file
    there is unchanged.
    """
    hooks = Hooks(on_progress, stop_requested)
    sio = _skops()
    if task is None:
        task = next((t for t in TASKS if version.startswith(f"{t}-")), None)
        if task is None:
            raise ModelError(version, "say which task's model to export (task=...).")
    hooks.progress(0, 3, "loading the model")
    model = store.load_from(source, task, version)
    hooks.check()
    target = Path(path)
    if target.suffix != ".skops":
        target = target.with_name(target.name + ".skops")
    card_path = target.with_name(target.name.removesuffix(".skops") + ".card.json")
    tmp_card = card_path.with_name(card_path.name + ".tmp")
    tmp = ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
        os.close(fd)
        hooks.progress(1, 3, "writing the model")
        sio.dump(model.pipeline, tmp)
        hooks.check()
        sha = file_sha256(Path(tmp))
        card = {
            key: value
            for key, value in model.card.items()
            if key not in ("file", "sha256", "size_bytes", "shipped", "path")
        }
        card["card"] = APP_MARK
        card["export"] = {
            "format": EXPORT_MARK,
            "file": target.name,
            "sha256": sha,
            "size_bytes": os.path.getsize(tmp),
            "skops": _skops_version(),
            "exported": datetime.now(UTC).isoformat(timespec="seconds"),
            "from_version": model.version,
            "probe_texts": list(PROBE_TEXTS),
            "probe_probabilities": _probe(model.pipeline),
        }
        hooks.progress(2, 3, "writing the card")
        tmp_card.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        hooks.check()
        os.replace(tmp, target)
        os.replace(tmp_card, card_path)
    except BaseException as exc:
        for leftover in (Path(tmp) if tmp else None, tmp_card):
            with contextlib.suppress(OSError):  # e.g. the "folder" is a file
                if leftover is not None:
                    leftover.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            from guiapp.core.export import _os_reason

            raise ExportError(target, _os_reason(exc)) from None
        raise
    hooks.progress(3, 3, "exported")
    return target, card_path


def _skops_version() -> str:
    from importlib.metadata import version

    try:
        return version("skops")
    except Exception:  # noqa: BLE001 - only informative
        return ""


def read_export_card(path: str | Path) -> tuple[dict[str, Any], Path, Path]:
    """The card of an exported model (``.skops`` or ``.card.json`` path) and both paths."""
    path = Path(path)
    if path.name.endswith(".card.json"):
        card_path = path
    else:
        card_path = path.with_name(path.name.removesuffix(".skops") + ".card.json")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            card_path, "the card of the shared model is missing, so the model cannot be checked."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(card_path, f"the card cannot be read ({exc}).") from None
    export = card.get("export") if isinstance(card, dict) else None
    if (
        not isinstance(card, dict)
        or card.get("card") != APP_MARK
        or not isinstance(export, dict)
        or export.get("format") != EXPORT_MARK
    ):
        raise ModelError(card_path, "this is not the card of a model exported by Triage.")
    model_path = card_path.with_name(str(export.get("file", "")))
    if not path.name.endswith(".card.json") and model_path != path:
        raise ModelError(path, f"its card describes another file ({export.get('file')!r}).")
    return card, card_path, model_path


def import_model(
    path: str | Path,
    *,
    on_progress: Any = None,
    stop_requested: Any = None,
) -> TrainedModel:
    """Check and load an exported model (its ``.skops`` file or its card); the caller
    stores it in a project (``Project.add_model_version``, origin "imported").

    Refused with a :class:`ModelError` that says why: a missing or foreign card, an
    unknown task, a SHA-256 that differs from the card's, a type outside the allow-list
    (named), a pipeline that is not Triage's, a parameter or array out of bounds, or
    probabilities on the probe texts that differ from the exported ones.
    """
    hooks = Hooks(on_progress, stop_requested)
    sio = _skops()
    hooks.progress(0, 3, "checking the card")
    card, card_path, model_path = read_export_card(path)
    task = card.get("task")
    if task not in TASKS:
        raise ModelError(card_path, f"unknown task {task!r} in the model card.")
    export = card["export"]
    if not model_path.is_file():
        raise ModelError(model_path, "the shared model file is missing.")
    if file_sha256(model_path) != export.get("sha256"):
        raise ModelError(
            model_path,
            "the file does not match the SHA-256 in its card (changed or damaged since it was "
            "exported); it was not loaded.",
        )
    try:
        untrusted = list(sio.get_untrusted_types(file=model_path))
    except Exception as exc:  # a damaged archive can raise nearly anything
        raise ModelError(
            model_path, f"the file cannot be read ({type(exc).__name__}: {exc})."
        ) from None
    foreign = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if foreign:
        raise ModelError(
            model_path,
            "the file holds types this app does not load from a shared model: "
            + ", ".join(foreign)
            + "; it was not loaded.",
        )
    hooks.check()
    hooks.progress(1, 3, "loading the model")
    try:
        pipeline = sio.load(model_path, trusted=untrusted)
    except Exception as exc:  # noqa: BLE001 - reported with the file's name
        raise ModelError(
            model_path, f"the file cannot be loaded ({type(exc).__name__}: {exc})."
        ) from None
    _check_pipeline(pipeline, str(task), model_path)
    try:  # every value checked as a Triage model file's are; crafted ones refused
        data = serial.pipeline_bytes(pipeline)
    except Exception as exc:  # noqa: BLE001 - crafted attributes can raise anything
        raise ModelError(
            model_path, f"the model's parameters are not valid ({type(exc).__name__}: {exc})."
        ) from None
    pipeline = serial.pipeline_from_bytes(str(task), data, model_path)
    hooks.check()
    hooks.progress(2, 3, "checking its predictions")
    expected = np.asarray(export.get("probe_probabilities", []), dtype=np.float64)
    got = np.asarray(_probe(pipeline))
    if expected.shape != got.shape or not np.allclose(got, expected, atol=PROBE_TOLERANCE):
        raise ModelError(
            model_path,
            "the model's predictions on the card's probe texts are not the exported ones: "
            "the card does not describe this file.",
        )
    new_card = {k: v for k, v in card.items() if k != "export"}
    new_card.pop("version", None)
    new_card["description"] = (
        f"Imported from {model_path.name} (exported from version "
        f"{export.get('from_version')!r}). " + str(card.get("description", ""))
    ).strip()
    new_card["imported"] = {
        "from": str(model_path),
        "sha256": export.get("sha256"),
        "exported": export.get("exported"),
        "from_version": export.get("from_version"),
        "imported": datetime.now(UTC).isoformat(timespec="seconds"),
        "scikit_learn": sklearn.__version__,
    }
    new_card.pop("created", None)
    hooks.progress(3, 3, "checked")
    return TrainedModel(str(task), pipeline, new_card, path=model_path)


__all__ = [
    "EXPORT_MARK",
    "PROBE_TEXTS",
    "TRUSTED_TYPES",
    "export_model",
    "import_model",
    "read_export_card",
]
