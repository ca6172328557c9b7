"""One writer per project: a second opener (another process, or a second open in this one)
is refused with the holder named; a read-only view is always possible; the operating system
frees the lock when its holder is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.errors import ProjectError
from guiapp.core.messages import make_frame
from guiapp.core.project import Project
from guiapp.core.project_lock import ProjectLocked, holder, lock_path

ROOT = Path(__file__).resolve().parents[2]

HOLD = textwrap.dedent(
    """
    import sys
    from guiapp.core.project import Project
    project = Project.open(sys.argv[1])
    print("holding", flush=True)
    sys.stdin.readline()  # until the test lets go (or kills this process)
    project.close()
    print("released", flush=True)
    """
)


def make_project(path: Path) -> Path:
    c = Collection(make_frame({"text": [f"message {i}" for i in range(50)]}))
    Project.create(path, c).close()
    return path


def hold_in_child(path: Path) -> subprocess.Popen:
    """A child process that opens ``path`` through the core API and keeps it open."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout.readline().strip() == "holding"
    return child


def test_a_second_process_is_refused_with_the_holder_named_until_the_holder_is_killed(
    tmp_path,
):
    path = make_project(tmp_path / "p.triage")
    child = hold_in_child(path)
    try:
        with pytest.raises(ProjectLocked) as info:
            Project.open(path)
        assert info.value.holder["pid"] == child.pid
        assert f"process {child.pid}" in str(info.value) and str(path) in str(info.value)
        assert holder(path)["pid"] == child.pid
        # A read-only view is not refused, and sees the file as it is.
        view = Project.open(path, read_only=True)
        try:
            assert view.read_only and len(view.collection) == 50
            with pytest.raises(ProjectError, match="read-only"):
                view.apply(set_label(view.collection, "spam", [1], "spam"))
        finally:
            view.close()
        # Creating a project over it is refused as well: it is never replaced under its writer.
        with pytest.raises(ProjectLocked):
            Project.create(path, Collection(make_frame({"text": ["x"]})))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stdin.close()
    assert child.returncode == -signal.SIGKILL
    assert lock_path(path).exists()  # left by the killed holder, yet free
    assert holder(path) is None
    project = Project.open(path)
    try:
        project.apply(set_label(project.collection, "spam", np.arange(5), "spam"))
        assert holder(path)["pid"] == os.getpid()
    finally:
        project.close()
    assert not lock_path(path).exists()  # a clean release removes it


def test_a_clean_release_in_another_process_frees_the_project(tmp_path):
    path = make_project(tmp_path / "p.triage")
    child = hold_in_child(path)
    try:
        with pytest.raises(ProjectLocked):
            Project.open(path)
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "released"
    finally:
        child.wait()
        child.stdout.close()
        child.stdin.close()
    Project.open(path).close()


def test_a_second_open_in_one_process_is_refused(tmp_path):
    path = make_project(tmp_path / "p.triage")
    first = Project.open(path)
    try:
        with pytest.raises(ProjectLocked, match=f"process {os.getpid()}"):
            Project.open(path)
    finally:
        first.close()
    Project.open(path).close()


def test_a_refused_open_leaves_the_holders_lock_alone(tmp_path):
    path = make_project(tmp_path / "p.triage")
    first = Project.open(path)
    try:
        for _ in range(3):
            with pytest.raises(ProjectLocked):
                Project.open(path)
        assert holder(path)["pid"] == os.getpid()
        first.apply(set_label(first.collection, "sentiment", [2], "positive"))
    finally:
        first.close()
    again = Project.open(path)
    try:
        assert again.collection.user["sentiment"][2] == 2
    finally:
        again.close()


def test_a_lock_file_that_cannot_be_made_is_a_clear_error(tmp_path):
    path = make_project(tmp_path / "p.triage")
    lock_path(path).mkdir()  # something else in its place (as a read-only folder would)
    with pytest.raises(ProjectError, match="cannot make its lock file p.triage.lock"):
        Project.open(path)
    Project.open(path, read_only=True).close()


def test_a_read_only_view_opened_while_the_writer_edits_is_consistent(tmp_path):
    """The view reads every table in one snapshot: edits committed meanwhile never make
    its labels disagree with its checksums (which would call a sound project damaged)."""
    import threading

    path = make_project(tmp_path / "p.triage")
    writer = Project.open(path)
    done = threading.Event()
    edits = []

    def edit():
        rows = np.arange(50)
        while not done.is_set():
            value = "spam" if len(edits) % 2 else "ham"
            writer.apply(set_label(writer.collection, "spam", rows, value))
            edits.append(value)

    thread = threading.Thread(target=edit)
    thread.start()
    try:
        for _ in range(15):
            view = Project.open(path, read_only=True)
            try:
                seen = set(view.collection.user["spam"].tolist())
                assert len(seen) == 1  # one whole edit, never half of one
            finally:
                view.close()
    finally:
        done.set()
        thread.join()
        writer.close()
    assert len(edits) > 1
