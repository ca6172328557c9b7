"""Triage's Qt-free core: import, models, clustering, project store, commands, export.

Nothing under ``guiapp.core`` may import PySide6 (ruff's banned-api rule and
``tests/core/test_core_is_qt_free.py`` enforce it); the window in ``guiapp.qt`` is a thin
adapter over this package, and the ``triage`` command line drives it headless.
"""
