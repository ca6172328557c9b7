"""RESULTS.md: machine, versions, the table, and the details behind each row."""

from __future__ import annotations

import json

from benchmarks import _common as C

ANALYSIS = C.HERE / "ANALYSIS.md"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value < 1 else f"{value:,.2f}"
    return str(value)


def _machine(results: dict) -> list[str]:
    m = results.get("machine", {})
    return [f"- {k}: {v}" for k, v in m.items()]


def _accuracy(results: dict) -> list[str]:
    acc = results.get("accuracy")
    if not acc or "splits" not in acc:
        return ["Not measured (run the `classify` stage)."]
    out = [
        "Held-out test splits of the shipped models (their cards' splits). *ours* is the fast "
        "path Triage predicts with (features hashed once for both models, scored with "
        "`bincount`); *sklearn path* is the same fitted pipeline's own `predict_proba`; "
        "*plain* is `TfidfVectorizer()` + `LogisticRegression()` with defaults fitted on the "
        "same training rows.",
        "",
        "| split | n | metric | ours | ours, sklearn path | card | plain way |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in acc["splits"].items():
        for metric in ("accuracy", "macro_recall"):
            out.append(
                f"| {name} | {s['n']:,} | {metric.replace('_', ' ')} | {_fmt(s['ours'][metric])} | "
                f"{_fmt(s['ours_sklearn_path'][metric])} | {_fmt(s['card'][metric])} | "
                f"{_fmt(s['plain'][metric])} |"
            )
    out += [
        "",
        f"- largest probability difference, fast path vs sklearn path, over every test "
        f"message: {acc['fast_vs_sklearn_max_prob_diff']:.2e}; predicted labels that differ: "
        f"{acc['fast_vs_sklearn_labels_changed']}",
        f"- fast path reproduces the cards' accuracy (±0.001): {acc['matches_cards']}",
        "- plain models' fit time (not part of the classify figure): "
        + ", ".join(f"{t} {s:.1f} s" for t, s in acc.get("plain_fit_seconds", {}).items()),
    ]
    return out


def _classify(results: dict) -> list[str]:
    out = []
    for key in sorted(k for k in results if k.startswith("classify|")):
        r = results[key]
        if "median" not in r:
            continue
        _, impl, size = key.split("|")
        agree = ", ".join(
            f"{t} {r[f'{t}_agreement_with_corpus_labels']:.3f}"
            for t in ("spam", "sentiment")
            if f"{t}_agreement_with_corpus_labels" in r
        )
        load = (
            f" (of which loading and checking both model files: {r['model_load_seconds']:.2f} s)"
            if "model_load_seconds" in r
            else ""
        )
        out.append(
            f"- {impl} {int(size):,}: {r['per_second']:,.0f} msg/s, runs "
            f"{', '.join(f'{s:.2f}' for s in r['seconds'])} s{load}; load average "
            f"{r.get('load_average')}; agreement with the corpus label of the sampled rows "
            f"(mostly training rows, so not an accuracy): {agree}"
        )
    return out


def _retrain(results: dict) -> list[str]:
    out = []
    for key in sorted(k for k in results if k.startswith("retrain|")):
        r = results[key]
        _, impl, size = key.split("|")
        if "median" not in r:
            out.append(f"- {impl}: {r.get('error', 'no result')}")
            continue
        out.append(
            f"- {impl}, {int(size):,} labels per model ({r.get('rows', 0):,} messages): runs "
            f"{', '.join(f'{s:.2f}' for s in r['seconds'])} s"
        )
        if "cancel" in r:
            out.append(
                "  - Cancel → `session.retrain` returns, seconds by moment of the request: "
                + ", ".join(f"{k}: {v}" for k, v in r["cancel"].items())
            )
        for task in ("spam", "sentiment"):
            cv = r.get(f"{task}_cv")
            if cv:
                out.append(
                    f"  - {task}: on the user's labels, before {cv['before']}, after "
                    f"{cv['after']} ({cv['method']})"
                )
    return out or ["Not measured."]


def _dict_lines(d: dict, skip=()) -> list[str]:
    lines = []
    for k, v in d.items():
        if k in skip:
            continue
        if isinstance(v, float):
            v = f"{v * 1000:.1f} ms" if v < 1 and "MB" not in k and "rows" not in k else f"{v:,.3f}"
        lines.append(f"- {k}: {v}")
    return lines


def _window(results: dict) -> list[str]:
    win = results.get("window")
    if not win:
        return ["Not measured."]
    return [
        "`benchmarks/bench_window.py` (the window engineer's script; times until the table "
        "has repainted, collection built from the corpora with cached real predictions and "
        "themes):",
        "",
        *_dict_lines(win, skip=("measured",)),
    ]


def _stall(results: dict) -> list[str]:
    stall = results.get("stall")
    if not stall:
        return ["Not measured."]
    where = stall.get("where")
    figures = {k: v for k, v in stall.items() if k != "where"}
    out = [
        "`benchmarks/bench_stall.py`: a 10 ms precise `QTimer` on the GUI thread; lateness = "
        "gap between ticks − 10 ms. *during*: while a background task of that kind ran; "
        "*applying*: the rest until the window applied the result, plus 1.5 s (hand-over "
        "between tasks, result handlers on the GUI thread, what they start).",
        "",
        "```json",
        json.dumps(figures, indent=1),
        "```",
    ]
    if where:
        out += [
            "",
            "Where the threads were 60 ms into each stall (faulthandler dumps, "
            "`python -m benchmarks.stall_report benchmarks/cache/stalls_<rows>.txt`):",
            "",
            "```",
            where,
            "```",
        ]
    return out


def _stream(results: dict) -> list[str]:
    stream = results.get("stream")
    if not stream:
        return ["Not measured in this run (`python -m benchmarks --stages stream`)."]
    return ["```json", json.dumps(stream, indent=1), "```"]


def markdown(results: dict, table: str) -> str:
    parts = [
        "# Benchmark results",
        "",
        "Generated by `python -m benchmarks` (see `benchmarks/README.md`); do not edit by hand "
        "— the analysis at the end comes from `benchmarks/ANALYSIS.md`. Workloads are drawn "
        "with replacement from the real corpora in `../shared/data`. Each figure is the "
        "median of the runs shown, each measurement in its own process (peak RSS is that "
        "process's). *ours ÷ plain* below 1 means Triage is faster. The machine is shared and "
        "noisy.",
        "",
        "## Machine",
        "",
        *_machine(results),
        "",
        "## Results",
        "",
        table,
        "",
        "## Accuracy beside speed",
        "",
        *_accuracy(results),
        "",
        "### Classification runs",
        "",
        *_classify(results),
        "",
        "## Retraining",
        "",
        *_retrain(results),
        "",
        "## Window (1,000,000 rows)",
        "",
        *_window(results),
        "",
        "## GUI-thread stalls during background work",
        "",
        *_stall(results),
        "",
        "## `triage classify` streaming (10,000,000 rows)",
        "",
        *_stream(results),
        "",
    ]
    if ANALYSIS.exists():
        parts += [ANALYSIS.read_text(encoding="utf-8").strip(), ""]
    return "\n".join(parts)
