"""One writer per project: an advisory lock on ``NAME.triage.lock`` beside the project.

``flock`` is held by the open file description, so the operating system releases it when the
holder exits in any way, a SIGKILL or a crash included: a lock is never left stale. The
file's content only says who holds it (process, host, user, since when) for the message the
second opener gets; a lock file left behind by a killed holder is simply taken over.

A clean release deletes the file while still holding the lock, and whoever takes a lock
checks afterwards that the name still leads to the file it locked (else it locked a deleted
file, and tries again): two processes can never each hold "the" lock of one project.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import getpass
import json
import os
import socket
import sys
from pathlib import Path

from guiapp.core.errors import ProjectError


class ProjectLocked(ProjectError):
    """The project is open for writing in another process (or another window of this one);
    ``holder`` says who, as far as its lock file tells."""

    def __init__(self, path: str | Path, holder: dict):
        self.holder = dict(holder)
        super().__init__(path, f"it is open in {describe(holder)}")


def lock_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".lock")


def describe(holder: dict) -> str:
    """ "Triage (process 1234 of alice on host, since 2026-12-04 02:10 UTC)"."""
    pid, host, user = holder.get("pid"), holder.get("host"), holder.get("user")
    program = str(holder.get("program") or "another Triage")
    if not pid:
        return f"{program} (which one is not recorded)"
    where = f"process {pid}"
    if user:
        where += f" of {user}"
    if host and host != socket.gethostname():
        where += f" on {host}"
    elif host:
        where += " on this computer"
    if holder.get("since"):
        where += f", since {holder['since']}"
    return f"{program} ({where})"


class ProjectLock:
    """The held lock of one project; :meth:`release` (or process exit) frees it."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _program() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "Triage" if name in ("", "-c", "__main__.py", "triage") else f"Triage ({name})"


def acquire(project: str | Path) -> ProjectLock:
    """Take the write lock of ``project`` or raise :class:`ProjectLocked` naming its holder.

    Raises :class:`ProjectError` when the lock file cannot be made (a read-only folder).
    """
    project = Path(project)
    target = lock_path(project)
    while True:
        try:
            fd = os.open(target, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise ProjectError(
                project, f"cannot make its lock file {target.name}: {exc.strerror or exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ProjectLocked(project, holder) from None
        try:
            same = os.stat(target).st_ino == os.fstat(fd).st_ino
        except OSError:
            same = False
        if same:
            break
        os.close(fd)  # released and deleted by its holder meanwhile: take the new one
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "user": _user(),
        "since": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "program": _program(),
    }
    data = json.dumps(info).encode()
    with contextlib.suppress(OSError):  # who holds it is for messages only
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    return ProjectLock(target, fd)


def holder(project: str | Path) -> dict | None:
    """Who holds ``project``'s lock as its lock file tells, or None when it is free.

    The file is only read: probing the lock itself (even a shared ``flock``) could make the
    holder's own open fail at that moment. A file left by a killed holder names a process
    that no longer exists on this computer: free.
    """
    try:
        fd = os.open(lock_path(project), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = _read_holder(fd)
    finally:
        os.close(fd)
    pid = info.get("pid")
    if type(pid) is int and info.get("host") == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, another user's
    return info


def _read_holder(fd: int) -> dict:
    try:
        data = os.pread(fd, 4096, 0)
        info = json.loads(data.decode("utf-8"))
    except (OSError, ValueError):  # being written this very moment, or not ours
        return {}
    return info if isinstance(info, dict) else {}


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
