"""A killed export: the target stays whole, and its leftover temporary is cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from guiapp.core.collection import Collection
from guiapp.core.export import export_csv, remove_stale_partials
from guiapp.core.messages import make_frame

# Writes an export of many rows slowly (a progress hook that sleeps), so that the parent can
# SIGKILL it while the temporary file is open and half written.
SLOW_EXPORT = textwrap.dedent(
    """
    import sys, time
    from guiapp.core.collection import Collection
    from guiapp.core.export import export_csv
    from guiapp.core.messages import make_frame
    c = Collection(make_frame({"text": [f"message {i}" for i in range(400_000)]}))
    def progress(done, total, text):
        print(done, flush=True)
        time.sleep(0.2)
    export_csv(c, sys.argv[1], on_progress=progress)
    """
)


def collection(n: int) -> Collection:
    return Collection(make_frame({"text": [f"message {i}" for i in range(n)]}))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_export_leaves_the_old_file_and_a_partial_the_next_export_removes(tmp_path):
    out = tmp_path / "x.csv"
    out.write_text("an earlier export\n")
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_EXPORT, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "0"
        assert child.stdout.readline().strip() == "100000"  # the first batch is written
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "x.csv")
    assert len(left) == 1 and left[0].startswith(".x.csv.") and left[0].endswith(".partial")
    assert out.read_text() == "an earlier export\n"
    assert export_csv(collection(3), out) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]
    assert out.read_text().count("\n") == 4


def test_a_live_export_is_not_cleaned_up_under_it(tmp_path):
    """Two exports to one path at once: neither removes the other's temporary."""
    out = tmp_path / "x.csv"
    seen = []

    def progress(done, total, text):
        # While the first export is writing, a second one runs to the end and cleans up.
        if not seen:
            seen.append(sorted(p.name for p in tmp_path.iterdir()))
            export_csv(collection(2), out)
            seen.append(sorted(p.name for p in tmp_path.iterdir()))

    assert export_csv(collection(200_001), out, on_progress=progress) == 200_001
    assert len(seen[0]) == 1 and seen[0][0].endswith(".partial")
    assert seen[1] == sorted([seen[0][0], "x.csv"])  # the first one's file survived
    assert out.read_text().count("\n") == 200_002
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_remove_stale_partials_only_touches_this_exports_files(tmp_path):
    out = tmp_path / "x.csv"
    stale = tmp_path / ".x.csv.abc123.partial"
    other = tmp_path / ".y.csv.abc123.partial"
    mine = tmp_path / "x.csv.partial"
    for p in (stale, other, mine):
        p.write_text("half")
    assert remove_stale_partials(out) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".y.csv.abc123.partial", "x.csv.partial"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_an_export_is_readable_as_the_umask_allows(tmp_path):
    old = os.umask(0o022)
    try:
        export_csv(collection(2), tmp_path / "x.csv")
    finally:
        os.umask(old)
    assert (tmp_path / "x.csv").stat().st_mode & 0o777 == 0o644


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_a_cleaner_between_create_and_lock_makes_the_writer_start_again(tmp_path, monkeypatch):
    """The one instant a live export's file is unlocked: right after it is created. A
    cleaner that removes it then makes the writer notice and make another."""
    import fcntl
    import types

    from guiapp.core import export as export_module

    out = tmp_path / "x.csv"
    calls = []

    def flock(fd, operation):
        calls.append(fd)
        if len(calls) == 1:  # the writer, just after creating its file
            assert remove_stale_partials(out) == 1
        return fcntl.flock(fd, operation)

    shim = types.SimpleNamespace(flock=flock, LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB)
    monkeypatch.setattr(export_module, "fcntl", shim)
    assert export_csv(collection(3), out) == 3
    assert len(calls) >= 3  # writer, cleaner, writer again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]
    assert out.read_text().count("\n") == 4
