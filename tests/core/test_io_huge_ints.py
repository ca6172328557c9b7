"""A JSON integer over Python's 4,300-digit limit skips its record, named, never a traceback.

Wherever it is: .json, .jsonl (read whole or streamed), tweets.js, inside a .gz or a zip
member -- and a zip member that is nothing but such records is skipped alone.
"""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from guiapp.core.errors import InputError
from guiapp.core.io import iter_collection_chunks, load_collection
from guiapp.core.io.json_ import INT_DIGITS

pytestmark = pytest.mark.skipif(not INT_DIGITS, reason="this Python has no int digit limit")

HUGE = "7" * (INT_DIGITS + 700)
GOOD = '{"text": "See you at the station at six", "id": 1}'
BAD = '{"text": "A record with a huge count", "count": HUGE}'.replace("HUGE", HUGE)
TWEET_GOOD = '{"tweet": {"full_text": "Lovely morning for a run", "id_str": "20"}}'
TWEET_BAD = '{"tweet": {"full_text": "so many likes", "id_str": "21", "favorite_count": -HUGE}}'
TWEET_BAD = TWEET_BAD.replace("HUGE", HUGE)
DIGITS = f"{len(HUGE):,} digits"


def texts(result) -> list[str]:
    return result.messages["text"].tolist()


def only_problem(result) -> str:
    assert len(result.problems) == 1, result.problems
    return str(result.problems[0])


def test_json_lines_skip_the_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(f"{GOOD}\n{BAD}\n{GOOD}\n", "utf-8")
    result = load_collection(path)
    assert len(texts(result)) == 2
    problem = only_problem(result)
    assert problem.startswith(f"{path}, line 2: ") and DIGITS in problem and "skipped" in problem
    chunks = list(iter_collection_chunks(path, chunksize=1))
    assert sum(len(c.messages) for c in chunks) == 2
    assert [str(p) for c in chunks for p in c.problems] == [problem]


def test_a_json_array_and_its_gzip_skip_the_record(tmp_path):
    data = f"[{GOOD}, {BAD}, {GOOD}]".encode()
    plain = tmp_path / "mixed.json"
    plain.write_bytes(data)
    packed = tmp_path / "mixed.json.gz"
    packed.write_bytes(gzip.compress(data))
    for path in (plain, packed):
        result = load_collection(path)
        assert len(texts(result)) == 2
        problem = only_problem(result)
        assert problem.startswith(f"{path}, message 2: ") and DIGITS in problem


def test_a_tweets_js_archive_keeps_the_other_tweets(tmp_path):
    path = tmp_path / "tweets.js"
    path.write_text(f"window.YTD.tweets.part0 = [{TWEET_BAD}, {TWEET_GOOD}]", "utf-8")
    result = load_collection(path)
    assert texts(result) == ["Lovely morning for a run"]
    assert only_problem(result).startswith(f"{path}, message 1: ")


def test_one_bad_zip_member_never_aborts_the_archive(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.json", f"[{BAD}]")
        archive.writestr("b.jsonl", f"{GOOD}\n{BAD}\n")
        archive.writestr("c.json", f"[{GOOD}]")
    path = tmp_path / "export.zip"
    path.write_bytes(buffer.getvalue())
    result = load_collection(path)
    assert len(texts(result)) == 2
    problems = sorted(str(p) for p in result.problems)
    assert len(problems) == 2
    assert (
        problems[0].startswith(f"{path}, a.json, message 1: every record")
        and DIGITS in (problems[0])
    )
    assert problems[1].startswith(f"{path}, b.jsonl, line 2: ")


def test_a_file_of_nothing_else_is_one_clear_error(tmp_path):
    path = tmp_path / "only.json"
    path.write_text(f"[{BAD}]", "utf-8")
    with pytest.raises(InputError, match=DIGITS) as caught:
        load_collection(path)
    assert caught.value.record == 1
