"""``python -m benchmarks``: every stage, ours beside the plain way, into RESULTS.md.

Each measurement runs in its own Python process (:mod:`benchmarks.stages`,
:mod:`benchmarks.bench_window`, :mod:`benchmarks.bench_stall`, :mod:`benchmarks.bench_stream`)
so that it reports its own peak memory. Results are kept in ``benchmarks/cache/results.json``
(a later run of some stages replaces only their rows) and the table is written to
``benchmarks/RESULTS.md`` and printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import _common as C

STAGES = ("import", "classify", "cluster", "export", "retrain", "window", "stall", "stream")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
MBOX_SIZES = (10_000, 100_000)
RESULTS = C.HERE / "RESULTS.md"


def _results_file() -> Path:
    return C.cache_dir() / "results.json"


def load_results() -> dict:
    try:
        return json.loads(_results_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_results(results: dict) -> None:
    tmp = _results_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")
    tmp.replace(_results_file())


# ----------------------------------------------------------------------------- running
def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Each measurement sets its own throw-away TRIAGE_DATA_DIR (shipped models only).
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(cmd: list[str], timeout: float, label: str) -> tuple[int | None, str, float]:
    """Run a measurement process; (exit code or None on timeout, stdout, wall seconds)."""
    print(f"  {label} ...", end="", flush=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=C.REPO, env=_env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        wall = time.perf_counter() - start
        print(f" timed out after {wall:.0f} s")
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return None, out, wall
    wall = time.perf_counter() - start
    print(f" {wall:.0f} s" + ("" if proc.returncode == 0 else f" (exit {proc.returncode})"))
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-15:]
        print("    " + "\n    ".join(tail))
    return proc.returncode, proc.stdout, wall


def run_stage(stage: str, impl: str, size: int, runs: int, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.stages", stage, impl, str(size), "--runs", str(runs)]
    code, out, wall = _run(cmd, timeout, f"{stage:<11} {impl:<5} {size:>9,} x{runs}")
    record = {"stage": stage, "impl": impl, "size": size, "runs": runs}
    for line in out.splitlines():
        if line.startswith("@@RESULT "):
            record = json.loads(line[len("@@RESULT ") :])
    if code is None:
        record["timed_out"] = timeout
    elif "median" not in record and "error" not in record:
        record["error"] = f"exit {code} without a result"
    record["wall_seconds"] = round(wall, 1)
    record["measured"] = datetime.now(UTC).isoformat(timespec="seconds")
    return record


def run_script(module: str, args: list[str], timeout: float, label: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "figures.json"
        cmd = [sys.executable, "-m", module, *args, "--json", str(out_json)]
        code, out, wall = _run(cmd, timeout, label)
        record: dict = {"wall_seconds": round(wall, 1)}
        if out_json.exists():
            record.update(json.loads(out_json.read_text(encoding="utf-8")))
        if code is None:
            record["timed_out"] = timeout
        elif code != 0:
            record["error"] = f"exit {code}"
            record["stdout_tail"] = out.strip().splitlines()[-20:]
    record["measured"] = datetime.now(UTC).isoformat(timespec="seconds")
    return record


def runs_for(size: int, args: argparse.Namespace, stage: str = "", impl: str = "ours") -> int:
    """Fewer runs where one run takes long: 1M rows, 100k emails, retraining; the plain way
    at those sizes once (its figure is there for the ratio, not for tracking)."""
    large = size >= 1_000_000 or (stage == "import_mbox" and size >= 100_000) or stage == "retrain"
    if not large:
        return args.runs
    return args.runs_large if impl == "ours" else min(args.runs_large, args.plain_runs_large)


def measure(args: argparse.Namespace) -> dict:
    results = load_results()
    results["machine"] = C.machine()
    ways = ["ours"] if args.no_plain else ["ours", "plain"]

    def pair(stage: str, size: int) -> None:
        for impl in ways:
            timeout = args.timeout if impl == "ours" else args.plain_timeout
            record = run_stage(stage, impl, size, runs_for(size, args, stage, impl), timeout)
            results[f"{stage}|{impl}|{size}"] = record
            save_results(results)

    stages = args.stages
    print(f"benchmarks: stages {', '.join(stages)}; sizes {', '.join(map(str, args.sizes))}")
    if "import" in stages:
        for n in args.sizes:
            pair("import_csv", n)
        for n in [s for s in args.sizes if s <= max(MBOX_SIZES)]:
            pair("import_mbox", n)
    if "classify" in stages:
        for n in args.sizes:
            pair("classify", n)
        record = run_stage("accuracy", "ours", 0, 1, args.timeout)
        results["accuracy"] = record
        save_results(results)
    if "cluster" in stages:
        for n in args.sizes:
            pair("cluster", n)
        # Sampling with replacement repeats texts, which the clustering processes once;
        # the worst case, every text distinct, beside it (ours only: the plain way never
        # de-duplicates).
        n = max(args.sizes)
        results[f"cluster_distinct|ours|{n}"] = run_stage(
            "cluster_distinct", "ours", n, runs_for(n, args, "cluster_distinct"), args.timeout
        )
        save_results(results)
    if "export" in stages:
        for n in args.sizes:
            pair("export", n)
    if "retrain" in stages:
        pair("retrain", args.retrain_labels)
    biggest = max(args.sizes)
    if "window" in stages:
        results["window"] = run_script(
            "benchmarks.bench_window", ["--rows", str(biggest)], args.timeout, f"window {biggest:,}"
        )
        save_results(results)
    if "stall" in stages:
        from benchmarks import stall_report

        dumps = C.cache_dir() / f"stalls_{biggest}.txt"
        results["stall"] = run_script(
            "benchmarks.bench_stall",
            ["--rows", str(biggest), "--dump-stalls", str(dumps)],
            args.timeout,
            f"stall {biggest:,}",
        )
        if dumps.exists():
            results["stall"]["where"] = stall_report.report(
                dumps.read_text(encoding="utf-8", errors="replace"), top=5
            )
        save_results(results)
    if "stream" in stages:
        results["stream"] = run_script(
            "benchmarks.bench_stream",
            ["--rows", str(args.stream_rows)],
            args.timeout * 3,
            f"stream {args.stream_rows:,}",
        )
        save_results(results)
    return results


# ----------------------------------------------------------------------------- reporting
def _secs(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if x < 0.1:
        return f"{x * 1000:.0f} ms"
    if x < 10:
        return f"{x:.2f} s"
    return f"{x:.1f} s"


def _mb(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f} MB"


def _rec(results: dict, stage: str, impl: str, size: int) -> dict | None:
    return results.get(f"{stage}|{impl}|{size}")


def _time_cell(rec: dict | None) -> str:
    if rec is None:
        return "not run"
    if "timed_out" in rec:
        return f"> {rec['timed_out']:.0f} s (stopped)"
    if "error" in rec:
        return "error: " + rec["error"].splitlines()[0][:60]
    return _secs(rec["median"]) + _runs_note(rec)


def _runs_note(rec: dict) -> str:
    """ " (3 runs, load 1.7)": the run count and the median load average before them."""
    runs = len(rec.get("seconds", []))
    loads = sorted(rec.get("load_average") or [])
    load = f", load {loads[len(loads) // 2]:.1f}" if loads else ""
    return f" ({runs} run{'s' if runs != 1 else ''}{load})"


def _ratio(ours: dict | None, plain: dict | None) -> str:
    if not ours or not plain or "median" not in ours:
        return "—"
    if "timed_out" in plain:
        return f"< {ours['median'] / plain['timed_out']:.2f}×"
    if "median" not in plain or not plain["median"]:
        return "—"
    return f"{ours['median'] / plain['median']:.2f}×"


def _verdict(ok: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "—"}[ok]


def table_rows(results: dict) -> list[list[str]]:
    """| stage | size | target | ours | plain | ours ÷ plain | target met | peak RSS ours / plain |"""
    rows: list[list[str]] = []

    def add(stage, size, label, target, check, unit="time"):
        ours, plain = _rec(results, stage, "ours", size), _rec(results, stage, "plain", size)
        ok = None
        if ours is not None and "median" in ours and check is not None:
            ok = check(ours)
        elif ours is not None and check is not None:
            ok = False
        if unit == "rate" and ours and "per_second" in ours:
            ours_cell = (
                f"{ours['per_second']:,.0f} msg/s, {_secs(ours['median'])}{_runs_note(ours)}"
            )
        else:
            ours_cell = _time_cell(ours)
        if unit == "rate" and plain and "per_second" in plain:
            plain_cell = (
                f"{plain['per_second']:,.0f} msg/s, {_secs(plain['median'])}{_runs_note(plain)}"
            )
        else:
            plain_cell = _time_cell(plain)
        rss = f"{_mb((ours or {}).get('peak_rss_mb'))} / {_mb((plain or {}).get('peak_rss_mb'))}"
        rows.append(
            [
                label,
                f"{size:,}",
                target,
                ours_cell,
                plain_cell,
                _ratio(ours, plain),
                _verdict(ok),
                rss,
            ]
        )

    for n in DEFAULT_SIZES:
        add(
            "import_csv",
            n,
            "import CSV (short messages)",
            "≤ 5 s" if n == 1_000_000 else "",
            (lambda r: r["median"] <= 5) if n == 1_000_000 else None,
        )
    for n in MBOX_SIZES:
        add(
            "import_mbox",
            n,
            "import mbox (emails)",
            "≤ 30 s" if n == 100_000 else "",
            (lambda r: r["median"] <= 30) if n == 100_000 else None,
        )
    acc = results.get("accuracy", {})
    for n in DEFAULT_SIZES:
        big = n == 1_000_000
        add(
            "classify",
            n,
            "classify, both models",
            "≥ 50,000 msg/s, accuracy unchanged" if big else "",
            (lambda r: r["per_second"] >= 50_000 and bool(acc.get("matches_cards")))
            if big
            else None,
            unit="rate",
        )
    for n in DEFAULT_SIZES:
        target = {1_000_000: 60, 100_000: 8}.get(n)
        add(
            "cluster",
            n,
            "cluster (k=20)",
            f"≤ {target} s" if target else "",
            (lambda r, t=target: r["median"] <= t) if target else None,
        )
    for key in sorted(k for k in results if k.startswith("cluster_distinct|")):
        n = int(key.split("|")[2])
        add(
            "cluster_distinct",
            n,
            "cluster (k=20), every text distinct (worst case)",
            "≤ 60 s" if n == 1_000_000 else ("≤ 8 s" if n == 100_000 else ""),
            (lambda r, t={1_000_000: 60, 100_000: 8}.get(n): r["median"] <= t)
            if n in (100_000, 1_000_000)
            else None,
        )
    labels = sorted({int(k.split("|")[2]) for k in results if k.startswith("retrain|")} or {50_000})
    for n in labels:
        ours = _rec(results, "retrain", "ours", n) or {}
        cancel = (ours.get("cancel") or {}).get("worst")
        add(
            "retrain",
            n,
            "retrain both models (labels per model)",
            "≤ 10 s",
            lambda r: r["median"] <= 10,
        )
        rows.append(
            [
                "retrain: Cancel takes effect",
                f"{n:,}",
                "≤ 1 s",
                _secs(cancel) + " (worst of 4)" if cancel is not None else "not run",
                "— (a plain fit cannot be cancelled)",
                "—",
                _verdict(None if cancel is None else cancel <= 1.0),
                "",
            ]
        )
    for n in DEFAULT_SIZES:
        add(
            "export",
            n,
            "export CSV",
            "≤ 5 s" if n == 1_000_000 else "",
            (lambda r: r["median"] <= 5) if n == 1_000_000 else None,
        )
    rows += window_rows(results)
    return rows


_WINDOW = (
    ("first paint after import", "window: first paint after import"),
    ("sort by P(spam), descending", "window: sort by a score column"),
    ("search 'free'", "window: search filter ('free')"),
    ("label 100,000 rows spam (saved first)", "window: bulk relabel 100,000 rows"),
    ("undo it", "window: undo the bulk relabel"),
)


def window_rows(results: dict) -> list[list[str]]:
    rows = []
    win = results.get("window")
    no_plain = "— (no plain equivalent)"
    if win is None:
        rows.append(
            ["window (1,000,000 rows)", "", "≤ 1 s each", "not run", no_plain, "—", "—", ""]
        )
    else:
        n = win.get("rows", 0)
        for key, label in _WINDOW:
            if key.startswith("label "):  # named by its row count: "label 100,000 rows spam ..."
                key = next((k for k in win if k.startswith("label ") and "rows" in k), key)
                label = f"window: bulk relabel {key.split()[1]} rows"
            value = win.get(key)
            rows.append(
                [
                    label,
                    f"{n:,}",
                    "≤ 1 s",
                    _secs(value) if value is not None else win.get("error", "not measured"),
                    no_plain,
                    "—",
                    _verdict(None if value is None else value <= 1.0),
                    "",
                ]
            )
    stall = results.get("stall")
    if stall is None or "worst_stall_ms" not in stall:
        cell = "not run" if stall is None else stall.get("error", "failed")
        rows.append(["longest GUI-thread stall", "", "≤ 50 ms", cell, no_plain, "—", "—", ""])
    else:
        worst = stall["worst_stall_ms"]
        parts = ", ".join(
            f"{task} {stall[task]['worst_stall_during_ms']:.0f} ms running / "
            f"{stall[task]['worst_stall_applying_result_ms']:.0f} ms applying"
            for task in ("startup", "import", "retrain", "recluster")
            if task in stall
        )
        rows.append(
            [
                "longest GUI-thread stall (start-up warm-up, background import, retrain, "
                "re-cluster)",
                f"{stall['rows']:,}",
                "≤ 50 ms",
                f"{worst:.0f} ms ({parts})",
                no_plain,
                "—",
                _verdict(worst <= 50),
                "",
            ]
        )
        peak = stall["import"].get("peak_rss_mb_loaded_and_classified")
        rows.append(
            [
                "peak memory, window with the messages loaded and classified",
                f"{stall['rows']:,}",
                "≤ 2.5 GB",
                _mb(peak),
                no_plain,
                "—",
                _verdict(None if peak is None else peak <= 2.5 * 1024),
                _mb(peak),
            ]
        )
    return rows


def render(results: dict) -> str:
    header = [
        "stage",
        "size",
        "target",
        "ours (median)",
        "plain way (median)",
        "ours ÷ plain (time)",
        "met?",
        "peak RSS ours / plain",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table_rows(results):
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


README = Path(__file__).resolve().parents[1] / "README.md"
README_START = "<!-- benchmark table: written by python -m benchmarks -->"
README_END = "<!-- end of benchmark table -->"


def write_markdown(results: dict, path: Path = RESULTS, readme: Path = README) -> str:
    """RESULTS.md, and the same table in the README between its two markers."""
    from benchmarks import report

    table = render(results)
    text = report.markdown(results, table)
    path.write_text(text, encoding="utf-8")
    if readme.exists():
        old = readme.read_text(encoding="utf-8")
        start, end = old.find(README_START), old.find(README_END)
        if 0 <= start < end:
            new = old[: start + len(README_START)] + "\n" + table + "\n" + old[end:]
            if new != old:
                readme.write_text(new, encoding="utf-8")
    return text


# ----------------------------------------------------------------------------- command line
def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure Triage's stages beside the plain way; write benchmarks/RESULTS.md.",
    )
    parser.add_argument(
        "--stages",
        nargs="+",
        choices=STAGES,
        default=[s for s in STAGES if s != "stream"],
        help="stages to measure (default: all but stream, which takes ~20 minutes more)",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=int,
        default=list(DEFAULT_SIZES),
        help="collection sizes (the mbox uses those up to 100,000; window/stall the largest)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement below 1M rows")
    parser.add_argument(
        "--runs-large",
        type=int,
        default=2,
        help="runs at 1,000,000 rows, 100,000 emails and for retraining",
    )
    parser.add_argument(
        "--plain-runs-large", type=int, default=1, help="runs of the plain way at those sizes"
    )
    parser.add_argument("--retrain-labels", type=int, default=50_000, help="labels per model")
    parser.add_argument("--stream-rows", type=int, default=10_000_000)
    parser.add_argument("--no-plain", action="store_true", help="skip the plain way")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per measurement")
    parser.add_argument(
        "--plain-timeout", type=float, default=600, help="seconds per plain-way measurement"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite RESULTS.md from the stored results"
    )
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 1 run, no stream")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.runs, args.runs_large, args.plain_runs_large = [10_000], 1, 1, 1
        args.retrain_labels = 5_000
        args.stages = [s for s in args.stages if s != "stream"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    results = load_results() if args.report_only else measure(args)
    text = write_markdown(results)
    print()
    print(text)
    print(f"\n(wrote {RESULTS.relative_to(C.REPO)}; {time.perf_counter() - started:.0f} s)")
    return 0
