"""What the window remembers between runs: typed properties over ``QSettings``.

The store is an INI file in the user's data directory (``settings.ini`` beside the retrained
models and projects), so ``TRIAGE_DATA_DIR`` moves it too -- a portable install or a test
never touches the user's real settings. Tests pass their own store with :meth:`Settings.at`.

Every key is declared once below with its type and default. The schema version is stored
under ``meta/schema``; :data:`MIGRATIONS` upgrades older stores in order (Orange's
``settings_version``, napari's migrators).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QByteArray, QSettings

from guiapp.core.paths import user_data_dir

SCHEMA_VERSION = 2
MAX_RECENT = 10
T = TypeVar("T")


def _to_list(value: Any) -> list[str]:
    # An INI store gives back a one-item list as a plain string, and an empty one as None.
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


class _Setting(Generic[T]):
    """One typed key: ``settings.recent_files`` reads and writes ``recent/files``."""

    def __init__(self, key: str, default: T, convert: Callable[[Any], T]):
        self.key = key
        self.default = default
        self.convert = convert

    def __get__(self, obj: Settings | None, owner=None) -> T:
        if obj is None:
            return self  # type: ignore[return-value]
        value = obj.store.value(self.key)
        if value is None:
            return self.default
        try:
            return self.convert(value)
        except (TypeError, ValueError):
            return self.default

    def __set__(self, obj: Settings, value: T) -> None:
        obj.store.setValue(self.key, value)


def _bytes(value: Any) -> QByteArray:
    return value if isinstance(value, QByteArray) else QByteArray(bytes(value))


def _migrate_1_to_2(store: QSettings) -> None:
    # Version 1 kept a single "last_file"; version 2 keeps a recent list and the project.
    last = store.value("last_file")
    if last:
        store.setValue("recent/files", [str(last)])
    store.remove("last_file")


MIGRATIONS: dict[int, Callable[[QSettings], None]] = {2: _migrate_1_to_2}


class Settings:
    """The window's remembered state. ``Settings.default()`` for the app, ``at()`` in tests."""

    geometry = _Setting("window/geometry", QByteArray(), _bytes)
    window_state = _Setting("window/state", QByteArray(), _bytes)
    header_state = _Setting("table/header", QByteArray(), _bytes)
    recent_files = _Setting("recent/files", [], _to_list)
    last_project = _Setting("recent/project", "", str)
    last_dir = _Setting("recent/dir", "", str)
    export_dir = _Setting("recent/export_dir", "", str)
    export_format = _Setting("export/format", "csv", str)
    export_spreadsheet_safe = _Setting("export/spreadsheet_safe", False, _to_bool)
    retrain_spam = _Setting("retrain/spam", True, _to_bool)
    retrain_sentiment = _Setting("retrain/sentiment", True, _to_bool)
    detail_visible = _Setting("window/detail_visible", True, _to_bool)
    # Ask before one action labels more than BULK_CONFIRM_ABOVE messages ("Don't ask again").
    confirm_bulk_labels = _Setting("labels/confirm_bulk", True, _to_bool)

    def __init__(self, store: QSettings):
        self.store = store
        self._migrate()

    @classmethod
    def at(cls, path: str | Path) -> Settings:
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    @classmethod
    def default(cls) -> Settings:
        return cls.at(user_data_dir() / "settings.ini")

    @property
    def path(self) -> str:
        return self.store.fileName()

    def _migrate(self) -> None:
        version = self.store.value("meta/schema")
        if version is None:
            # A new store, or one written before versioning (then it is version 1).
            version = 1 if self.store.allKeys() else SCHEMA_VERSION
        version = int(version)
        for target in sorted(MIGRATIONS):
            if version < target:
                MIGRATIONS[target](self.store)
                version = target
        self.store.setValue("meta/schema", SCHEMA_VERSION)

    def splitter_state(self, name: str) -> QByteArray:
        value = self.store.value(f"splitters/{name}")
        return _bytes(value) if value is not None else QByteArray()

    def set_splitter_state(self, name: str, state: QByteArray) -> None:
        self.store.setValue(f"splitters/{name}", state)

    def add_recent(self, path: str | Path) -> list[str]:
        path = str(Path(path).resolve())
        files = [f for f in self.recent_files if f != path]
        files.insert(0, path)
        self.recent_files = files[:MAX_RECENT]
        return self.recent_files

    def remove_recent(self, path: str) -> None:
        self.recent_files = [f for f in self.recent_files if f != path]

    def sync(self) -> None:
        self.store.sync()
