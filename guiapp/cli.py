"""The `triage` command line: argument parsing only; the work is done by guiapp.core.

    triage [FILE...]                      open the window (on FILEs, else the last project,
                                          else the bundled demo collection)
    triage classify INPUT... -o OUT.csv   import, predict, cluster, write CSV (.xlsx, .parquet)
    triage evaluate INPUT...              score the current models on labelled data
    triage train [--spam F...] [--sentiment F...] [--out DIR]
                                          train models (no arguments: rebuild the shipped
                                          ones from ../shared/data)

Exit status: 0 success, 2 bad input or unusable model (a one-line reason on stderr, no
output file left behind), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from guiapp import __version__

SUBCOMMANDS = (
    "classify",
    "evaluate",
    "train",
    "open",
    "import",
    "label",
    "retrain",
    "versions",
    "export",
)


class _Bar:
    """One tqdm bar on stderr behind the core's on_progress(done, total, text) hook; the
    text of each step becomes the bar's description."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None

    def __call__(self, done: int, total: int, text: str) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if self.bar is None or (total and self.bar.total != total):
            self.close()
            self.bar = tqdm(
                total=total or None,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
                mininterval=0.2,
                bar_format="{desc:.40} {percentage:3.0f}%|{bar}| {elapsed}",
            )
        if text:
            self.bar.set_description_str(text, refresh=False)
        self.bar.update(max(0, done - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Sort piles of messages: spam and sentiment, themes, corrections, export.",
        epilog="With no command, opens the window on FILEs (or the last project, or the demo).",
    )
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("open", help="open the window (the default command)")
    p.add_argument("files", nargs="*", help="files, folders or a .triage project to open")

    p = sub.add_parser("classify", help="import, predict, cluster and write a labelled table")
    p.add_argument(
        "inputs", nargs="+", help="CSV/TSV/JSON/JSONL/tweets.js/mbox/.eml/Maildir/folder/Parquet"
    )
    p.add_argument(
        "-o", "--output", required=True, help="output .csv (or .xlsx, .parquet: by the suffix)"
    )
    p.add_argument("--text-column", help="name of the text column of a CSV/JSON input")
    p.add_argument(
        "--clusters", default="auto", help="number of themes, 'auto' (default) or 0 for none"
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=0,
        help="stream the input in chunks of this many rows (bounded memory; themes "
        "are learnt on the first chunk); default: automatic for big inputs",
    )
    add_export_options(p)
    p.add_argument(
        "--project", help="predict with this project's models (default: the shipped ones)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("import", help="create a project from files (as the window's Open)")
    p.add_argument("inputs", nargs="+", metavar="FILE")
    p.add_argument("--project", required=True, help="the new project file (.triage)")
    p.add_argument("--text-column", help="name of the text column of a CSV/JSON input")
    p.add_argument("--clusters", default="auto", help="number of themes or 'auto' (default)")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("label", help="set labels in a project from a CSV (id or text + labels)")
    p.add_argument("project", help="the project file (.triage)")
    p.add_argument(
        "--from",
        dest="labels",
        required=True,
        metavar="LABELS.csv",
        help="columns id (as classify writes) or text, and spam and/or sentiment",
    )
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("retrain", help="adapt a project's models to its labels; print the report")
    p.add_argument("project", help="the project file (.triage)")
    p.add_argument("--task", choices=("spam", "sentiment"), help="only this task")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("versions", help="a project's model versions, origin and figures")
    p.add_argument("project", help="the project file (.triage)")
    p.add_argument("--task", choices=("spam", "sentiment"), help="only this task")
    p.add_argument("--use", metavar="VERSION", help="make VERSION (or 'shipped') the one in use")
    p.add_argument(
        "--import",
        dest="import_file",
        metavar="FILE.skops",
        help="add a shared model (exported by Triage) as a version of the project",
    )
    p.add_argument(
        "--copy-from",
        metavar="OTHER.triage",
        help="copy the model in use of --task from another project into this one",
    )
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("export", help="write a project's labelled table (as the window's Export)")
    p.add_argument("project", help="the project file (.triage)")
    p.add_argument("-o", "--output", required=True, help="output .csv (or .xlsx, .parquet)")
    p.add_argument("--scope", choices=("all", "labelled"), default="all")
    add_export_options(p)
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("evaluate", help="score the current models on labelled data")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--label-column", help="column holding the labels (default: recognised by name)")
    p.add_argument("--text-column")
    p.add_argument("--task", choices=("spam", "sentiment"), help="only this task")
    p.add_argument("--project", help="score this project's models (default: the shipped ones)")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("train", help="train models (no arguments: rebuild the shipped ones)")
    p.add_argument("--spam", nargs="+", metavar="FILE", help="labelled spam/ham files")
    p.add_argument("--sentiment", nargs="+", metavar="FILE", help="labelled sentiment files")
    p.add_argument("--data", help="corpora folder for the shipped models (default ../shared/data)")
    p.add_argument(
        "--out", help="output folder (default: models/ for a rebuild; needed with files)"
    )
    p.add_argument("--quiet", action="store_true")
    return parser


def add_export_options(p: argparse.ArgumentParser) -> None:
    """The options every command that writes a labelled table takes."""
    p.add_argument(
        "--spreadsheet-safe",
        action="store_true",
        help="CSV for spreadsheets: cells (and column names) that start with = + - @ tab CR "
        "get a leading ' so a spreadsheet does not run them as formulas, and the file starts "
        "with a UTF-8 byte-order mark. By default every text is written exactly as it is "
        "(for pandas, R, ...). An .xlsx output needs neither: every cell is a string cell.",
    )


def _fail(message: str, code: int = 2) -> int:
    print(f"triage: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and not argv[0].startswith("-")):
        argv = ["open", *argv]
    args = _parser().parse_args(argv)
    if args.command in (None, "open"):
        return _open_window(getattr(args, "files", []))

    from guiapp.core.errors import Cancelled, TriageError
    from guiapp.core.io.base import AmbiguousTextColumn

    bar = _Bar(getattr(args, "quiet", False))
    try:
        if args.command == "classify":
            return _classify(args, bar)
        if args.command == "evaluate":
            return _evaluate(args, bar)
        if args.command == "train":
            return _train(args, bar)
        return _PROJECT_COMMANDS[args.command](args, bar)
    except Cancelled:
        bar.close()
        return _fail("cancelled", 130)
    except KeyboardInterrupt:
        bar.close()
        return _fail("interrupted", 130)
    except AmbiguousTextColumn as exc:
        bar.close()
        return _fail(_ambiguous_message(exc))
    except TriageError as exc:
        # The bar's line is cleared first, so the reason starts its own line.
        bar.close()
        return _fail(" ".join(str(exc).split()))
    finally:
        bar.close()
    return 0


def _ambiguous_message(exc) -> str:
    names = ", ".join(repr(c) for c in exc.candidates)
    example = exc.candidates[0] if exc.candidates else "NAME"
    return (
        f"{exc.location}: cannot tell which column holds the message text ({names}); "
        f"name it with --text-column, e.g. --text-column {_shell_word(example)}"
    )


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _open_window(files: list[str]) -> int:
    try:
        from guiapp.app import run_app
    except ImportError as exc:  # Qt libraries missing on this machine
        return _fail(f"cannot start the window: {exc}", 1)
    return run_app(files)


def _classify(args, bar: _Bar) -> int:
    from guiapp.core import pipeline

    clusters = args.clusters
    if clusters != "auto":
        try:
            clusters = int(clusters)
        except ValueError:
            return _fail(f"--clusters must be a number or 'auto', not {clusters!r}")
    summary = pipeline.classify_files(
        args.inputs,
        args.output,
        text_column=args.text_column,
        clusters=clusters,
        chunk_size=args.chunk_size or None,
        spreadsheet_safe=args.spreadsheet_safe,
        project=_existing_project(args.project) if args.project else None,
        on_progress=bar,
    )
    bar.close()
    if not args.quiet:
        print(summary, file=sys.stderr)
    return 0


def _existing_project(path: str) -> Path:
    from guiapp.core.errors import InputError

    if not Path(path).is_file():
        raise InputError(path, "no such project file")
    return Path(path)


def _import(args, bar: _Bar) -> int:
    from guiapp.core import session

    target = Path(args.project)
    if target.exists():
        return _fail(f"{target}: the project exists already (open it, or choose another name)")
    clusters = args.clusters if args.clusters == "auto" else int(args.clusters)
    imported = session.import_to_file(
        args.inputs,
        text_column=args.text_column,
        project_path=target,
        k=clusters,
        on_progress=bar,
    )
    bar.close()
    print(f"created {imported.path} from {len(imported.files):,} file(s)")
    for problem in imported.problems[:20]:
        print(f"  skipped: {problem}", file=sys.stderr)
    for note in imported.notes:
        print(f"  note: {note}", file=sys.stderr)
    return 0


def _label(args, bar: _Bar) -> int:
    from guiapp.core.labelling import label_from_file
    from guiapp.core.project import Project

    with Project.open(_existing_project(args.project)) as project:
        done = label_from_file(project, args.labels)
    for task, n in done.set.items():
        print(f"{task}: {n:,} labels set")
    if done.unmatched:
        print(f"{len(done.unmatched):,} {done.key}s match no message:")
        for value in done.unmatched[:50]:
            print(f"  {value}")
        if len(done.unmatched) > 50:
            print(f"  ... and {len(done.unmatched) - 50:,} more")
    return 0


def _retrain(args, bar: _Bar) -> int:
    from guiapp.core import report, session
    from guiapp.core.project import Project

    with Project.open(_existing_project(args.project)) as project:
        tasks = [args.task] if args.task else ["spam", "sentiment"]
        unlabelled = [t for t in tasks if not (project.collection.user[t] >= 0).any()]
        outcome = session.retrain(
            session.snapshot(project.collection),
            tasks,
            edit=project.edit_count(),
            on_progress=bar,
        )
        session.save_retrain(project, outcome)
    bar.close()
    for task in unlabelled:
        print(f"{task}: no labels, not retrained")
    for task_report in outcome.reports.values():
        print("\n".join(report.report_lines(task_report)))
    return 0


def _versions(args, bar: _Bar) -> int:
    from guiapp.core import report, session
    from guiapp.core.project import Project

    with Project.open(_existing_project(args.project)) as project:
        if args.import_file:
            stored = session.import_model(project, args.import_file, activate=bool(args.use))
            print(f"imported {args.import_file} as {stored.version}")
        if args.copy_from:
            if not args.task:
                return _fail("--copy-from needs --task")
            stored = session.copy_version(project, _existing_project(args.copy_from), args.task)
            print(f"copied {args.copy_from}'s {args.task} model as {stored.version}")
        if args.use and not args.import_file:
            task = args.task or next(
                (t for t in ("spam", "sentiment") if args.use.startswith(f"{t}-")), None
            )
            if task is None:
                return _fail("--use needs --task (which task's model to use)")
            session.record_version(project, task, args.use)
            print(
                f"{task}: now using {args.use} (predictions change when the window or "
                "classify --project next predicts)"
            )
        for task in [args.task] if args.task else ["spam", "sentiment"]:
            print("\n".join(report.version_lines(session.list_versions(project, task))))
    return 0


def _export(args, bar: _Bar) -> int:
    from guiapp.core import export
    from guiapp.core.project import Project, backup_paths

    with Project.open(_existing_project(args.project)) as project:
        done = export.export_messages(
            project.collection,
            args.output,
            scope=args.scope,
            spreadsheet_safe=args.spreadsheet_safe,
            inputs=[project.path, *backup_paths(project.path)],
            on_progress=bar,
        )
    bar.close()
    if not args.quiet:
        print(f"exported {done.rows:,} messages -> {args.output}", file=sys.stderr)
        for note in done.notes:
            print(f"note: {note}", file=sys.stderr)
    return 0


_PROJECT_COMMANDS = {
    "import": _import,
    "label": _label,
    "retrain": _retrain,
    "versions": _versions,
    "export": _export,
}


def _evaluate(args, bar: _Bar) -> int:
    from guiapp.core import pipeline

    report = pipeline.evaluate_files(
        args.inputs,
        label_column=args.label_column,
        text_column=args.text_column,
        task=args.task,
        project=_existing_project(args.project) if args.project else None,
        on_progress=bar,
    )
    bar.close()
    print(report)
    return 0


def _train(args, bar: _Bar) -> int:
    from guiapp.core import pipeline

    report = pipeline.train_command(
        spam=args.spam,
        sentiment=args.sentiment,
        data_dir=Path(args.data) if args.data else None,
        out_dir=Path(args.out) if args.out else None,
        on_progress=bar,
    )
    bar.close()
    print(report)
    return 0
