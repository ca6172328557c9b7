"""load_collection across files, folders and archives; progress, cancel, the demo collection."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from guiapp.core import paths
from guiapp.core.errors import Cancelled, InputError
from guiapp.core.io import (
    LoadResult,
    inspect_table,
    iter_collection_chunks,
    load_collection,
    load_messages,
)
from guiapp.core.messages import COLUMNS

FIX = Path(__file__).resolve().parents[1] / "fixtures"
SMS = FIX / "sms" / "SMSSpamCollection_sample.tsv"
TWEETS = FIX / "tweets" / "tweets.jsonl"
MBOX = FIX / "email" / "spamassassin.mbox"


def test_several_inputs_concatenate_in_order():
    result = load_collection([SMS, TWEETS, MBOX])
    m = result.messages
    parts = [load_messages(p) for p in (SMS, TWEETS, MBOX)]
    assert len(m) == sum(len(p) for p in parts)
    assert m.index.equals(pd.RangeIndex(len(m))) and list(m.columns) == list(COLUMNS)
    assert m["text"].tolist() == [t for p in parts for t in p["text"]]
    assert result.files == [str(SMS), str(TWEETS), str(MBOX)]
    assert m["kind"].tolist() == ["sms"] * 40 + ["tweet"] * 24 + ["email"] * 40
    # Extra columns are the union; rows from files without them are NA.
    assert list(result.extra.columns) == ["label", "text", "id", "sentiment"]
    assert result.extra["sentiment"].iloc[:40].isna().all()
    assert result.extra["sentiment"].iloc[40:64].notna().all()
    assert len(result.extra) == len(m)


def test_folder_walk_sorted_with_members(tmp_path):
    folder = tmp_path / "mixed"
    (folder / "b").mkdir(parents=True)
    shutil.copy(SMS, folder / "b" / "sms.tsv")
    shutil.copy(TWEETS, folder / "a.jsonl")
    shutil.copy(FIX / "email" / "single.eml", folder / "c.eml")
    (folder / ".hidden.csv").write_text("not read")
    (folder / "README.md").write_text("# about this folder")
    result = load_collection(folder)
    members = [s.split("::", 1)[1] for s in result.messages["source"]]
    assert members == ["a.jsonl"] * 24 + ["b/sms.tsv"] * 40 + ["c.eml"]
    assert result.files == [f"{folder}::a.jsonl", f"{folder}::b/sms.tsv", f"{folder}::c.eml"]


def test_folder_with_an_unreadable_file(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    shutil.copy(SMS, folder / "ok.tsv")
    (folder / "broken.json").write_text("[{")
    result = load_collection(folder)
    assert len(result.messages) == 40
    [problem] = result.problems
    assert problem.location.file == str(folder) and problem.location.member == "broken.json"
    assert "file skipped" in problem.reason


def test_zip_and_tar_archives(tmp_path):
    members = {
        "sms.tsv": SMS.read_bytes(),
        "mail/one.eml": (FIX / "email" / "single.eml").read_bytes(),
    }
    zpath = tmp_path / "bundle.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    tpath = tmp_path / "bundle.tar.gz"
    with tarfile.open(tpath, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    for path in (zpath, tpath):
        m = load_messages(path)
        assert len(m) == 41
        assert m["source"].iloc[0] == f"{path}::mail/one.eml"
        assert m["source"].iloc[1] == f"{path}::sms.tsv"


def test_gzipped_mbox_and_jsonl(tmp_path):
    for src in (MBOX, TWEETS):
        path = tmp_path / (src.name + ".gz")
        path.write_bytes(gzip.compress(src.read_bytes()))
        assert load_messages(path)["text"].tolist() == load_messages(src)["text"].tolist()


def test_parquet(tmp_path):
    frame = pd.DataFrame({"text": load_messages(SMS)["text"], "spam": ["x"] * 40, "n": range(40)})
    frame["spam"] = load_collection(SMS).extra["label"]
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    result = load_collection(path)
    assert result.messages["text"].tolist() == frame["text"].tolist()
    assert result.messages["user_spam"].tolist() == [int(v == "spam") for v in frame["spam"]]
    assert result.extra["n"].tolist() == [str(i) for i in range(40)]
    chunks = list(iter_collection_chunks(path, chunksize=16))
    assert [len(c.messages) for c in chunks] == [16, 16, 8]
    assert inspect_table(path).text_column == "text"


def test_progress_and_cancel():
    seen: list[tuple[int, int]] = []
    load_collection([SMS, MBOX], on_progress=lambda d, t, s: seen.append((d, t)))
    assert seen and seen[-1] == (1000, 1000)
    assert all(0 <= d <= t for d, t in seen if t)
    with pytest.raises(Cancelled):
        load_collection([SMS, MBOX], stop_requested=lambda: True)


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_collection(tmp_path / "nope.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no files"):
        load_collection(tmp_path / "empty")


def test_inspect_table_refuses_mail():
    with pytest.raises(InputError, match="not a table"):
        inspect_table(MBOX)


def test_demo_collection_loads_whole():
    result = load_collection(paths.demo_collection())
    assert isinstance(result, LoadResult) and not result.problems
    m = result.messages
    assert m["kind"].value_counts().to_dict() == {"sms": 150, "tweet": 150, "email": 100}
    assert (m["text"].str.len() > 0).all()
    assert 0 < (m["user_spam"] != -1).sum() < 20  # a handful labelled, so predictions show
    assert sorted(s.split("::")[1] for s in result.files) == [
        "emails.mbox",
        "sms.csv",
        "tweets.jsonl",
    ]


def test_fifo_is_never_opened(tmp_path):
    import os

    folder = tmp_path / "with_fifo"
    folder.mkdir()
    shutil.copy(SMS, folder / "ok.tsv")
    os.mkfifo(folder / "pipe.csv")
    assert len(load_messages(folder)) == 40  # would block forever if the pipe were opened
    with pytest.raises(InputError, match="not a regular file"):
        load_collection(folder / "pipe.csv")


def test_problems_are_capped_per_file(tmp_path):
    path = tmp_path / "many_bad.jsonl"
    good = '{"text": "fine"}\n'
    path.write_text(good + "{bad\n" * 1000)
    result = load_collection(path)
    assert len(result.messages) == 1
    assert len(result.problems) <= 202
    assert "more" in result.problems[-1].reason


def test_ambiguous_table_in_a_folder_asks_and_text_column_resolves(tmp_path):
    from guiapp.core.io import AmbiguousTextColumn

    folder = tmp_path / "f"
    folder.mkdir()
    shutil.copy(SMS, folder / "a_sms.tsv")
    shutil.copy(FIX / "qt" / "two_text_columns.csv", folder / "b_pairs.csv")
    with pytest.raises(AmbiguousTextColumn) as info:
        load_collection(folder)
    assert info.value.file == str(folder / "b_pairs.csv")  # inspect_table() can open it
    assert inspect_table(info.value.file).text_candidates
    result = load_collection(folder, text_column="reply")
    m = result.messages
    assert len(m) == 80 and m["text"].iloc[:40].tolist() == load_messages(SMS)["text"].tolist()
    assert [p.location.member for p in result.problems] == ["a_sms.tsv"]  # guessed there
