"""Shared test set-up: Qt offscreen before any PySide6 import; no test touches user data."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory, monkeypatch):
    """Every test gets its own user data directory (retrained models, settings)."""
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path_factory.mktemp("userdata")))
