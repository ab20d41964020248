"""The per-epoch training log ``log.csv``: rewritten whole, atomically, after every epoch.

The rows also live in ``last.ckpt``, so the log survives a workflow manager deleting the
outputs of a failed job before it retries.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datar.io import write_text_atomic

#: ``capped_at_step`` is set on the last row of a run that ``train.max_steps`` ended early.
COLUMNS: tuple[str, ...] = ("epoch", "step", "train_loss", "lr", "val_top1", "samples_per_s", "seconds",
                            "capped_at_step")


def write_log(path: str | os.PathLike[str], rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` (dicts with :data:`COLUMNS`; missing or None -> empty) to ``path``."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if row.get(k) is None else row[k]) for k in COLUMNS})
    write_text_atomic(path, buf.getvalue())


def read_log(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of ``log.csv`` as strings; [] if the file is missing or unreadable."""
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError):
        return []
