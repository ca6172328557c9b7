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

SUBCOMMANDS = ("classify", "evaluate", "train", "open")


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
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("evaluate", help="score the current models on labelled data")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--label-column", help="column holding the labels (default: recognised by name)")
    p.add_argument("--text-column")
    p.add_argument("--task", choices=("spam", "sentiment"), help="only this task")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("train", help="train models (no arguments: rebuild the shipped ones)")
    p.add_argument("--spam", nargs="+", metavar="FILE", help="labelled spam/ham files")
    p.add_argument("--sentiment", nargs="+", metavar="FILE", help="labelled sentiment files")
    p.add_argument("--data", help="corpora folder for the shipped models (default ../shared/data)")
    p.add_argument(
        "--out", help="output folder (default: models/ for a rebuild, else the user's model store)"
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
        on_progress=bar,
    )
    bar.close()
    if not args.quiet:
        print(summary, file=sys.stderr)
    return 0


def _evaluate(args, bar: _Bar) -> int:
    from guiapp.core import pipeline

    report = pipeline.evaluate_files(
        args.inputs,
        label_column=args.label_column,
        text_column=args.text_column,
        task=args.task,
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
