"""How label and score cells are drawn and edited.

- :class:`LabelDelegate` draws a label as a coloured pill: filled when it is the user's own
  label, outlined when it is the model's guess; its editor is a combo box that commits as
  soon as a choice is made.
- :class:`ScoreDelegate` draws a probability as a number with a thin bar behind it.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from guiapp.core.messages import CLASSES, NO_LABEL
from guiapp.qt import style
from guiapp.qt.table_model import LabelPaintRole, ScoreRole

NO_LABEL_TEXT = "(no label)"


class LabelDelegate(QStyledItemDelegate):
    """Paints a label pill. The colours, fonts and text widths are kept between paints: a
    repaint of the table paints some 60 pills, and every object made per pill showed up in
    the GUI thread's time (benchmarks/bench_stall.py)."""

    def __init__(self, task: str, parent=None):
        super().__init__(parent)
        self.task = task
        self._colours = {
            code: style.label_colour(task, code) for code in (NO_LABEL, *range(len(CLASSES[task])))
        }
        self._pale = {}
        for code, colour in self._colours.items():
            pale = QColor(colour)
            pale.setAlpha(28)
            self._pale[code] = pale
        self._pens = {code: QPen(colour, 1) for code, colour in self._colours.items()}
        self._white = QColor("white")
        self._fonts: dict[tuple[str, bool], tuple[QFont, QFontMetrics]] = {}
        self._widths: dict[tuple[str, str, bool], int] = {}

    def _font(self, base: QFont, bold: bool) -> tuple[QFont, QFontMetrics]:
        key = (base.key(), bold)
        found = self._fonts.get(key)
        if found is None:
            font = QFont(base)
            font.setBold(bold)
            found = (font, QFontMetrics(font))
            self._fonts[key] = found
        return found

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style_ = widget.style() if widget is not None else None
        if style_ is not None:
            style_.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        pill_data = index.data(LabelPaintRole)
        if not pill_data:
            return
        text, code, by_user = pill_data
        colour = self._colours.get(code, self._colours[NO_LABEL])
        font, metrics = self._font(opt.font, by_user)
        width_key = (font.key(), text, by_user)
        advance = self._widths.get(width_key)
        if advance is None:
            advance = self._widths[width_key] = metrics.horizontalAdvance(text)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(font)
        rect = QRectF(opt.rect).adjusted(4, 3, -4, -3)
        width = min(rect.width(), advance + 14)
        pill = QRectF(rect.left(), rect.top(), width, rect.height())
        radius = pill.height() / 2
        if by_user:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(pill, radius, radius)
            painter.setPen(self._white)
        else:
            painter.setBrush(self._pale.get(code, self._pale[NO_LABEL]))
            painter.setPen(self._pens.get(code, self._pens[NO_LABEL]))
            painter.drawRoundedRect(pill.adjusted(0.5, 0.5, -0.5, -0.5), radius, radius)
            painter.setPen(colour)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(self, option, index) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + 16, size.height())

    def createEditor(self, parent, option, index):
        combo = QComboBox(parent)
        combo.addItem(NO_LABEL_TEXT, NO_LABEL)
        for code, name in enumerate(CLASSES[self.task]):
            combo.addItem(name, code)
        # Commit as soon as the user picks: one click or one key per message.
        combo.activated.connect(lambda _=0, c=combo: self._commit(c))
        return combo

    def _commit(self, combo: QComboBox) -> None:
        self.commitData.emit(combo)
        self.closeEditor.emit(combo, QStyledItemDelegate.EndEditHint.NoHint)

    def setEditorData(self, editor: QComboBox, index) -> None:
        code = index.data(Qt.ItemDataRole.EditRole)
        position = editor.findData(code if code is not None else NO_LABEL)
        editor.setCurrentIndex(max(position, 0))
        editor.showPopup()

    def setModelData(self, editor: QComboBox, model, index) -> None:
        model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor, option, index) -> None:
        editor.setGeometry(option.rect)


class ScoreDelegate(QStyledItemDelegate):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._bar = QColor(style.SCORE_BAR_COLOUR)
        self._bar.setAlpha(150)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        value = index.data(ScoreRole)
        if value is not None and not option.state & QStyle.StateFlag.State_Selected:
            painter.save()
            rect = QRectF(option.rect).adjusted(3, option.rect.height() - 6, -3, -3)
            bar = QRectF(rect.left(), rect.top(), rect.width() * float(value), rect.height())
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._bar)
            painter.drawRoundedRect(bar, 1.5, 1.5)
            painter.restore()
        super().paint(painter, option, index)
