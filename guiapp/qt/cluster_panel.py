"""The themes panel: each k-means theme with its size and top terms, and k to re-run with."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from guiapp.core.messages import CLASSES
from guiapp.qt import style

AUTO_K = 1  # the spin box's minimum stands for "choose k automatically"
MAX_K = 60
CURVE_HEIGHT = 130


class SilhouetteCurve(QWidget):
    """A line chart of how well the messages separate (the silhouette score) for each
    number of themes k tried, with both axes labelled and the chosen k marked."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.curve: list[tuple[int, float]] = []
        self.chosen = 0
        self.setMinimumHeight(CURVE_HEIGHT)
        self.setToolTip(
            "How well the messages separate into k themes (silhouette score: higher is "
            "better), for each k tried; the chosen k is marked"
        )

    def set_curve(self, curve, chosen: int) -> None:
        self.curve = [(int(k), float(s)) for k, s in curve]
        self.chosen = chosen
        self.setVisible(bool(self.curve))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(220, CURVE_HEIGHT)

    def plot_rect(self) -> QRectF:
        """Where the curve is drawn, inside the axes' labels."""
        metrics = self.fontMetrics()
        left = metrics.horizontalAdvance("0.000") + 8
        line = metrics.height()
        return QRectF(self.rect()).adjusted(left, line + 6, -8, -(2 * line + 6))

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        if len(self.curve) < 2:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.plot_rect()
        line = self.fontMetrics().height()
        ks = [k for k, _ in self.curve]
        ss = [s for _, s in self.curve]
        k0, k1 = min(ks), max(ks)
        s0, s1 = min(ss), max(ss)
        span_s = (s1 - s0) or 1.0

        def point(k: int, s: float) -> QPointF:
            x = rect.left() + (k - k0) / max(1, k1 - k0) * rect.width()
            y = rect.bottom() - (s - s0) / span_s * rect.height()
            return QPointF(x, y)

        muted = QColor(style.MUTED_TEXT)
        # Axes: y from the lowest to the highest score, x over the k tried.
        painter.setPen(QPen(muted, 1))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        painter.drawLine(rect.bottomLeft(), rect.topLeft())
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for value, y in ((s1, rect.top()), (s0, rect.bottom())):
            painter.drawText(QRectF(0, y - line / 2, rect.left() - 4, line), right, f"{value:.3f}")
        ticks = sorted({k0, k1, self.chosen} & set(ks))
        for k in ticks:
            x = point(k, s0).x()
            painter.drawLine(QPointF(x, rect.bottom()), QPointF(x, rect.bottom() + 3))
            label = QRectF(x - 20, rect.bottom() + 3, 40, line)
            painter.drawText(label, Qt.AlignmentFlag.AlignCenter, str(k))
        painter.drawText(
            QRectF(rect.left(), rect.bottom() + 3 + line, rect.width(), line),
            Qt.AlignmentFlag.AlignCenter,
            "number of themes (k)",
        )
        path = QPainterPath(point(*self.curve[0]))
        for k, s in self.curve[1:]:
            path.lineTo(point(k, s))
        painter.setPen(QPen(QColor(style.SCORE_BAR_COLOUR), 1.8))
        painter.drawPath(path)
        for k, s in self.curve:
            if k == self.chosen:
                p = point(k, s)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(style.CORRECTED_COLOUR))
                painter.drawEllipse(p, 4, 4)
                painter.setPen(QColor(style.CORRECTED_COLOUR))
                text = f"k = {k}: the best separation ({s:.3f})"
                width = painter.fontMetrics().horizontalAdvance(text) + 4
                left = min(max(p.x() - width / 2, 0.0), max(0.0, self.width() - width))
                painter.drawText(QRectF(left, 2, width, line), Qt.AlignmentFlag.AlignCenter, text)
        painter.end()


