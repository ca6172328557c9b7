"""The pane beside the table: everything about the selected message.

The message is shown as a person reads it (:mod:`guiapp.core.extraction`): HTML mail
rendered, with no remote content loaded and no link followed, quoted replies and
signatures greyed out but kept; "Plain text" shows the readable text, "Source" the message
as its file holds it, and "Headers" the mail's header lines.
"""

from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextOption
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QTextBrowser,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from guiapp.core.collection import Collection
from guiapp.core.export import source_name
from guiapp.core.extraction import (
    QUOTE,
    SIGNATURE,
    looks_like_html,
    readable_text,
    safe_html,
    segments,
)
from guiapp.core.io.mail import Original, original_bytes, read_original
from guiapp.core.messages import CLASSES, NO_LABEL
from guiapp.qt import style

MESSAGE, PLAIN, SOURCE = "message", "plain", "source"
MAX_HIGHLIGHTS = 2_000  # a long mail full of one short word stays quick to show


class SafeTextBrowser(QTextBrowser):
    """A read-only rich-text view that loads nothing: images, style sheets and every other
    resource an HTML mail names resolve to nothing (no remote content, no tracking pixel),
    and links are not followed. Qt's rich text runs no scripts."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)

    def loadResource(self, kind: int, name: QUrl):  # noqa: N802 - Qt override
        return None


class DetailPane(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.collection: Collection | None = None
        self.store_row = -1
        self.terms: list[str] = []
        self.mode = MESSAGE
        self._original: tuple[str, Original | None] | None = None  # (source, parsed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        self.header = QLabel(self)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.header.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.header)
        bar = QHBoxLayout()
        bar.setSpacing(2)
        self.mode_buttons = QButtonGroup(self)
        self.mode_buttons.setExclusive(True)
        for mode, label, tip in (
            (MESSAGE, "Message", "The message as written: HTML shown without remote content"),
            (PLAIN, "Plain text", "The readable text only"),
            (SOURCE, "Source", "The message as its file holds it"),
        ):
            button = QToolButton(self)
            button.setText(label)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setChecked(mode == self.mode)
            button.setProperty("mode", mode)
            button.setAutoRaise(True)
            self.mode_buttons.addButton(button)
            bar.addWidget(button)
        self.mode_buttons.buttonToggled.connect(self._on_mode_toggled)
        bar.addStretch(1)
        self.headers_button = QToolButton(self)
        self.headers_button.setText("Headers")
        self.headers_button.setToolTip("Show the mail's header lines")
        self.headers_button.setCheckable(True)
        self.headers_button.setAutoRaise(True)
        self.headers_button.toggled.connect(lambda _on: self._show_body())
        bar.addWidget(self.headers_button)
        layout.addLayout(bar)
        self.text = SafeTextBrowser(self)
        self.text.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.text.setAccessibleName("Message text")
        font = QFont(self.text.font())
        font.setPointSizeF(font.pointSizeF() + 0.5)
        self.text.setFont(font)
        layout.addWidget(self.text, 1)
        self.setMinimumWidth(240)
        self.show_row(None, -1)

    def show_row(self, collection: Collection | None, store_row: int) -> None:
        if collection is not self.collection or store_row != self.store_row:
            self._original = None
        self.collection = collection
        self.store_row = store_row
        if collection is None or not 0 <= store_row < len(collection):
            self.header.setText(
                f'<p style="color:{style.MUTED_TEXT}">Select a message to see it here.<br>'
                "Label it with <b>S</b> spam / <b>H</b> ham and <b>1</b> negative / "
                "<b>2</b> neutral / <b>3</b> positive.</p>"
            )
            self.text.setPlainText("")
            return
        self.header.setText(self._header_html(collection, store_row))
        self._show_body()

    def set_highlight(self, terms: list[str]) -> None:
        """Mark every occurrence of the search words in the text (case-insensitive, as the
        search matches them)."""
        if terms != self.terms:
            self.terms = list(terms)
            self._highlight()

    def _highlight(self) -> None:
        found: list[QTextEdit.ExtraSelection] = []
        document = self.text.document()
        marked = QTextCharFormat()
        marked.setBackground(QColor(style.SEARCH_HIGHLIGHT))
        for term in self.terms:
            cursor = document.find(term, 0)
            while not cursor.isNull() and len(found) < MAX_HIGHLIGHTS:
                selection = QTextEdit.ExtraSelection()
                selection.cursor = cursor
                selection.format = marked
                found.append(selection)
                cursor = document.find(term, cursor)
        self.text.setExtraSelections(found)

    def set_mode(self, mode: str) -> None:
        """Show the message as MESSAGE, PLAIN or SOURCE."""
        for button in self.mode_buttons.buttons():
            if button.property("mode") == mode:
                button.setChecked(True)

    # ------------------------------------------------------------------ the body

    def _on_mode_toggled(self, button, checked: bool) -> None:
        if checked:
            self.mode = str(button.property("mode"))
            self._show_body()

    def _stored(self, column: str) -> str:
        assert self.collection is not None
        return str(self.collection.messages[column].iat[self.store_row] or "")

    def original(self) -> Original | None:
        """The selected message's own file content (mail only), read once per selection."""
        if self.collection is None or self.store_row < 0:
            return None
        source = self._stored("source")
        if self._original is None or self._original[0] != source:
            parsed = None
            if self._stored("kind") == "email":
                raw = original_bytes(source)
                parsed = read_original(raw) if raw is not None else None
            self._original = (source, parsed)
        return self._original[1]

    def _show_body(self) -> None:
        if self.collection is None or not 0 <= self.store_row < len(self.collection):
            return
        stored = self._stored("text")
        original = self.original()
        headers = ""
        if self.headers_button.isChecked():
            headers = self._headers_html(original)
        if self.mode == SOURCE:
            source = original.source if original is not None else stored
            self.text.setHtml(headers + _pre(source))
        elif self.mode == PLAIN:
            self.text.setHtml(headers + _pre(readable_text(stored)))
        else:
            markup = original.html if original is not None and original.html else None
            if markup is None and looks_like_html(stored):
                markup = stored
            if markup is not None:
                # Qt's rich text runs no script; safe_html leaves none and no image, and
                # SafeTextBrowser loads no resource a style could still name.
                markup = safe_html(markup)
                self.text.setHtml(headers + markup if headers else markup)
            else:
                self.text.setHtml(headers + _segments_html(readable_text(stored)))
        self.text.verticalScrollBar().setValue(0)
        self._highlight()

    def _headers_html(self, original: Original | None) -> str:
        if original is None:
            rows = [
                (name.capitalize(), self._stored(name))
                for name in ("sender", "date", "subject", "source")
                if self._stored(name)
            ]
            note = (
                f'<p style="color:{style.MUTED_TEXT}">The original file is not at hand: '
                "these are the fields kept in the project.</p>"
                if self._stored("kind") == "email"
                else ""
            )
        else:
            rows, note = original.headers, ""
        body = "".join(
            f'<tr><td style="color:{style.MUTED_TEXT}; padding-right:6px">'
            f"{html.escape(name)}:</td><td>{html.escape(value)}</td></tr>"
            for name, value in rows
        )
        return note + f'<table cellspacing="0" cellpadding="1">{body}</table><hr>'

    def refresh(self) -> None:
        self.show_row(self.collection, self.store_row)

    def _header_html(self, c: Collection, row: int) -> str:
        m = c.messages
        get = lambda col: html.escape(str(m[col].iat[row] or ""))  # noqa: E731
        subject, sender, date, kind, source = (
            get("subject"),
            get("sender"),
            get("date"),
            get("kind"),
            html.escape(source_name(str(m["source"].iat[row] or ""))),
        )
        parts = []
        if subject:
            parts.append(f'<div style="font-size:13pt; font-weight:600;">{subject}</div>')
        meta = " · ".join(x for x in (sender and f"<b>{sender}</b>", date, kind) if x)
        if meta:
            parts.append(f"<div>{meta}</div>")
        if source:
            parts.append(f'<div style="color:{style.MUTED_TEXT}; font-size:8.5pt;">{source}</div>')
        rows = []
        for task in ("spam", "sentiment"):
            rows.append(self._task_row(c, task, row))
        number = int(c.cluster[row])
        if number >= 0:
            terms = getattr(c.clustering, "top_terms", None) or []
            words = ", ".join(list(terms[number])[:8]) if number < len(terms) else ""
            rows.append(
                f"<tr><td><b>Theme</b></td><td>{number + 1}"
                f'<span style="color:{style.MUTED_TEXT}"> · {html.escape(words)}</span></td></tr>'
            )
        parts.append(
            '<table cellspacing="0" cellpadding="2" style="margin-top:6px;">'
            + "".join(rows)
            + "</table>"
        )
        return "".join(parts)

    def _task_row(self, c: Collection, task: str, row: int) -> str:
        user = int(c.user[task][row])
        cells = []
        if user != NO_LABEL:
            if c.corrected[task][row]:
                how = "corrected by you"
            elif c.confirmed[task][row]:
                how = "confirmed by you"
            else:
                how = "imported label"
            cells.append(
                style.label_html(task, CLASSES[task][user], user, by_user=True)
                + f' <span style="color:{style.MUTED_TEXT}">{how}</span>'
            )
        if task == "spam":
            p = float(c.spam_prob[row])
            if not math.isnan(p):
                code = int(p >= 0.5)
                model = style.label_html(task, CLASSES[task][code], code, by_user=False)
                cells.append(f"model: {model} &nbsp;P(spam) {p:.2f}")
        else:
            probs = c.sentiment_prob[row]
            if np.isnan(probs).any() and "sentiment" in c.model_versions:
                cells.append(
                    f'<span style="color:{style.MUTED_TEXT}">no sentiment: nothing in it was '
                    "written by the sender (only quoted text or a signature)</span>"
                )
            elif not np.isnan(probs).any():
                code = int(np.argmax(probs))
                model = style.label_html(task, CLASSES[task][code], code, by_user=False)
                spread = " ".join(
                    f"{name[:3]} {float(p):.2f}"
                    for name, p in zip(CLASSES[task], probs, strict=True)
                )
                cells.append(
                    f'model: {model} &nbsp;<span style="color:{style.MUTED_TEXT}">{spread}</span>'
                )
        if not cells:
            cells.append(f'<span style="color:{style.MUTED_TEXT}">no prediction</span>')
        title = "Spam" if task == "spam" else "Sentiment"
        return f"<tr><td><b>{title}</b>&nbsp;&nbsp;</td><td>{'<br>'.join(cells)}</td></tr>"


def _pre(text: str) -> str:
    return f'<pre style="white-space:pre-wrap; font-family:inherit">{html.escape(text)}</pre>'


def _segments_html(text: str) -> str:
    """Readable text with quoted replies and signatures greyed out (and kept)."""
    parts = []
    for segment in segments(text):
        escaped = html.escape(segment.text)
        if segment.kind in (QUOTE, SIGNATURE):
            escaped = f'<span style="color:{style.MUTED_TEXT}">{escaped}</span>'
        parts.append(escaped)
    body = "\n".join(parts)
    return f'<pre style="white-space:pre-wrap; font-family:inherit">{body}</pre>'
