"""Compressed files and archives: .gz/.bz2/.xz of one file, .zip and .tar(.gz) of many.

Nothing is extracted to disk. Every decompression is metered while it runs (the sizes an
archive declares can lie) against one :class:`Budget` per input file, passed down through
every level of nesting (a .zip.gz holding a zip of .gz members, a stored zip of .gz
members, ...): everything unpacked from the file, at every level together, may not pass
:data:`MAX_TOTAL_BYTES`, nor -- once past :data:`RATIO_GRACE` -- :data:`MAX_RATIO` times
the file's own size on disk. Each member is also held to the ratio against its own packed
size. Passing either is :class:`DecompressionBomb`, which refuses the whole input (never
only the member where it showed), so memory stays bounded by the budget.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from guiapp.core.errors import InputError, printable
from guiapp.core.io.base import Origin

MAX_TOTAL_BYTES = 4 * 1024**3  # everything unpacked from one input file, all levels
MAX_RATIO = 200  # unpacked / packed, past RATIO_GRACE
RATIO_GRACE = 8 * 1024**2
MAX_MEMBERS = 200_000
_READ = 1 << 20


class DecompressionBomb(InputError):
    """An input unpacks to more than its :class:`Budget` allows: refused whole."""


class Budget:
    """What one input file may unpack to, at every level of nesting together.

    ``packed`` is the input's size on disk (the bytes the user gave); :meth:`take` counts
    every block any level unpacks and raises :class:`DecompressionBomb` once the total
    passes ``limit`` bytes or, past ``grace`` bytes, ``ratio`` times ``packed``.
    """

    def __init__(
        self,
        origin: Origin,
        packed: int,
        *,
        limit: int | None = None,
        ratio: int | None = None,
        grace: int | None = None,
    ):
        self.origin = origin
        self.packed = max(1, int(packed))
        limit = MAX_TOTAL_BYTES if limit is None else limit
        ratio = MAX_RATIO if ratio is None else ratio
        grace = RATIO_GRACE if grace is None else grace
        self.limit = min(limit, max(grace, ratio * self.packed))
        self.used = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def refuse(self, what: str) -> DecompressionBomb:
        o = self.origin
        return DecompressionBomb(
            o.file,
            f"{what}: refused as a possible zip bomb (a file may unpack to at most "
            f"{self.limit:,} bytes from its {self.packed:,}, every level of nesting together)",
            member=o.member,
        )

    def take(self, n: int, member: str | None = None) -> None:
        self.used += n
        if self.used > self.limit:
            where = f" (at {printable(member)})" if member else ""
            raise self.refuse(f"unpacks to {self.used:,} bytes or more{where}")


def budget_for(path_or_data: bytes | str, origin: Origin) -> Budget:
    """A fresh budget for one input: a file on disk (its size) or bytes in memory."""
    if isinstance(path_or_data, (bytes, bytearray, memoryview)):
        return Budget(origin, len(path_or_data))
    try:
        return Budget(origin, os.path.getsize(path_or_data))
    except OSError:
        return Budget(origin, 1)


def _read_metered(
    stream: BinaryIO, budget: Budget, *, packed: int | None, member: str | None
) -> bytes:
    out = io.BytesIO()
    total = 0
    while True:
        block = stream.read(min(_READ, budget.remaining + 1))
        if not block:
            break
        total += len(block)
        budget.take(len(block), member)
        if packed and total > RATIO_GRACE and total > MAX_RATIO * packed:
            raise budget.refuse(
                f"{printable(member or 'the data')} unpacks to more than {MAX_RATIO} times its packed "
                f"size ({packed:,} bytes)"
            )
        out.write(block)
    return out.getvalue()


def decompress(
    data_or_path: bytes | str, fmt: str, origin: Origin, budget: Budget | None = None
) -> bytes:
    """The bytes inside a .gz/.bz2/.xz file (InputError when corrupt or truncated), counted
    against ``budget`` (a new one for this file when None)."""
    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[fmt]
    source: object = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    packed = (
        len(data_or_path) if isinstance(data_or_path, bytes) else os.path.getsize(data_or_path)  # type: ignore[arg-type]
    )
    budget = budget or budget_for(data_or_path, origin)
    try:
        with opener(source) as stream:  # type: ignore[operator]
            return _read_metered(stream, budget, packed=packed, member=origin.member)
    except EOFError:
        raise origin.error(f"the {fmt} data is truncated (ends before its end marker)") from None
    except (OSError, zlib.error, lzma.LZMAError, ValueError) as err:
        raise origin.error(f"corrupt {fmt} data ({err})") from None


def iter_zip(
    data_or_path: bytes | str, origin: Origin, budget: Budget | None = None
) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(member name, bytes or None, why skipped) for each file in a zip, sorted by name;
    what they unpack to is counted against ``budget`` (a new one for this file when None)."""
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile as err:
        raise origin.error(f"not a readable zip archive ({err}); it may be truncated") from None
    except (OSError, ValueError, EOFError) as err:
        raise origin.error(f"not a readable zip archive ({err})") from None
    budget = budget or budget_for(data_or_path, origin)
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise origin.error(f"holds {len(infos):,} files; more than {MAX_MEMBERS:,} refused")
        declared = sum(i.file_size for i in infos)
        if declared > budget.remaining:
            raise budget.refuse(f"declares {declared:,} bytes unpacked")
        for info in sorted(infos, key=lambda i: i.filename):
            name = info.filename
            if info.flag_bits & 0x1:
                yield name, None, "encrypted; skipped"
                continue
            if info.file_size > RATIO_GRACE and info.file_size > MAX_RATIO * max(
                1, info.compress_size
            ):
                raise budget.refuse(
                    f"{printable(name)} unpacks {info.file_size:,} bytes from {info.compress_size:,}"
                )
            try:
                with archive.open(info) as stream:
                    data = _read_metered(stream, budget, packed=info.compress_size, member=name)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as err:
                yield name, None, f"unreadable zip member ({err}); skipped"
                continue
            yield name, data, None


