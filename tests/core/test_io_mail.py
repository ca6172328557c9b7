"""Mail importer: SpamAssassin raw messages as a folder, an mbox, .eml, Maildir."""

from __future__ import annotations

import email
import email.policy
import email.utils
from pathlib import Path

import pytest

from guiapp.core.extraction import html_to_text
from guiapp.core.io import iter_collection_chunks, load_collection
from guiapp.core.io import mail as mail_module
from guiapp.core.io.mail import parse_message, split_mbox
from guiapp.core.messages import content_id

EM = Path(__file__).resolve().parents[1] / "fixtures" / "email"
SA = EM / "spamassassin"
FILES = sorted(p for p in SA.rglob("*") if p.is_file())


def _reference(raw: bytes) -> email.message.EmailMessage:
    """The same message parsed by the stdlib's modern policy, as an independent check."""
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_folder_of_raw_messages():
    result = load_collection(SA)
    m = result.messages
    assert len(m) == len(FILES) == 40
    assert m["source"].tolist() == [f"{SA}::{p.relative_to(SA).as_posix()}" for p in FILES]
    assert set(m["kind"]) == {"email"}
    assert (m["text"].str.len() > 0).all()
    for row, path in zip(m.itertuples(), FILES, strict=True):
        ref = _reference(path.read_bytes())
        assert row.subject == " ".join(str(ref["subject"] or "").split())
        if ref["message-id"]:
            assert row.id == str(ref["message-id"]).strip()
        else:
            assert row.id == content_id(row.subject, row.text)
        if ref["date"] is not None and ref["date"].datetime is not None:
            assert row.date == ref["date"].datetime.isoformat()
    assert (m["user_spam"] == -1).all()
    assert len(result.extra.columns) == 0 and len(result.extra) == 40


def test_mbox_equals_the_folder_in_file_order():
    folder = load_collection(SA).messages
    mbox = load_collection(EM / "spamassassin.mbox")
    m = mbox.messages
    assert m["source"].tolist() == [f"{EM / 'spamassassin.mbox'}::{i}" for i in range(1, 41)]
    # The mbox holds spam-1 first, then easy-ham-1 (the folder sorts easy-ham-1 first).
    by_id = dict(zip(folder["id"], folder["text"], strict=True))
    assert {i: by_id[i] for i in m["id"]} == dict(zip(m["id"], m["text"], strict=True))
    assert mbox.files == [str(EM / "spamassassin.mbox")]


def test_mbox_parallel_path_matches_serial(monkeypatch, tmp_path):
    serial = load_collection(EM / "spamassassin.mbox").messages
    monkeypatch.setattr(mail_module, "PARALLEL_MIN_MESSAGES", 10)
    monkeypatch.setattr(mail_module, "CHUNK_MESSAGES", 7)
    parallel = load_collection(EM / "spamassassin.mbox").messages
    assert parallel.equals(serial)


def test_html_spam_becomes_readable_text():
    html_files = [p for p in FILES if b"text/html" in p.read_bytes().split(b"\n\n", 1)[0].lower()]
    assert html_files
    m = load_collection(html_files[0]).messages.iloc[0]
    assert "<" not in m["text"] or "</" not in m["text"]
    assert "Life Insurance" in m["text"] or len(m["text"]) > 20


def test_gb2312_message_decodes():
    path = next(p for p in FILES if p.name.startswith("00040."))
    text = load_collection(path).messages["text"].iloc[0]
    ref = _reference(path.read_bytes()).get_body(("plain",)).get_content()
    assert text.strip() == ref.strip()


def test_single_eml_and_maildir():
    m = load_collection(EM / "single.eml").messages
    assert len(m) == 1 and m["source"].iloc[0] == str(EM / "single.eml")
    result = load_collection(EM / "maildir")
    members = [s.split("::", 1)[1] for s in result.messages["source"]]
    assert all(s.startswith(("cur/", "new/")) for s in members) and len(members) == 5


def test_mbox_split_ignores_unescaped_from_in_body():
    body = b"From: a@b\nSubject: x\n\nHello\nFrom here on, text.\n"
    mbox = (
        b"From a@b Thu Jan  1 00:00:00 2002\n"
        + body
        + b"\nFrom b@c Fri Jan  2 00:00:00 2002\n"
        + body
    )
    assert len(split_mbox(mbox)) == 2


