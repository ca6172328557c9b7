"""Compressed files and archives: .gz/.bz2/.xz of one file, .zip and .tar(.gz) of many.

Nothing is extracted to disk. Every decompression is metered while it runs (the sizes an
archive declares can lie): a member may not grow more than :data:`MAX_RATIO` times its
compressed size once past :data:`RATIO_GRACE`, and all of an archive together may not pass
:data:`MAX_TOTAL_BYTES` -- the zip-bomb guard.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from guiapp.core.io.base import Origin

MAX_TOTAL_BYTES = 4 * 1024**3  # everything unpacked from one archive / compressed file
MAX_RATIO = 200  # unpacked / packed, for members past RATIO_GRACE
RATIO_GRACE = 8 * 1024**2
MAX_MEMBERS = 200_000
_READ = 1 << 20


class _Budget:
    def __init__(self, origin: Origin, limit: int = MAX_TOTAL_BYTES):
        self.origin = origin
        self.limit = limit
        self.used = 0

    def take(self, n: int, member: str | None = None) -> None:
        self.used += n
        if self.used > self.limit:
            where = f" (at {member})" if member else ""
            raise self.origin.error(
                f"unpacks to more than {self.limit / 1024**3:.1f} GB{where}; refused as a "
                "possible zip bomb"
            )


def _read_metered(
    stream: BinaryIO, budget: _Budget, *, packed: int | None, member: str | None
) -> bytes:
    out = io.BytesIO()
    total = 0
    while True:
        block = stream.read(_READ)
        if not block:
            break
        total += len(block)
        budget.take(len(block), member)
        if packed and total > RATIO_GRACE and total > MAX_RATIO * packed:
            raise budget.origin.error(
                f"{member or 'the data'} unpacks to more than {MAX_RATIO} times its packed "
                f"size ({packed:,} bytes); refused as a possible zip bomb"
            )
        out.write(block)
    return out.getvalue()


def decompress(data_or_path: bytes | str, fmt: str, origin: Origin) -> bytes:
    """The bytes inside a .gz/.bz2/.xz file (InputError when corrupt or truncated)."""
    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[fmt]
    source: object = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    packed = len(data_or_path) if isinstance(data_or_path, bytes) else None
    if packed is None:
        import os

        packed = os.path.getsize(data_or_path)  # type: ignore[arg-type]
    try:
        with opener(source) as stream:  # type: ignore[operator]
            return _read_metered(stream, _Budget(origin), packed=packed, member=None)
    except EOFError:
        raise origin.error(f"the {fmt} data is truncated (ends before its end marker)") from None
    except (OSError, zlib.error, lzma.LZMAError, ValueError) as err:
        raise origin.error(f"corrupt {fmt} data ({err})") from None


def iter_zip(
    data_or_path: bytes | str, origin: Origin
) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(member name, bytes or None, why skipped) for each file in a zip, sorted by name."""
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile as err:
        raise origin.error(f"not a readable zip archive ({err}); it may be truncated") from None
    except (OSError, ValueError, EOFError) as err:
        raise origin.error(f"not a readable zip archive ({err})") from None
    budget = _Budget(origin)
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise origin.error(f"holds {len(infos):,} files; more than {MAX_MEMBERS:,} refused")
        declared = sum(i.file_size for i in infos)
        if declared > MAX_TOTAL_BYTES:
            raise origin.error(
                f"declares {declared / 1024**3:.1f} GB unpacked; refused as a possible zip bomb"
            )
        for info in sorted(infos, key=lambda i: i.filename):
            name = info.filename
            if info.flag_bits & 0x1:
                yield name, None, "encrypted; skipped"
                continue
            if info.file_size > RATIO_GRACE and info.file_size > MAX_RATIO * max(
                1, info.compress_size
            ):
                raise origin.error(
                    f"{name} unpacks {info.file_size:,} bytes from {info.compress_size:,}; "
                    "refused as a possible zip bomb"
                )
            try:
                with archive.open(info) as stream:
                    data = _read_metered(stream, budget, packed=info.compress_size, member=name)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as err:
                yield name, None, f"unreadable zip member ({err}); skipped"
                continue
            yield name, data, None


def iter_tar(
    data_or_path: bytes | str, origin: Origin
) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(member name, bytes or None, why skipped) for each regular file in a tar(.gz/.bz2/.xz)."""
    budget = _Budget(origin)
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
                if not info.isfile():
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
                    f"the archive is truncated or corrupt after {members[-1][0]} ({err}); the rest skipped",
                )
            )
    members.sort(key=lambda m: (m[0] == "", m[0]))
    yield from members
