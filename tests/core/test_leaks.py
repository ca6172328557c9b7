"""Nothing from an input reaches a spreadsheet, a terminal or a message unsanitised.

Header names are escaped like the cells; names with terminal escapes are printed escaped;
a 200,000-column CSV gives a short error; NULs in exported cells are reported; what a
folder walk or a tar skips is listed; a NUL in a charset name falls back, not rejects.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
import zipfile

import pytest

from guiapp.cli import main
from guiapp.core.errors import InputError, name_list, printable
from guiapp.core.export import neutralise_cell
from guiapp.core.io import load_collection, mail

ESC = "\x1b]0;pwned\x07\x1b[2J"


def classify(capsys, *argv) -> tuple[int, str]:
    code = main(["classify", *map(str, argv), "--quiet"])
    return code, capsys.readouterr().err


def test_header_names_follow_the_cells_escaping(tmp_path, capsys):
    names = ["=HYPERLINK(1)", "@SUM(A1)", "-2+3", "+x", "plain"]
    source = tmp_path / "in.csv"
    with open(source, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", *names])
        w.writerow(["Meet me at noon by the fountain", *names])  # the same strings as cells
    for flag, expect in (([], str), (["--spreadsheet-safe"], neutralise_cell)):
        out = tmp_path / f"out{len(flag)}.csv"
        code, err = classify(capsys, source, "-o", out, "--text-column", "text", *flag)
        assert code == 0, err
        with open(out, newline="", encoding="utf-8") as fh:
            header, row = list(csv.reader(fh))[:2]
        tail = header[-len(names) :]
        assert tail == [expect(n) for n in names]
        assert tail == row[-len(names) :]  # header and cells agree, whichever the choice


def test_names_with_terminal_escapes_are_printed_escaped(tmp_path, capsys):
    bad = tmp_path / f"report{ESC}.csv"
    bad.write_bytes(b"")
    code, err = classify(capsys, bad, "-o", tmp_path / "out.csv")
    assert code == 2 and "\x1b" not in err and "\x07" not in err
    assert "report\\x1b]0;pwned\\x07\\x1b[2J.csv" in err
    archive = tmp_path / "mail.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"evil{ESC}.json", "{not json")
        z.writestr("good.csv", "text\nSee you at the station\n")
    result = load_collection(archive)
    (problem,) = result.problems
    assert "\x1b" not in str(problem) and "evil\\x1b]0;pwned" in str(problem)
    assert printable("a\u202eb\udcff\n") == "a\\u202eb\\xff\\x0a"


def test_a_csv_of_200000_columns_gives_a_short_error(tmp_path, capsys):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(200_000)) + "\n" + "1," * 199_999 + "1\n")
    code, err = classify(capsys, path, "-o", tmp_path / "out.csv")
    assert code == 2 and len(err.splitlines()) == 1 and len(err) < 600, err[:600]
    assert "'c19' and 199,980 more" in err
    assert name_list(["x" * 500]) == "'" + "x" * 79 + "…'"


def test_an_exported_nul_is_reported(tmp_path, capsys):
    path = tmp_path / "nul.json"
    path.write_text(json.dumps([{"text": "before\x00after here"}, {"text": "clean text"}]))
    out = tmp_path / "out.csv"
    assert main(["classify", str(path), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "hold a NUL character" in err and "drops it" in err
    assert b"before\x00after" in out.read_bytes()  # the file itself is byte-exact


def test_a_folder_walk_counts_what_it_skips(tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "a.csv").write_text("text\nLunch at one?\n")
    (folder / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.csv")
    locked = folder / "locked"
    locked.mkdir()
    (locked / "b.csv").write_text("text\nhidden\n")
    locked.chmod(0)
    try:
        result = load_collection(folder)
    finally:
        locked.chmod(0o755)
    skipped = sorted(str(p) for p in result.problems)
    assert any("gone.csv: not a regular file" in p for p in skipped)
    if hasattr(os, "mkfifo"):
        assert any("pipe.csv: not a regular file" in p for p in skipped)
    if os.geteuid() != 0:  # root reads the folder anyway
        assert any("locked: a folder that cannot be read" in p for p in skipped)


def test_tar_links_and_devices_are_listed_as_skipped(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"text\nThe train is late again\n"
        info = tarfile.TarInfo("msgs.csv")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for name, kind in (("link.csv", tarfile.SYMTYPE), ("hard.csv", tarfile.LNKTYPE)):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = kind, "msgs.csv"
            tar.addfile(link)
        device = tarfile.TarInfo("null")
        device.type = tarfile.CHRTYPE
        tar.addfile(device)
    path = tmp_path / "bundle.tar"
    path.write_bytes(buffer.getvalue())
    result = load_collection(path)
    assert len(result.messages) == 1
    skipped = sorted(str(p) for p in result.problems)
    assert [s.split(", ")[1].split(":")[0] for s in skipped] == ["hard.csv", "link.csv", "null"]
    assert all("not a file; skipped" in s for s in skipped)


@pytest.mark.parametrize("transfer", ["8bit", "base64"])
def test_a_nul_in_a_charset_falls_back_instead_of_rejecting(transfer):
    body = "Caf\u00e9 at eight".encode()
    if transfer == "base64":
        import base64

        body = base64.b64encode(body)
    raw = (
        b"From: someone@example.org\nSubject: =?utf\x00-8?q?Caf=C3=A9?=\n"
        b'Content-Type: text/plain; charset="utf\x008"\n'
        + f"Content-Transfer-Encoding: {transfer}\n\n".encode()
        + body
        + b"\n"
    )
    fields = mail.parse_message(raw)
    assert fields.text == "Café at eight"
    with pytest.raises(InputError):
        mail.read_message(b"\x00" * 200, mail.Origin("x.eml"))
