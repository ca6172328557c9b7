"""How label and score cells are drawn and edited.

- :class:`LabelDelegate` draws a label as a coloured pill: filled when it is the user's own
  label, outlined when it is the model's guess; its editor is a combo box that commits as
  soon as a choice is made.
- :class:`ScoreDelegate` draws a probability as a number with a thin bar behind it.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from guiapp.core.messages import CLASSES, NO_LABEL
from guiapp.qt import style
from guiapp.qt.table_model import LabelCodeRole, LabelSourceRole, ScoreRole

NO_LABEL_TEXT = "(no label)"


class LabelDelegate(QStyledItemDelegate):
    def __init__(self, task: str, parent=None):
        super().__init__(parent)
        self.task = task

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style_ = widget.style() if widget is not None else None
        if style_ is not None:
            style_.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        if not text:
            return
        code = index.data(LabelCodeRole)
        source = index.data(LabelSourceRole)
        colour = style.label_colour(self.task, code if code is not None else NO_LABEL)
        by_user = source == "user"
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = opt.font
        font.setBold(by_user)
        painter.setFont(font)
        metrics = QFontMetrics(font)
        rect = QRectF(opt.rect).adjusted(4, 3, -4, -3)
        width = min(rect.width(), metrics.horizontalAdvance(text) + 14)
        pill = QRectF(rect.left(), rect.top(), width, rect.height())
        radius = pill.height() / 2
        if by_user:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(pill, radius, radius)
            painter.setPen(QColor("white"))
        else:
            pale = QColor(colour)
            pale.setAlpha(28)
            painter.setBrush(pale)
            painter.setPen(QPen(colour, 1))
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
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        value = index.data(ScoreRole)
        if value is not None:
            selected = bool(option.state & QStyle.StateFlag.State_Selected)
            if not selected:
                painter.save()
                rect = QRectF(option.rect).adjusted(3, option.rect.height() - 6, -3, -3)
                bar = QRectF(rect.left(), rect.top(), rect.width() * float(value), rect.height())
                colour = QColor(style.SCORE_BAR_COLOUR)
                colour.setAlpha(150)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(colour)
                painter.drawRoundedRect(bar, 1.5, 1.5)
                painter.restore()
        super().paint(painter, option, index)
