"""How label and score cells are drawn and edited.

- :class:`LabelDelegate` draws a label as a coloured pill: filled when it is the user's own
  label, outlined when it is the model's guess; its editor is a combo box that commits as
  soon as a choice is made.
- :class:`ScoreDelegate` draws a probability as a number with a thin bar behind it.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QComboBox, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from guiapp.core.messages import CLASSES, NO_LABEL
from guiapp.qt import style
from guiapp.qt.table_model import LabelPaintRole, ScoreRole

NO_LABEL_TEXT = "(no label)"


class LabelDelegate(QStyledItemDelegate):
    """Paints a label pill. A repaint of the table paints some 60 pills, and everything made
    per pill showed in the GUI thread's time (benchmarks/bench_stall.py): each distinct pill
    (label, by user or model, size, font) is drawn once into a pixmap, then copied."""

    def __init__(self, task: str, parent=None):
        super().__init__(parent)
        self.task = task
        self._colours = {
            code: style.label_colour(task, code) for code in (NO_LABEL, *range(len(CLASSES[task])))
        }
        self._pills: dict[tuple, QPixmap] = {}
        self._font = QFont()
        self._font_key = self._font.key()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        # The cell's background and selection as the style draws them; the view already put
        # the state and the alternate-row feature into ``option``: no need to ask the model
        # for the roles a full initStyleOption reads.
        opt = QStyleOptionViewItem(option)
        opt.text = ""
        widget = opt.widget
        style_ = widget.style() if widget is not None else None
        if style_ is not None:
            style_.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        pill_data = index.data(LabelPaintRole)
        if not pill_data:
            return
        text, code, by_user = pill_data
        rect = opt.rect
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        if opt.font != self._font:
            self._font, self._font_key = QFont(opt.font), opt.font.key()
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        key = (text, code, by_user, selected, rect.width(), rect.height(), self._font_key, ratio)
        pixmap = self._pills.get(key)
        if pixmap is None:
            if len(self._pills) > 512:  # column widths change: keep the cache small
                self._pills.clear()
            pixmap = self._pills[key] = self._pill(
                text, code, by_user, opt.font, rect, ratio, selected=selected
            )
        painter.drawPixmap(rect.topLeft(), pixmap)

    def _pill(
        self, text: str, code: int, by_user: bool, base: QFont, rect, ratio, *, selected=False
    ) -> QPixmap:
        pixmap = QPixmap(int(rect.width() * ratio), int(rect.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        colour = self._colours.get(code, self._colours[NO_LABEL])
        font = QFont(base)
        font.setBold(by_user)
        painter = QPainter(pixmap)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setFont(font)
            area = QRectF(0, 0, rect.width(), rect.height()).adjusted(4, 3, -4, -3)
            width = min(area.width(), QFontMetrics(font).horizontalAdvance(text) + 14)
            pill = QRectF(area.left(), area.top(), width, area.height())
            radius = pill.height() / 2
            if by_user:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(colour)
                painter.drawRoundedRect(pill, radius, radius)
                painter.setPen(QColor("white"))
            else:
                # On a selected row's highlight a pale fill vanished: the outlined pill gets
                # an opaque white inside there, so its colour reads on any highlight.
                fill = QColor("white") if selected else QColor(colour)
                if not selected:
                    fill.setAlpha(28)
                painter.setBrush(fill)
                painter.setPen(QPen(colour, 1.5))
                painter.drawRoundedRect(pill.adjusted(0.75, 0.75, -0.75, -0.75), radius, radius)
                painter.setPen(colour)
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        finally:
            painter.end()
        return pixmap

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
