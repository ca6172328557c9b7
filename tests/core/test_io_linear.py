"""Every parser linear in its input, or the input refused with the reason.

Each test times the same parser on an input and on one four times its size, the best of
three runs each, and asserts the ratio: a linear parser takes about four times as long, a
quadratic one sixteen (the factor of four, not two, keeps the two apart on a loaded machine,
where one timing can be off by half). (Before: a Subject of 200,000 RFC 2047 words took 139 s, HTML of 20,000
``<a `` 76 s, ``<![CDATA[`` x100k 40 s, a zip of 100,000 tiny files over 200 s.) No wall
time is asserted, only ratios, so a loaded machine slows both sizes alike.
"""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from guiapp.core.errors import InputError
from guiapp.core.io import archive, dispatch, load_collection, mail

GROWTH = 4
RATIO = 8.0  # linear: 4; quadratic: 16


def best_time(fn, arg) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return min(times)


def assert_linear(make, run, n: int) -> None:
    small, large = make(n), make(GROWTH * n)
    run(small)  # warm: first-call imports and caches are not the parser
    t1, t2 = best_time(run, small), best_time(run, large)
    assert t2 / t1 < RATIO, f"t({GROWTH}n)/t(n) = {t2:.3f} s / {t1:.3f} s = {t2 / t1:.1f}"


def message(headers: str, body: str = "hello") -> bytes:
    return f"From: someone@example.org\n{headers}\n\n{body}\n".encode()


def test_rfc2047_subjects_decode_in_linear_time():
    word = "=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?="

    def make(n):
        return message("Subject: " + " ".join([word] * n))

    fields = mail.parse_message(make(3))
    assert fields.subject == "Grüße aus KölnGrüße aus KölnGrüße aus Köln"
    assert_linear(make, mail.parse_message, 10_000)


def test_unclosed_encoded_words_decode_in_linear_time():
    assert_linear(lambda n: message("Subject: " + "=?utf-8?q?x " * n), mail.parse_message, 10_000)


@pytest.mark.parametrize(
    "piece", ["<a ", "<![CDATA[", "<!--", "</b", "<!doctype"], ids=lambda p: p.strip()
)
def test_html_bodies_convert_in_linear_time(piece):
    def make(n):
        return "<p>Dear customer,</p>" + piece * n

    assert mail.html_to_text(make(2)).startswith("Dear customer,")
    assert_linear(make, mail.html_to_text, 20_000)


def test_the_text_before_unclosed_markup_is_kept():
    # An HTML5 parser (guiapp.core.extraction) reads an unfinished tag, comment or CDATA
    # section at the end as markup, as browsers do: everything written before it stays.
    assert mail.html_to_text("<b>3 < 4</b> and <a ") == "3 < 4 and"
    assert mail.html_to_text("ok <![CDATA[x]]> then <![CDATA[") == "ok then"
    assert mail.html_to_text("<!-- a --> b <!-- c") == "b"


def zip_of(names_and_data) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in names_and_data:
            z.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_of_many_mail_messages_reads_in_linear_time(tmp_path):
    def make(n):
        path = tmp_path / f"mail{n}.zip"
        msgs = ((f"m{i:06}.eml", message(f"Subject: note {i}", f"body {i}")) for i in range(n))
        path.write_bytes(zip_of(msgs))
        return path

    assert len(load_collection(make(5)).messages) == 5
    assert_linear(make, load_collection, 500)


def test_a_zip_of_too_many_tables_is_refused_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(dispatch, "MAX_TABLE_MEMBERS", 40)
    named = tmp_path / "named.zip"
    named.write_bytes(zip_of((f"t{i:05}.csv", f"text\nrow {i}\n") for i in range(100_000)))
    # By their names, from the zip's directory: before reading any of them.
    with monkeypatch.context() as m:
        m.setattr(archive, "iter_zip", lambda *a, **k: pytest.fail("a member was read"))
        with pytest.raises(InputError, match=r"holds 100,000 table or text files; at most 40"):
            load_collection(named)
    unnamed = tmp_path / "unnamed.zip"
    unnamed.write_bytes(zip_of((f"t{i:05}", f"text\nrow {i}\n") for i in range(100)))
    with pytest.raises(InputError, match=r"holds more than 40 table or text files"):
        load_collection(unnamed)
    fine = tmp_path / "fine.zip"
    fine.write_bytes(zip_of((f"t{i:05}.csv", f"text\nrow {i}\n") for i in range(40)))
    assert len(load_collection(fine).messages) == 40
