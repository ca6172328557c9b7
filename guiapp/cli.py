"""The `triage` command line: argument parsing only; the work is done by guiapp.core."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print("triage: not built yet", file=sys.stderr)
    return 1
