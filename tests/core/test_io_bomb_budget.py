"""One decompression budget per input, across every level of nesting (io.archive.Budget).

Generated nested archives, a few KB on disk each: a .zip.gz holding a zip of .gz members,
and a stored zip of 20 .gz members. Each member alone is within the per-member ratio; only
a budget for the whole file, counted at every level together, refuses them -- and then
before memory grows past that budget.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import tracemalloc
import zipfile

import pytest

from guiapp.core.errors import InputError
from guiapp.core.io import archive, load_collection

LINE = b"text\nthe same short message again and again\n"
GRACE = 1024**2


@pytest.fixture(autouse=True)
def _small_grace(monkeypatch):
    """A 1 MB grace instead of 8 MB: the same guard on inputs eight times smaller."""
    monkeypatch.setattr(archive, "RATIO_GRACE", GRACE)


def gz_of(n_bytes: int) -> bytes:
    """A gzip of ``n_bytes`` of a CSV whose one row repeats (about 1,000:1)."""
    body = LINE + b"again and again and again\n" * (n_bytes // 26)
    return gzip.compress(body, compresslevel=9)


def zip_of(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def refused_within(path, budget_bytes: int) -> str:
    """Load ``path``: it must be refused as a bomb, with a peak of traced memory bounded by
    a few times what the budget lets it unpack."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            load_collection(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(caught.value, archive.DecompressionBomb)
    assert peak < 4 * budget_bytes + 16 * 1024**2, f"peak {peak:,} bytes"
    message = str(caught.value)
    assert message.startswith(str(path)) and "zip bomb" in message
    assert len(message) < 400
    return message


def test_a_zip_gz_of_gz_members_is_refused_whole(tmp_path):
    inner = zip_of({f"part{i:02}.csv.gz": gz_of(GRACE // 4) for i in range(12)})
    path = tmp_path / "nested.zip.gz"
    path.write_bytes(gzip.compress(inner, compresslevel=9))
    size = path.stat().st_size
    assert size < 200_000
    # No single member passes the per-member guard (each a quarter of the grace): only the
    # file's budget counts the three graces they add up to.
    budget = archive.Budget(archive.Origin(str(path)), size)
    assert budget.limit == GRACE
    refused_within(path, budget.limit)


def test_a_stored_zip_of_20_gz_members_is_refused_whole(tmp_path):
    members = {f"day{i:02}.csv.gz": gz_of(GRACE // 4) for i in range(20)}
    path = tmp_path / "stored.zip"
    path.write_bytes(zip_of(members, zipfile.ZIP_STORED))
    message = refused_within(path, GRACE)
    assert "every level of nesting" in message


def test_a_tar_of_gz_members_shares_the_budget(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for i in range(30):
            data = gz_of(GRACE // 2)
            info = tarfile.TarInfo(f"m{i:02}.csv.gz")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "members.tar"
    path.write_bytes(buffer.getvalue())
    refused_within(path, GRACE)


def test_within_the_budget_nested_archives_still_load(tmp_path):
    members = {f"p{i}.csv.gz": gzip.compress(b"text\n" + b"see you soon\n" * 3) for i in range(3)}
    path = tmp_path / "fine.zip.gz"
    path.write_bytes(gzip.compress(zip_of(members)))
    result = load_collection(path)
    assert len(result.messages) == 9 and not result.problems


def test_the_budget_counts_every_level_and_names_the_member():
    origin = archive.Origin("input.zip")
    budget = archive.Budget(origin, 1000, grace=10_000)
    assert budget.limit == 200_000
    budget.take(150_000, "a.gz")
    with pytest.raises(archive.DecompressionBomb, match=r"at b\.gz"):
        budget.take(60_000, "b.gz")