class ClusterPanel(QWidget):
    """Lists the themes; clicking one filters the table to it."""

    cluster_selected = Signal(object)  # theme number, or None for "all"
    recluster_requested = Signal(object)  # k (int) or "auto"
    label_cluster_requested = Signal(int, str, int)  # theme, task, label code

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        title = QLabel(
            f"<b>Themes</b> <span style='color:{style.MUTED_TEXT}'>(k-means, unlabelled)</span>"
        )
        layout.addWidget(title)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("k:"))
        self.k_box = QSpinBox(self)
        self.k_box.setRange(AUTO_K, MAX_K)
        self.k_box.setSpecialValueText("auto")
        self.k_box.setToolTip("Number of themes; 'auto' picks k by silhouette score")
        self.k_box.setAccessibleName("Number of themes")
        controls.addWidget(self.k_box)
        self.run_button = QPushButton("Re-group", self)
        self.run_button.setToolTip("Run k-means again over the unlabelled messages")
        self.run_button.clicked.connect(self._on_run_clicked)
        controls.addWidget(self.run_button, 1)
        layout.addLayout(controls)

        self.curve = SilhouetteCurve(self)
        self.curve.setVisible(False)
        layout.addWidget(self.curve)

        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["#", "Size", "Top terms"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_tree_menu)
        self.tree.itemSelectionChanged.connect(self._on_tree_selection)
        layout.addWidget(self.tree, 1)

        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {style.MUTED_TEXT};")
        layout.addWidget(self.note)
        self.show_all = QPushButton("Show all themes", self)
        self.show_all.clicked.connect(self.clear_selection)
        layout.addWidget(self.show_all)
        self._updating = False
        self.set_clustering(None)

    # ------------------------------------------------------------------ content
    def set_k(self, k: int | str) -> None:
        self.k_box.setValue(AUTO_K if k in ("auto", 0, None) else int(k))

    def k(self) -> int | str:
        value = self.k_box.value()
        return "auto" if value == AUTO_K else value

    def set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.run_button.setText("Grouping…" if running else "Re-group")

    def set_clustering(self, clustering) -> None:
        self._updating = True
        try:
            self.tree.clear()
            if clustering is None or not getattr(clustering, "k", 0):
                self.note.setText(
                    "No themes yet." if clustering is None else "\n".join(clustering.notes)
                )
                self.curve.set_curve([], 0)
                return
            sizes = getattr(clustering, "sizes_all", None)
            fitted = getattr(clustering, "sizes_fitted", None)
            for number in range(clustering.k):
                terms = clustering.top_terms[number] if number < len(clustering.top_terms) else []
                size = int(sizes[number]) if sizes is not None else 0
                item = QTreeWidgetItem([str(number + 1), f"{size:,}", ", ".join(terms[:6])])
                item.setData(0, Qt.ItemDataRole.UserRole, number)
                item.setTextAlignment(
                    1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
                tip = f"Theme {number + 1}: {size:,} messages"
                if fitted is not None:
                    tip += f" ({int(fitted[number]):,} unlabelled)"
                item.setToolTip(2, tip + "\n" + ", ".join(terms))
                item.setToolTip(1, tip)
                self.tree.addTopLevelItem(item)
            notes = list(getattr(clustering, "notes", []) or [])
            head = f"{clustering.k} themes over {clustering.fitted_rows:,} unlabelled messages."
            self.note.setText("\n".join([head, *notes]))
            self.curve.set_curve(getattr(clustering, "curve", []) or [], clustering.k)
        finally:
            self._updating = False

    def clear_selection(self) -> None:
        self.tree.clearSelection()

    def select_cluster(self, number: int | None) -> None:
        self._updating = True
        try:
            self.tree.clearSelection()
            if number is not None and 0 <= number < self.tree.topLevelItemCount():
                self.tree.topLevelItem(number).setSelected(True)
        finally:
            self._updating = False

    # ------------------------------------------------------------------ events
    def _on_run_clicked(self) -> None:
        self.recluster_requested.emit(self.k())

    def _on_tree_selection(self) -> None:
        if self._updating:
            return
        items = self.tree.selectedItems()
        self.cluster_selected.emit(items[0].data(0, Qt.ItemDataRole.UserRole) if items else None)

    def _on_tree_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        number = item.data(0, Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Show only this theme", lambda: self.cluster_selected.emit(number))
        menu.addSeparator()
        for task in ("spam", "sentiment"):
            for code, name in enumerate(CLASSES[task]):
                menu.addAction(
                    f"Mark the whole theme as {name}",
                    lambda t=task, c=code: self.label_cluster_requested.emit(number, t, c),
                )
            menu.addSeparator()
        menu.exec(self.tree.viewport().mapToGlobal(pos))
