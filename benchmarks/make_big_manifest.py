"""Write a synthetic VGGSound-format csv (headerless: youtube_id,start,label,split).

For the DAG-scaling benchmark: ``python benchmarks/make_big_manifest.py OUT.csv [--rows N]``
writes N rows (default 200000, VGGSound's size) with distinct, valid 11-character ids,
309 class names (some quoted because they hold commas) and a 93/7 train/test split.
Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from datar.io import atomic_write

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def write_big_manifest(path: Path, *, rows: int, classes: int = 309, test_fraction: float = 0.07, seed: int = 0) -> None:
    """Write ``rows`` VGGSound-format rows to ``path`` atomically."""
    rng = random.Random(seed)
    labels = [f"sound class {k}" if k % 10 else f"sound, class {k}" for k in range(classes)]
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        for i in range(rows):
            # 10 characters of the row number in base 64 + 1 random character: unique ids.
            n, digits = i, []
            for _ in range(10):
                n, r = divmod(n, 64)
                digits.append(ALPHABET[r])
            ytid = "".join(reversed(digits)) + rng.choice(ALPHABET)
            split = "test" if rng.random() < test_fraction else "train"
            w.writerow([ytid, rng.randrange(0, 600), labels[rng.randrange(classes)], split])


def main(argv: list[str] | None = None) -> int:
    """Command line: ``make_big_manifest.py OUT [--rows N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_big_manifest(args.out, rows=args.rows, seed=args.seed)
    print(f"wrote {args.rows} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
