"""A project model version that cannot be loaded, for tests of what the app does with it
(tests/core and tests/qt both import this; tests/ is on sys.path through its conftest)."""

from __future__ import annotations

from guiapp.core import models


def damaged_version(project, task: str) -> str:
    """Store the shipped model as a version of ``project``, make it the one in use, and
    damage it (its bytes no longer match their SHA-256): what a bad sector leaves."""
    stored = project.add_model_version(
        models.load_shipped(task), {"kind": "imported", "file": "test"}, activate=True
    )
    with project._lock:
        project._conn.execute(
            "UPDATE model_versions SET sha256=? WHERE version=?", ("0" * 64, stored.version)
        )
        project._conn.commit()
    return stored.version
