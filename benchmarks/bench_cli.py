"""`triage classify` end to end, CSV to CSV, beside the plain scikit-learn way.

The core issue's speed contract: on 2 cores, 100,000 tweets classified from CSV to CSV
(import, both models, k-means themes, export) in under 15 s, at least 20,000 messages/s
with clustering included, peak memory under 1.5 GB. The reference in the same run is a
script a user would write: ``pandas.read_csv``, a default ``TfidfVectorizer`` +
``LogisticRegression`` per task (fitted beforehand on the same training rows as ours, fit
time not counted), ``predict_proba``, ``DataFrame.to_csv`` — and, for the clustering
figure, ``KMeans(n_clusters=20)`` on the TF-IDF matrix.

Each run is a fresh process; peak RSS is that process's (``ru_maxrss`` of the child).

    python -m benchmarks.bench_cli [--rows 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import _common as C

PLAIN = r"""
import sys, joblib, pandas as pd
from sklearn.cluster import KMeans
models = joblib.load(sys.argv[1])
frame = pd.read_csv(sys.argv[2])
texts = frame["text"].fillna("")
spam = models["spam"].predict_proba(texts)[:, 1]
sent = models["sentiment"].predict_proba(texts)
frame["spam"] = ["spam" if p >= 0.5 else "ham" for p in spam]
frame["spam_score"] = spam
frame["sentiment"] = [("negative", "neutral", "positive")[i] for i in sent.argmax(axis=1)]
frame["sentiment_score"] = sent.max(axis=1)
if sys.argv[4] == "cluster":
    tfidf = models["sentiment"].steps[0][1].transform(texts)
    frame["cluster"] = KMeans(n_clusters=20, random_state=0).fit_predict(tfidf)
frame.to_csv(sys.argv[3], index=False)
"""


BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
from guiapp.core import pipeline, session
from guiapp.core.clustering import cluster_messages
from guiapp.core.collection import Collection
from guiapp.core.export import TableWriter
from guiapp.core.io import load_collection
t = {"imports": time.perf_counter() - t0}
s = time.perf_counter(); c = Collection.from_load(load_collection(sys.argv[1])); t["import"] = time.perf_counter() - s
s = time.perf_counter(); p = session.predict(c); t["predict (both models)"] = time.perf_counter() - s
for task, prob in p.prob.items():
    c.set_predictions(task, prob, p.versions[task])
s = time.perf_counter(); k = cluster_messages(c.messages, k=20); t["cluster (k=20)"] = time.perf_counter() - s
c.cluster[:] = k.labels
s = time.perf_counter(); table = pipeline.classify_table(c, k)
with TableWriter(sys.argv[2], table.schema) as w:
    w.write(table)
t["export"] = time.perf_counter() - s
print(json.dumps(t))
"""


def tweets_csv(n: int) -> Path:
    """``cache/tweets_<n>.csv``: SemEval tweets drawn with replacement (one text column)."""
    path = C.cache_dir() / f"tweets_{n}.csv"
    if path.exists():
        return path
    pool = C.semeval_frame(C.shared_data())
    sample = pool.iloc[C.draw(len(pool), n)].reset_index(drop=True)
    tmp = path.with_suffix(".tmp")
    sample[["text"]].to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(path)
    return path


def measure(cmd: list[str], runs: int) -> dict:
    seconds, rss = [], []
    for _ in range(runs):
        wrapper = [
            sys.executable,
            "-c",
            "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)",
            *cmd,
        ]
        start = time.perf_counter()
        result = subprocess.run(wrapper, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
        rss.append(int(result.stdout.strip().splitlines()[-1]) / 1024)
    return {"seconds": statistics.median(seconds), "runs": seconds, "rss_mb": max(rss)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from benchmarks import accuracy

    source = tweets_csv(args.rows)
    models_path = C.cache_dir() / "plain_models.joblib"
    accuracy.plain_models()  # fitted once, cached
    env_note = f"load average {os.getloadavg()[0]:.1f}"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.csv"

        def triage_classify(clusters: str) -> list[str]:
            return [sys.executable, "-m", "guiapp", "classify", str(source), "-o", str(out)] + [
                "--quiet",
                "--clusters",
                clusters,
            ]

        ours = measure(triage_classify("20"), args.runs)
        ours_nc = measure(triage_classify("0"), args.runs)
        plain = measure(
            [sys.executable, "-c", PLAIN, str(models_path), str(source), str(out), "cluster"],
            args.runs,
        )
        stages = []
        for _ in range(args.runs):
            done = subprocess.run(
                [sys.executable, "-c", BREAKDOWN, str(source), str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            stages.append(json.loads(done.stdout.strip().splitlines()[-1]))
        plain_nc = measure(
            [sys.executable, "-c", PLAIN, str(models_path), str(source), str(out), "none"],
            args.runs,
        )
    n = args.rows
    rows = [
        ("triage classify, k=20 themes", ours),
        ("triage classify, no themes", ours_nc),
        ("plain: read_csv + TF-IDF/LR x2 + KMeans(20) + to_csv", plain),
        ("plain, no clustering", plain_nc),
    ]
    print(
        f"# {n:,} SemEval tweets, CSV to CSV, median of {args.runs} runs, {env_note}, {os.cpu_count()} cores"
    )
    print("| run | seconds | messages/s | peak RSS | ours / plain |")
    print("|---|---|---|---|---|")
    for i, (name, r) in enumerate(rows):
        ref = rows[i + 2][1] if i < 2 else None
        ratio = f"{r['seconds'] / ref['seconds']:.2f}x" if ref else ""
        print(
            f"| {name} | {r['seconds']:.2f} | {n / r['seconds']:,.0f} | {r['rss_mb']:,.0f} MB | {ratio} |"
        )
    print(
        f"targets: end to end < 15 s: {'met' if ours['seconds'] < 15 else 'MISSED'}; "
        f"peak < 1.5 GB: {'met' if ours['rss_mb'] < 1536 else 'MISSED'}"
    )
    median = {key: statistics.median(run[key] for run in stages) for key in stages[0]}
    print("\nin one process (median):", ", ".join(f"{k} {v:.2f} s" for k, v in median.items()))
    work = median["predict (both models)"] + median["cluster (k=20)"]
    print(
        f"classification throughput, both models + clustering (no start-up, no I/O): "
        f"{n / work:,.0f} messages/s ({'met' if n / work >= 20_000 else 'MISSED'} >= 20,000)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