def count_members(data_or_path: bytes | str, wanted) -> int:  # type: ignore[no-untyped-def]
    """How many files of a zip ``wanted(name)`` is true for, from its central directory
    alone (nothing is unpacked); 0 when it cannot be read (:func:`iter_zip` says why)."""
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    try:
        with zipfile.ZipFile(source) as archive:
            return sum(1 for i in archive.infolist() if not i.is_dir() and wanted(i.filename))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return 0


def iter_tar(
    data_or_path: bytes | str, origin: Origin, budget: Budget | None = None
) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(member name, bytes or None, why skipped) for each regular file in a tar(.gz/.bz2/.xz),
    counted against ``budget`` (a new one for this file when None)."""
    budget = budget or budget_for(data_or_path, origin)
    try:
        if isinstance(data_or_path, bytes):
            archive = tarfile.open(fileobj=io.BytesIO(data_or_path), mode="r:*")
        else:
            archive = tarfile.open(data_or_path, mode="r:*")
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as err:
        raise origin.error(f"not a readable tar archive ({err})") from None
    members: list[tuple[str, bytes | None, str | None]] = []
    with archive:
        try:
            for info in archive:
                if info.isdir():
                    continue
                if not info.isfile():
                    kind = "link" if info.issym() or info.islnk() else "device, pipe or other"
                    members.append((info.name, None, f"a {kind} entry, not a file; skipped"))
                    continue
                if len(members) >= MAX_MEMBERS:
                    raise origin.error(f"holds more than {MAX_MEMBERS:,} files; refused")
                budget.take(info.size, info.name)
                stream = archive.extractfile(info)
                if stream is None:
                    continue
                members.append((info.name, stream.read(), None))
        except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as err:
            if not members:
                raise origin.error(f"truncated or corrupt tar archive ({err})") from None
            members.append(
                (
                    "",
                    None,
                    f"the archive is truncated or corrupt after {printable(members[-1][0])} ({err}); "
                    "the rest skipped",
                )
            )
    members.sort(key=lambda m: (m[0] == "", m[0]))
    yield from members
