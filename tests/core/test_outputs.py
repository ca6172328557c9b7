"""-o never destroys an input nor replaces a pipe, a device or a folder (core.outputs)."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from guiapp.cli import main
from guiapp.core.collection import Collection
from guiapp.core.errors import ExportError
from guiapp.core.export import TableWriter, export_csv
from guiapp.core.messages import make_frame
from guiapp.core.outputs import check_output

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MBOX = FIXTURES / "email" / "spamassassin.mbox"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mbox(tmp_path) -> Path:
    copy = tmp_path / "mail.mbox"
    copy.write_bytes(MBOX.read_bytes())
    return copy


def refused(capsys, argv, path: Path | str, words: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"triage: {Path(path)}: ") and words in lines[0], err
    return lines[0]


def test_classify_refuses_to_write_over_its_input_by_any_name(tmp_path, mbox, capsys, monkeypatch):
    before = digest(mbox)
    link = tmp_path / "link.csv"
    link.symlink_to(mbox)
    hard = tmp_path / "hard.csv"
    os.link(mbox, hard)
    monkeypatch.chdir(tmp_path)
    for output in (mbox, "mail.mbox", "./mail.mbox", link, hard):
        refused(capsys, ["classify", str(mbox), "-o", str(output), "--quiet"], output, "inputs")
    # The input given as a relative path, the output through the link.
    refused(capsys, ["classify", "mail.mbox", "-o", str(link), "--quiet"], link, "inputs")
    assert digest(mbox) == before and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.csv", "link.csv", "mail.mbox"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_classify_refuses_a_fifo_and_leaves_it_a_fifo(tmp_path, mbox, capsys):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    refused(capsys, ["classify", str(mbox), "-o", str(fifo), "--quiet"], fifo, "named pipe")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX devices")
@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_classify_refuses_a_device(mbox, capsys, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    refused(capsys, ["classify", str(mbox), "-o", device, "--quiet"], device, "device")
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_classify_refuses_a_folder(tmp_path, mbox, capsys):
    refused(capsys, ["classify", str(mbox), "-o", str(tmp_path), "--quiet"], tmp_path, "folder")


def test_train_out_must_be_a_folder_and_never_an_input(tmp_path, capsys):
    labelled = tmp_path / "sms.csv"
    labelled.write_bytes((FIXTURES / "sms" / "sms_labelled.csv").read_bytes())
    before = digest(labelled)
    argv = ["train", "--spam", str(labelled), "--out", str(labelled), "--quiet"]
    refused(capsys, argv, labelled, "not a folder")
    assert digest(labelled) == before


def test_every_table_writer_checks_its_target(tmp_path, mbox):
    schema = pa.schema([("text", pa.string())])
    with pytest.raises(ExportError, match="is one of the inputs"):
        TableWriter(mbox, schema, inputs=[mbox]).__enter__()
    with pytest.raises(ExportError, match="is a folder"):
        TableWriter(tmp_path, schema).__enter__()
    assert list(tmp_path.iterdir()) == [mbox]  # no temporary left behind
    # A new file, and one that is not an input, are written.
    out = tmp_path / "new.csv"
    with TableWriter(out, schema, inputs=[mbox]) as writer:
        writer.write(pa.table({"text": ["a"]}))
    check_output(out, [mbox])
    assert out.read_text("utf-8").splitlines() == ['"text"', '"a"']


def test_an_export_never_overwrites_its_project_file(tmp_path):
    project = tmp_path / "work.triage"
    project.write_bytes(b"SQLite format 3\x00" + bytes(100))
    before = digest(project)
    collection = Collection(make_frame({"text": ["one", "two"]}))
    with pytest.raises(ExportError, match="is one of the inputs"):
        export_csv(collection, project, inputs=[project])
    assert digest(project) == before
    assert export_csv(collection, tmp_path / "out.csv", inputs=[project]) == 2
