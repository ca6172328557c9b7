"""The retrain report and the versions list in words: one wording for the window and the
command line.

A figure that could not be measured honestly says so: ``None`` is "not enough labels to
measure" (fewer than :data:`~guiapp.core.models.retrain.MIN_CLASS` labels of a class it
depends on); a class with no labelled message shows "—".
"""

from __future__ import annotations

from typing import Any

NOT_ENOUGH = "not enough labels to measure"
NO_MESSAGES = "—"


def percent(value: float | None) -> str:
    return NOT_ENOUGH if value is None else f"{100 * value:.1f}%"


def headline(figures: dict[str, Any] | None, task: str) -> str:
    """ "accuracy 91.3%, macro recall 88.0% (n=412)" -- or why there is no figure."""
    if figures is None:
        return NOT_ENOUGH
    parts = [f"accuracy {percent(figures.get('accuracy'))}"]
    parts.append(f"macro recall {percent(figures.get('macro_recall'))}")
    return ", ".join(parts) + f" (n={int(figures.get('n', 0)):,})"


def class_cell(figures: dict[str, Any] | None, name: str, key: str) -> str:
    """One per-class figure: a percentage, "—" (no labels of the class) or NOT_ENOUGH."""
    if figures is None:
        return NOT_ENOUGH
    values = (figures.get("per_class") or {}).get(name) or {}
    if int(values.get("support", 0)) == 0:
        return NO_MESSAGES
    return percent(values.get(key))


def report_lines(report: Any) -> list[str]:
    """A :class:`~guiapp.core.session.TaskReport` as lines of text (``triage retrain``)."""
    r = report
    lines = [
        f"{r.task}: {r.n_user_labels:,} labelled messages ({r.n_corrected:,} corrected in Triage)"
    ]
    if r.kept:
        lines.append(f"  using {r.version}: no adapted version measured better (no new version)")
    else:
        lines.append(f"  new version {r.version or '(not saved)'}, adapted from {r.start_version}")
    lines.append(f"  new model: {headline(r.new, r.task)}")
    lines.append(f"    measured by {r.method}" if r.method != "none" else "    not cross-validated")
    if r.previous != r.start_version:
        if r.previous_figures is not None:
            lines.append(
                f"  previous version {r.previous}, on the {r.n_added:,} labels added since it was "
                f"trained: {headline(r.previous_figures, r.task)}"
            )
        else:
            lines.append(
                f"  previous version {r.previous}: {r.n_added:,} labels added since it was "
                f"trained -- {NOT_ENOUGH if r.n_added else 'nothing new to measure it on'}"
            )
    lines.append(f"  {r.start_version} model on all of them: {headline(r.start, r.task)}")
    if r.new is not None:
        lines.append("  per class (new model, cross-validated): precision / recall / labels")
        for name in r.classes:
            support = int((r.new.get("per_class") or {}).get(name, {}).get("support", 0))
            lines.append(
                f"    {name:<9} {class_cell(r.new, name, 'precision'):>8} / "
                f"{class_cell(r.new, name, 'recall'):>8} / {support:,}"
            )
    noun = "message" if r.changed_unlabelled == 1 else "messages"
    lines.append(f"  {r.changed_unlabelled:,} unlabelled {noun} changed label.")
    lines += [f"  note: {n}" for n in r.notes]
    return lines


def version_lines(infos: list[Any]) -> list[str]:
    """:func:`~guiapp.core.session.list_versions` as lines of text (``triage versions``)."""
    lines = []
    for v in infos:
        mark = "*" if v.active else " "
        figures = (
            f"accuracy {percent(v.accuracy)}, macro recall {percent(v.macro_recall)}"
            if v.accuracy is not None or v.macro_recall is not None
            else NOT_ENOUGH
            if "not enough" in v.measured_on
            else "—"
        )
        lines.append(f"{mark} {v.task:<9} {v.version:<14} {v.origin}")
        lines.append(f"  {'':<9} {'':<14} {figures} ({v.measured_on})")
    return lines


__all__ = [
    "NOT_ENOUGH",
    "NO_MESSAGES",
    "class_cell",
    "headline",
    "percent",
    "report_lines",
    "version_lines",
]
