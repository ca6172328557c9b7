"""Where things live: shipped models, bundled resources, the user's data directory."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import platformdirs

APP_NAME = "Triage"
_REPO = Path(__file__).resolve().parents[2]


def _package_dir(package: str, repo_dir: str) -> Path:
    # A source checkout or editable install reads the top-level folders directly; a wheel
    # carries them as guiapp._models / guiapp._resources (see pyproject.toml).
    local = _REPO / repo_dir
    if (local / "__init__.py").exists():
        return local
    return Path(str(resources.files(package)))


def shipped_models_dir() -> Path:
    """The read-only folder of shipped models and their cards (``models/``)."""
    return _package_dir("guiapp._models", "models")


def resources_dir() -> Path:
    """Bundled resources: demo collection, icons, data licences (``resources/``)."""
    return _package_dir("guiapp._resources", "resources")


def demo_collection() -> Path:
    return resources_dir() / "demo"


def user_data_dir() -> Path:
    """Per-user writable data: settings and the default folder of projects.

    ``TRIAGE_DATA_DIR`` overrides it (tests, portable installs).
    """
    override = os.environ.get("TRIAGE_DATA_DIR")
    path = (
        Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout, where the training corpora live (or None).

    ``TRIAGE_SHARED_DATA`` overrides it.
    """
    override = os.environ.get("TRIAGE_SHARED_DATA")
    candidates = [Path(override)] if override else []
    candidates += [_REPO.parent / "shared" / "data", _REPO.parent.parent / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path
    return None
