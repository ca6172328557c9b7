"""Summarise the stacks bench_stall.py --dump-stalls wrote during GUI-thread stalls.

Each dump is faulthandler's picture of every thread 60 ms into a stall. For each task the
report counts, over its dumps, where the GUI (main) thread was and where the other threads
were -- the GUI thread waiting in Qt's event loop while a worker sits in one C call points
at a call that holds the GIL; the GUI thread inside Python code points at work done on the
GUI thread itself.

Usage::

    python -m benchmarks.stall_report stalls.txt
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict

_FRAME = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<fn>\S+)')


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def parse(text: str) -> dict[str, list[list[list[str]]]]:
    """task -> dumps -> threads -> frames (most recent first, "file:line fn")."""
    tasks: dict[str, list[list[list[str]]]] = defaultdict(list)
    task = "(before any task)"
    dump: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("=== task "):
            task = line.removeprefix("=== task ").strip()
            dump = None
            continue
        if line.startswith("Timeout ("):
            dump = []
            tasks[task].append(dump)
            continue
        if line.startswith(("Thread 0x", "Current thread 0x")):
            if dump is None:
                dump = []
                tasks[task].append(dump)
            dump.append([])
            continue
        m = _FRAME.match(line)
        if m and dump:
            dump[-1].append(f"{_short(m['file'])}:{m['line']} {m['fn']}")
    return tasks


def report(text: str, top: int = 8) -> str:
    out = []
    for task, dumps in parse(text).items():
        gui: Counter[str] = Counter()
        others: Counter[str] = Counter()
        for dump in dumps:
            for frames in dump:
                if not frames:
                    continue
                is_gui = any("bench_stall.py" in f and "main" in f for f in frames)
                head = " <- ".join(frames[:3])
                (gui if is_gui else others)[head] += 1
        out.append(f"== {task}: {len(dumps)} stall(s) over 60 ms")
        out.append("  GUI thread was in:")
        out += [f"    {n:4d}  {where}" for where, n in gui.most_common(top)]
        out.append("  other threads were in:")
        out += [f"    {n:4d}  {where}" for where, n in others.most_common(top)]
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8", errors="replace") as fh:
        print(report(fh.read()))
