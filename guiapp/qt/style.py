"""Colours and small visual constants shared by the table, the detail pane and dialogs.

Written once here so that a label looks the same everywhere it appears.
"""

from __future__ import annotations

from PySide6.QtGui import QColor

# Per task, per class code: the colour of the label "pill".
LABEL_COLOURS: dict[str, tuple[str, ...]] = {
    "spam": ("#2e7d32", "#c62828"),  # ham green, spam red
    "sentiment": ("#c62828", "#607d8b", "#2e7d32"),  # negative, neutral, positive
}
CORRECTED_COLOUR = "#1565c0"
SCORE_BAR_COLOUR = "#90a4ae"
MUTED_TEXT = "#6b7280"
SEARCH_HIGHLIGHT = "#ffe082"  # the search words in the detail pane

ROW_HEIGHT_PADDING = 8


def label_colour(task: str, code: int) -> QColor:
    colours = LABEL_COLOURS[task]
    if 0 <= code < len(colours):
        return QColor(colours[code])
    return QColor(MUTED_TEXT)


def label_html(task: str, name: str, code: int, *, by_user: bool) -> str:
    """A coloured label as rich text (detail pane, dialogs)."""
    colour = LABEL_COLOURS[task][code] if 0 <= code < len(LABEL_COLOURS[task]) else MUTED_TEXT
    if by_user:
        return (
            f'<span style="background:{colour}; color:white; font-weight:600;">'
            f"&nbsp;{name}&nbsp;</span>"
        )
    return f'<span style="color:{colour}; font-weight:600;">{name}</span>'
