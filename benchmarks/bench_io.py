"""Time the importers on big inputs built from the real corpora in ../shared/data.

- a 1,000,000-row short-message CSV: one ``text`` column, texts drawn with replacement from
  the SMS Spam Collection and the SemEval 2013-2016 tweets (no id column, so every row's id
  is a content hash -- the worst case);
- a 100,000-message mbox: raw SpamAssassin messages (spam-1 + easy-ham-1) drawn with
  replacement, each after its own ``From`` line, body ``From`` lines escaped (mboxrd).

Targets (brief): CSV <= 5 s, mbox <= 30 s on 2 cores. The inputs are written once into the
cache folder (default /tmp/triage-bench-io) and reused.

Usage::

    python benchmarks/bench_io.py                    # both, 1 run each
    python benchmarks/bench_io.py --only csv --runs 3
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import resource
import tarfile
import time
from pathlib import Path

from guiapp.core.io import load_collection
from guiapp.core.paths import shared_data_dir


def _texts(shared: Path) -> list[str]:
    texts = []
    with (shared / "sms_spam_collection" / "SMSSpamCollection").open(encoding="utf-8") as fh:
        texts += [line.rstrip("\n").split("\t", 1)[1] for line in fh]
    for path in sorted((shared / "semeval_sentiment").glob("*.tsv")):
        with path.open(encoding="utf-8") as fh:
            texts += [p[2] for p in (ln.rstrip("\n").split("\t") for ln in fh) if len(p) >= 3]
    return texts


def build_csv(shared: Path, path: Path, rows: int) -> None:
    rng = random.Random(0)
    texts = _texts(shared)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text"])
        for _ in range(rows):
            writer.writerow([rng.choice(texts)])


_ESCAPE = re.compile(rb"^(>*From )", re.M)


def build_mbox(shared: Path, path: Path, messages: int) -> None:
    rng = random.Random(0)
    raw = []
    with tarfile.open(shared / "spamassassin" / "spamassassin-dev.tar.gz") as tar:
        for info in tar:
            if info.isfile():
                raw.append(tar.extractfile(info).read())  # type: ignore[union-attr]
    with path.open("wb") as out:
        for _ in range(messages):
            msg = rng.choice(raw).replace(b"\r\n", b"\n")
            if msg.startswith(b"From "):
                first, _, rest = msg.partition(b"\n")
            else:
                first, rest = b"From MAILER-DAEMON Thu Jan  1 00:00:00 2002", msg
            out.write(first + b"\n" + _ESCAPE.sub(rb">\1", rest).rstrip(b"\n") + b"\n\n")


def timed(path: Path, runs: int) -> None:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = load_collection(path)
        times.append(time.perf_counter() - start)
    size = path.stat().st_size / 1e6
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{path.name}: {len(result.messages):,} messages, {size:,.0f} MB, "
        f"best {min(times):.2f} s of {runs} (all: {', '.join(f'{t:.2f}' for t in times)}), "
        f"{len(result.problems)} problems, peak RSS {peak:,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["csv", "mbox"])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/triage-bench-io"))
    args = parser.parse_args()
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("needs ../shared/data (or TRIAGE_SHARED_DATA)")
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "csv"):
        path = args.cache / "short_messages_1m.csv"
        if not path.exists():
            build_csv(shared, path, 1_000_000)
        timed(path, args.runs)
    if args.only in (None, "mbox"):
        path = args.cache / "spamassassin_100k.mbox"
        if not path.exists():
            build_mbox(shared, path, 100_000)
        timed(path, args.runs)


if __name__ == "__main__":
    main()