def test_escaped_from_lines_are_restored(tmp_path):
    path = tmp_path / "x.mbox"
    path.write_bytes(
        b"From a@b Thu Jan  1 00:00:00 2002\nFrom: a@b\nSubject: s\n\nline one\n>From the top\n"
    )
    assert load_collection(path).messages["text"].iloc[0] == "line one\nFrom the top"


def test_html_to_text():
    html = "<html><head><title>t</title><style>a{}</style></head><body><p>One &amp; two</p><script>x()</script><div>three<br>four</div></body></html>"
    assert html_to_text(html) == "One & two\n\nthree\nfour"  # head, style, script dropped


def test_parse_message_keeps_headers():
    raw = (
        b"From: =?utf-8?q?Ren=C3=A9?= <r@example.org>\nSubject: =?iso-8859-1?q?caf=E9?=\n"
        b"Date: Thu, 22 Aug 2002 18:26:25 +0700\nMessage-ID: <x1@example.org>\n\nbody\n"
    )
    fields = parse_message(raw)
    assert fields.sender == "René <r@example.org>" and fields.subject == "café"
    assert fields.date == "2002-08-22T18:26:25+07:00" and fields.id == "<x1@example.org>"
    assert fields.text == "body"


def test_mbox_chunks(tmp_path):
    chunks = list(iter_collection_chunks(EM / "spamassassin.mbox", chunksize=15))
    assert [len(c.messages) for c in chunks] == [15, 15, 10]
    whole = load_collection(EM / "spamassassin.mbox").messages
    assert [t for c in chunks for t in c.messages["text"]] == whole["text"].tolist()


@pytest.mark.parametrize("name", [p.name for p in FILES[:3]])
def test_each_message_alone(name):
    path = next(p for p in FILES if p.name == name)
    m = load_collection(path).messages
    assert len(m) == 1 and m["source"].iloc[0] == str(path)


def test_kind_keyword_applies_to_mail():
    assert set(load_collection(EM / "single.eml", kind="text").messages["kind"]) == {"text"}
    assert set(load_collection(EM / "spamassassin.mbox", kind="text").messages["kind"]) == {"text"}


def test_undeclared_8bit_body_uses_the_charset_of_its_encoded_subject():
    """The demo's SpamAssassin message 12: a Shift-JIS body, "7bit" and no charset, under
    an ISO-2022-JP subject -- read as Japanese, not cp1252 mojibake."""
    from guiapp.core.paths import demo_collection

    messages = load_collection(demo_collection() / "emails.mbox").messages
    row = messages[messages["source"].str.endswith("emails.mbox::12")].iloc[0]
    assert row["subject"] == "しじみともものコラボレーション"
    assert row["text"].startswith("ももがはじけてぶどうがゆれる")


def test_split_mbox_without_from_lines_finds_nothing():
    assert split_mbox(b"Subject: no envelope\n\nbody\n") == []
    assert split_mbox(b"") == []


def test_original_bytes_of_a_message_by_its_source(tmp_path):
    from guiapp.core.io.mail import original_bytes, read_original

    mbox = tmp_path / "mail.mbox"
    mbox.write_bytes((EM / "spamassassin.mbox").read_bytes())
    loaded = load_collection(str(mbox))
    source = loaded.messages["source"].iat[12]
    raw = original_bytes(source)
    assert raw is not None
    original = read_original(raw)
    assert original is not None
    assert dict(original.headers)["Subject"] == loaded.messages["subject"].iat[12]
    assert original.html is not None and "<img" in original.html.lower()
    eml = original_bytes(str(EM / "single.eml"))
    assert eml is not None and read_original(eml) is not None
    # Gone, out of range, a table row or an archive member: nothing to show but the text.
    assert original_bytes(f"{mbox}::{len(loaded.messages) + 5}") is None
    assert original_bytes(str(tmp_path / "gone.eml")) is None
    csv = tmp_path / "mail.csv"
    csv.write_text("text\nhello\n")
    assert original_bytes(str(csv)) is None
    assert original_bytes(f"{tmp_path / 'a.zip'}::inner/x.eml") is None
