"""What a command may write to: the one check every writer makes before it writes.

A writer (:class:`guiapp.core.export.TableWriter`; ``triage classify -o``; ``triage train
--out``) writes a new file beside the target and renames it into place. That rename
replaces whatever the path named, so :func:`check_output` refuses, before anything is read
or written:

- an output that *is* one of the inputs -- the same file (device and inode), whichever
  path names it: the same name, ``./name``, a symbolic link or a hard link;
- a named pipe (FIFO), a socket or a device -- ``/dev/null`` and ``/dev/full`` included: the
  rename would replace the device node with a regular file (as root, for every program on
  the machine); writing *into* the device instead would give up the all-or-nothing
  guarantee, so Triage does not;
- a folder where a file is wanted, and anything but a folder where a folder is wanted.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from guiapp.core.errors import ExportError

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _stat(path: str | Path) -> os.stat_result | None:
    try:
        return os.stat(path)  # follows symbolic links: a link to an input is that input
    except (OSError, ValueError):
        return None


def check_output(
    path: str | Path, inputs: Iterable[str | Path] = (), *, folder: bool = False
) -> None:
    """Raise :class:`~guiapp.core.errors.ExportError` if writing ``path`` would destroy an
    input or replace something that is not a regular file (``folder``: a folder); see the
    module. A path that does not exist yet is fine (its folder is checked by the writer)."""
    target = _stat(path)
    if target is None:
        return
    mode = target.st_mode
    for test, kind in _KINDS:
        if test(mode):
            raise ExportError(
                path,
                f"is {kind}, not a regular file: Triage writes a new file and renames it "
                "into place, which would replace it; choose a file path",
            )
    if folder:
        if not stat.S_ISDIR(mode):
            raise ExportError(path, "is a file, not a folder; choose a folder for the output")
    elif stat.S_ISDIR(mode):
        raise ExportError(path, "is a folder; give a file name for the output")
    for source in inputs:
        s = _stat(source)
        if s is not None and (s.st_dev, s.st_ino) == (target.st_dev, target.st_ino):
            same = "" if str(source) == str(path) else f" ({source})"
            raise ExportError(
                path,
                f"is one of the inputs{same}: writing the output there would destroy it; "
                "choose another output path",
            )
