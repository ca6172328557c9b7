"""The pane beside the table: everything about the selected message."""

from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextOption
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTextEdit, QVBoxLayout, QWidget

from guiapp.core.collection import Collection
from guiapp.core.export import source_name
from guiapp.core.messages import CLASSES, NO_LABEL
from guiapp.qt import style

MAX_HIGHLIGHTS = 2_000  # a long mail full of one short word stays quick to show


class DetailPane(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.collection: Collection | None = None
        self.store_row = -1
        self.terms: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        self.header = QLabel(self)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.header.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.header)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.text.setAccessibleName("Message text")
        font = QFont(self.text.font())
        font.setPointSizeF(font.pointSizeF() + 0.5)
        self.text.setFont(font)
        layout.addWidget(self.text, 1)
        self.setMinimumWidth(240)
        self.show_row(None, -1)

    def show_row(self, collection: Collection | None, store_row: int) -> None:
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
        text = collection.messages["text"].iat[store_row] or ""
        self.text.setPlainText(text)
        self._highlight()

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
            if not np.isnan(probs).any():
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
