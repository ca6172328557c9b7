"""A model version an app upgrade leaves behind, for tests of what the app does with it
(tests/core and tests/qt both import this; tests/ is on sys.path through its conftest)."""

from __future__ import annotations

import json
import shutil

from guiapp.core import models, paths


def refused_user_version(task: str, version: str = "") -> str:
    """Copy the shipped model into the user's data directory as a version whose card says
    it was made by another scikit-learn, and make it active (what an app upgrade leaves)."""
    version = version or f"{task}-20200101-000000-000000"
    folder = paths.user_models_dir() / task / version
    folder.mkdir(parents=True)
    shutil.copy(paths.shipped_models_dir() / f"{task}.joblib", folder / f"{task}.joblib")
    card = json.loads((paths.shipped_models_dir() / f"{task}.card.json").read_text())
    card["version"], card["shipped"] = version, False
    card["environment"]["scikit_learn"] = "1.5.2"
    (folder / f"{task}.card.json").write_text(json.dumps(card))
    models.activate(task, version)
    return version
