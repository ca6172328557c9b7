"""The detail pane: HTML mail rendered safely, plain-text and source views, headers on
request, quoted replies kept but greyed out, "no sentiment" where nothing is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument

from guiapp.core.collection import Collection
from guiapp.core.extraction import QUOTE, segments
from guiapp.core.io import load_collection
from guiapp.qt import style
from guiapp.qt.detail_pane import MESSAGE, PLAIN, SOURCE, DetailPane

MBOX = Path(__file__).parent.parent / "fixtures" / "email" / "spamassassin.mbox"


@pytest.fixture
def mail(tmp_path) -> Collection:
    path = tmp_path / "mail.mbox"
    shutil.copy(MBOX, path)
    return Collection.from_load(load_collection(str(path)))


def _row(collection: Collection, subject: str) -> int:
    return int(np.flatnonzero(collection.messages["subject"].str.startswith(subject))[0])


@pytest.fixture
def pane(qtbot):
    widget = DetailPane()
    qtbot.addWidget(widget)
    widget.resize(520, 640)
    return widget


def test_html_mail_is_rendered_without_markup_or_remote_content(pane, mail):
    row = _row(mail, "FREE Cell Phone + $50 Cash Back!")  # an HTML mail with remote images
    pane.show_row(mail, row)
    shown = pane.text.toPlainText()
    assert "Free phone" in shown
    assert "<html" not in shown.lower() and "<img" not in shown.lower()
    original = pane.original()
    assert original is not None and "<img" in original.html.lower()
    # Every image the mail names resolves to nothing: nothing is fetched or shown.
    image = int(QTextDocument.ResourceType.ImageResource)
    for url in ("http://example.com/pixel.gif", "https://a.test/x.png", "cid:part1"):
        assert pane.text.loadResource(image, QUrl(url)) is None
    assert not pane.text.openLinks() and not pane.text.openExternalLinks()


def test_plain_text_source_and_headers(pane, mail):
    row = _row(mail, "Life Insurance - Why Pay More?")
    pane.show_row(mail, row)
    pane.set_mode(PLAIN)
    assert pane.mode == PLAIN
    plain = pane.text.toPlainText()
    assert "Save up to 70% on Life Insurance" in plain and "<" not in plain.split("\n")[0]
    pane.set_mode(SOURCE)
    source = pane.text.toPlainText()
    assert "Content-Type: text/html" in source and "<html>" in source.lower()
    assert "Received:" in source
    pane.set_mode(MESSAGE)
    assert "Received:" not in pane.text.toPlainText()
    pane.headers_button.setChecked(True)
    with_headers = pane.text.toPlainText()
    assert "Subject:" in with_headers and "Life Insurance - Why Pay More?" in with_headers
    assert "Save up to 70% on Life Insurance" in with_headers
    # The choice of view stays for the next message.
    other = _row(mail, "Re: [zzzzteana] Nothing like mama used")
    pane.show_row(mail, other)
    assert "Subject:" in pane.text.toPlainText()


def test_quoted_reply_is_shown_greyed_out(pane, mail):
    row = _row(mail, "Re: [zzzzteana] Nothing like mama used")
    stored = mail.messages["text"].iat[row]
    quoted = [s.text for s in segments(stored) if s.kind == QUOTE]
    assert quoted and any(len(q) > 20 for q in quoted)
    pane.show_row(mail, row)
    shown = pane.text.toPlainText()
    for text in quoted:
        assert text.strip() in shown  # kept visible
    assert style.MUTED_TEXT.lower() in pane.text.toHtml().lower()


def test_source_of_a_message_whose_file_is_gone(pane, mail, tmp_path):
    (tmp_path / "mail.mbox").unlink()
    row = _row(mail, "Life Insurance - Why Pay More?")
    pane.show_row(mail, row)
    pane.set_mode(SOURCE)
    assert "Save up to 70% on Life Insurance" in pane.text.toPlainText()
    pane.headers_button.setChecked(True)
    assert "not at hand" in pane.text.toPlainText()


def test_no_sentiment_is_said(pane, mail):
    row = _row(mail, "Re: [zzzzteana] Nothing like mama used")
    prob = np.full((len(mail), 3), 0.2, dtype=np.float32)
    prob[row] = np.nan
    mail.set_predictions("sentiment", prob, "sentiment-test")
    pane.show_row(mail, row)
    assert "no sentiment" in pane.header.text()
    pane.show_row(mail, (row + 1) % len(mail))
    assert "no sentiment" not in pane.header.text()


def test_screenshot(pane, mail, tmp_path):
    pane.show_row(mail, _row(mail, "Life Insurance - Why Pay More?"))
    pane.show()
    image = pane.grab().toImage()
    assert image.width() == pane.width() and image.height() == pane.height()
    assert len({image.pixel(x, y) for x in range(0, image.width(), 7) for y in (60, 300)}) > 2
