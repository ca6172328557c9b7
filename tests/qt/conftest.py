"""Qt test set-up: offscreen platform (set by tests/conftest.py before any PySide6 import),
a temporary settings store, real collections, and a check that no test leaves a worker
running (napari's ``_dangling_qthread_pool`` idea)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from guiapp.core.collection import Collection
from guiapp.core.messages import make_frame
from guiapp.core.project import Project

# The offscreen platform's screen is 800x800 by default: window geometry would be clamped to
# it. A 1920x1080 screen (set before pytest-qt creates the QApplication) is a real laptop's.
if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
    screen = Path(__file__).with_name("offscreen-screen.json")
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={screen}"

SMS = [
    ("ham", "Go until jurong point, crazy.. Available only in bugis n great world la e buffet"),
    ("ham", "Ok lar... Joking wif u oni..."),
    (
        "spam",
        "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121",
    ),
    ("ham", "U dun say so early hor... U c already then say..."),
    ("ham", "Nah I don't think he goes to usf, he lives around here though"),
    (
        "spam",
        "WINNER!! As a valued network customer you have been selected to receivea £900 prize reward!",
    ),
    (
        "spam",
        "Had your mobile 11 months or more? U R entitled to Update to the latest colour mobiles with camera for Free!",
    ),
    ("ham", "I'm gonna be home soon and i don't want to talk about this stuff anymore tonight"),
    ("spam", "SIX chances to win CASH! From 100 to 20,000 pounds txt> CSH11 and send to 87575."),
    ("ham", "I HAVE A DATE ON SUNDAY WITH WILL!!"),
    ("ham", "Oh k...i'm watching here:)"),
    ("ham", "Eh u remember how 2 spell his name... Yes i did. He v naughty make until i v wet."),
]


def pytest_collection_modifyitems(items):
    # The project's own warnings are errors in the window tests.
    for item in items:
        item.add_marker(pytest.mark.filterwarnings("error:::guiapp"))


@pytest.fixture
def settings(tmp_path):
    from guiapp.qt.settings import Settings

    return Settings.at(tmp_path / "settings.ini")


@pytest.fixture(autouse=True)
def _no_dangling_workers():
    yield
    import shiboken6

    from guiapp.qt import workers

    busy = [
        r for r in list(workers.RUNNERS) if shiboken6.isValid(r.pool) and r.pool.activeThreadCount()
    ]
    for runner in busy:
        runner.shutdown(10_000)
    assert not busy, "a test left a background task running"


def sms_collection(repeat: int = 1) -> Collection:
    """Real SMS Spam Collection messages (see tests/fixtures/README.md for the source)."""
    rows = SMS * repeat
    frame = make_frame(
        {
            "text": [t for _, t in rows],
            "kind": ["sms"] * len(rows),
            "sender": [f"+44 7700 900{i % 1000:03d}" for i in range(len(rows))],
        }
    )
    collection = Collection(frame)
    rng = np.random.default_rng(0)
    spam = np.array([1.0 if label == "spam" else 0.0 for label, _ in rows], dtype=np.float32)
    collection.spam_prob[:] = np.clip(spam * 0.8 + rng.random(len(rows)) * 0.2, 0, 1)
    sentiment = rng.random((len(rows), 3)).astype(np.float32)
    collection.sentiment_prob[:] = sentiment / sentiment.sum(axis=1, keepdims=True)
    collection.cluster[:] = np.arange(len(rows)) % 3
    return collection


@pytest.fixture
def collection():
    return sms_collection()


@pytest.fixture
def project(tmp_path, collection):
    project = Project.create(tmp_path / "test.triage", collection)
    yield project
    project.close()


@pytest.fixture
def window(qtbot, settings):
    """The main window with the SMS fixture open (test files may define their own)."""
    from qt_helpers import make_window, open_file

    window = make_window(qtbot, settings)
    open_file(qtbot, window)
    yield window
    window.close()
