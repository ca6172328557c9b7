"""Time guiapp.core.clustering on real messages, and the plain scikit-learn way beside it.

Messages are drawn with replacement from the SMS Spam Collection and the SemEval 2013-2016
tweets in ../shared/data (55k distinct texts), so large samples repeat texts, as real piles
of SMS and tweets do, and the clustering processes each distinct text once. The "distinct"
rows add one unique nonsense token per message ("zq<row>") so that every text differs: that
is the worst case, where nothing is saved by de-duplication. The token appears once, so the
vocabulary (min. 2 rows) drops it; tokenising it is the only extra cost.

The plain way is ``KMeans(n_clusters=20)`` on the matrix of a default ``TfidfVectorizer``.

Usage::

    python benchmarks/bench_clustering.py                 # everything (about 3 minutes)
    python benchmarks/bench_clustering.py --sizes 10000 100000 --no-plain
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer

from guiapp.core import clustering
from guiapp.core.clustering import cluster_messages
from guiapp.core.messages import make_frame
from guiapp.core.paths import shared_data_dir

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def load_texts(data: Path) -> list[str]:
    """SMS texts and SemEval tweets (escapes decoded, wrapping quotes removed)."""
    sms = pd.read_csv(
        data / "sms_spam_collection" / "SMSSpamCollection",
        sep="\t",
        header=None,
        names=["label", "text"],
        quoting=csv.QUOTE_NONE,
        dtype=str,
        keep_default_na=False,
    )
    texts = sms["text"].tolist()
    for path in sorted((data / "semeval_sentiment").glob("*.tsv")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 3:
                    continue
                text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), parts[2])
                if len(text) > 1 and text[0] == text[-1] == '"':
                    text = text[1:-1]
                texts.append(text)
    return texts


def sample(texts: list[str], n: int, seed: int, distinct: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    picked = [texts[i] for i in rng.integers(0, len(texts), n)]
    if distinct:
        picked = [f"{t} zq{row}" for row, t in enumerate(picked)]
    return make_frame({"kind": ["text"] * n, "text": picked})


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(frame: pd.DataFrame, k: int | str, seed: int) -> tuple[float, object]:
    start = time.perf_counter()
    result = cluster_messages(frame, k=k, seed=seed)  # type: ignore[arg-type]
    return time.perf_counter() - start, result


def run_plain(frame: pd.DataFrame, seed: int) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    matrix = TfidfVectorizer().fit_transform(frame["text"].tolist())
    labels = KMeans(n_clusters=20, random_state=seed).fit_predict(matrix)
    return time.perf_counter() - start, labels


def _largest(labels: np.ndarray) -> float:
    """Share of the themed rows in the biggest theme (a catch-all theme is a bad sign)."""
    themed = labels[labels >= 0]
    return float(np.bincount(themed).max() / len(themed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--plain-sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-plain", action="store_true", help="skip the plain sklearn runs")
    parser.add_argument("--no-distinct", action="store_true", help="skip the all-distinct runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="clustering.THREADS (0: libraries' default)"
    )
    parser.add_argument("--themes", action="store_true", help="print the themes of each run")
    args = parser.parse_args()

    if args.threads is not None:
        clustering.THREADS = args.threads or None
    data = shared_data_dir()
    if data is None:
        print("../shared/data not found (set TRIAGE_SHARED_DATA)", file=sys.stderr)
        return 1
    texts = load_texts(data)
    print(
        f"{len(texts):,} messages ({len(set(texts)):,} distinct) from SMS + SemEval; "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; "
        f"clustering threads: {clustering.THREADS or 'default'}"
    )
    print(f"{'run':<38}{'seconds':>9}{'k':>4}  notes")
    ours: dict[int, float] = {}
    shown = None
    for n in args.sizes:
        for distinct in (False, True):
            if distinct and (args.no_distinct or n < 100_000):
                continue
            frame = sample(texts, n, args.seed, distinct)
            runs: list[int | str] = [20, "auto"] if n <= 10_000 else [20]
            for k in runs:
                seconds, result = run_ours(frame, k, args.seed)
                label = f"ours {n:>9,} k={k}" + (" all distinct" if distinct else "")
                extra = f"largest theme {_largest(result.labels):.0%}; peak RSS {peak_mb():,.0f} MB"
                if k == "auto":
                    extra += f"; silhouette best at k={result.k} of 2..{result.curve[-1][0]}"
                print(f"{label:<38}{seconds:>9.2f}{result.k:>4}  {extra}", flush=True)
                if k == 20 and not distinct:
                    ours[n] = seconds
                if args.themes or (shown is None and k == 20):
                    shown = result
                    for j in range(result.k):
                        print(f"    {result.sizes_fitted[j]:>8,}  {', '.join(result.top_terms[j])}")
            if not distinct and n == args.sizes[0]:
                new = sample(texts, 10_000, args.seed + 1, False)
                start = time.perf_counter()
                shown.assign(new)
                print(f"{'  assign() 10,000 new messages':<38}{time.perf_counter() - start:>9.2f}")
    if not args.no_plain:
        for n in args.plain_sizes:
            frame = sample(texts, n, args.seed, False)
            seconds, labels = run_plain(frame, args.seed)
            ratio = f"plain/ours time {seconds / ours[n]:.1f}; " if n in ours else ""
            print(
                f"{f'plain KMeans on TF-IDF {n:>9,} k=20':<38}{seconds:>9.2f}{20:>4}  "
                f"{ratio}largest theme {_largest(labels):.0%}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
