"""Projects for the window's store-safety tests (a plain module: tests/ is not a package)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from qt_helpers import SMS

from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.messages import make_frame
from guiapp.core.project import Project


def sms_messages() -> Collection:
    """The 300 real SMS of tests/fixtures/qt/sms.csv, no predictions."""
    with open(SMS, newline="", encoding="utf-8") as fh:
        texts = [row["message"] for row in csv.DictReader(fh)]
    return Collection(make_frame({"text": texts, "kind": ["sms"] * len(texts)}))


def labelled_project(path: Path) -> Path:
    """A closed project of those messages with two edits in its log."""
    collection = sms_messages()
    project = Project.create(path, collection)
    try:
        project.apply(set_label(collection, "spam", [3, 4], "spam"))
        project.apply(set_label(collection, "sentiment", np.arange(20, 60), "neutral"))
    finally:
        project.close()
    return path
