"""Summarise the stacks bench_stall.py --dump-stalls wrote during GUI-thread stalls.

Each dump is faulthandler's picture of every thread 60-90 ms into a stall; after it (or alone,
when the whole process was starved and the watchdog thread could not run either) comes the
stall's breakdown measured by the ticker on the GUI thread: its CPU time in the gap, its
run-queue wait (runnable, not scheduled: the cores were busy elsewhere), the time it was
blocked beyond the timer's 10 ms (the interpreter lock or I/O), its context switches and the
machine's steal time. For each task the report first classes the stalls by what dominated,
then counts, over the dumps, where the GUI (main) thread was and where the other threads
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
_STALL = re.compile(
    r"^Stall (?P<late>[\d.]+) ms: cpu (?P<cpu>[\d.]+), run queue (?P<queued>[\d.]+), "
    r"blocked (?P<blocked>[\d.]+) ms; switches (?P<voluntary>\d+) voluntary, "
    r"(?P<involuntary>\d+) involuntary(?:; steal (?P<steal>[\d.]+) ms)?"
)
KINDS = ("cpu", "queued", "blocked")
KIND_NAMES = {
    "cpu": "work on the GUI thread",
    "queued": "not scheduled (run queue)",
    "blocked": "blocked (GIL / I/O)",
}


def stalls(text: str) -> dict[str, list[dict[str, float]]]:
    """task -> the breakdown of each stall (ms; switch counts), in order."""
    out: dict[str, list[dict[str, float]]] = defaultdict(list)
    task = "(before any task)"
    for line in text.splitlines():
        if line.startswith("=== task "):
            task = line.removeprefix("=== task ").strip()
            continue
        m = _STALL.match(line)
        if m:
            out[task].append({k: float(v) for k, v in m.groupdict().items() if v is not None})
    return out


def dominant(stall: dict[str, float]) -> str:
    return max(KINDS, key=lambda k: stall[k])


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
    for task, items in stalls(text).items():
        out.append(f"== {task}: {len(items)} stall(s) over 60 ms, by what dominated the gap")
        for kind in KINDS:
            chosen = [s for s in items if dominant(s) == kind]
            if not chosen:
                continue
            worst = max(chosen, key=lambda s: s["late"])
            out.append(
                f"    {len(chosen):4d}  {KIND_NAMES[kind]}: worst {worst['late']:.0f} ms "
                f"(cpu {worst['cpu']:.0f}, queued {worst['queued']:.0f}, "
                f"blocked {worst['blocked']:.0f}; switches {worst['voluntary']:.0f} "
                f"voluntary / {worst['involuntary']:.0f} involuntary; "
                f"steal {worst.get('steal', 0):.0f})"
            )
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
