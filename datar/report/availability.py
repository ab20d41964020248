"""Clips actually available per split, read from ``{results}/data/{D}_availability.csv``.

The data stage (:mod:`datar.data.availability`) writes one row per split and a ``total``
row: ``split,manifest,downloaded,valid,paper,...``. This reader also accepts one row per
clip (``clip_id, split, status``) or another ``ok``-like count column, so the tables keep
working if that report changes shape.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from datar.errors import DataError

_OK_COLUMNS = ("ok", "available", "n_ok", "valid", "usable", "n_available")
_TOTAL_COLUMNS = ("total", "listed", "n_listed", "manifest", "n_manifest", "n", "rows")
_SPLIT_TOTAL_NAMES = {"all", "total", ""}


@dataclass(frozen=True)
class Availability:
    """Available (usable) and listed clips per split.

    Attributes:
        path: the csv read.
        available: split -> usable clips.
        listed: split -> clips listed in the manifest (when the csv says).
        downloaded: split -> clips obtained, from local files or downloaded (when the csv says).
        blocked: split -> clips YouTube refused to serve: not known yet, neither usable nor lost.
    """

    path: str
    available: dict[str, int]
    listed: dict[str, int]
    downloaded: dict[str, int] = field(default_factory=dict)
    blocked: dict[str, int] = field(default_factory=dict)


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


def read_availability(path: str | os.PathLike[str]) -> Availability | None:
    """Read an availability csv; None if the file does not exist.

    Raises:
        DataError: the csv has neither per-clip status rows nor per-split counts
            (the message names the file and its columns).
    """
    p = Path(path)
    if not p.is_file():
        return None
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    if "split" not in cols:
        raise DataError(f"{p}: availability csv has no 'split' column (columns: {', '.join(cols)})")
    available: dict[str, int] = {}
    listed: dict[str, int] = {}
    if "status" in cols and "clip_id" in cols:
        blocked_clips: dict[str, int] = {}
        for r in rows:
            listed[r["split"]] = listed.get(r["split"], 0) + 1
            available[r["split"]] = available.get(r["split"], 0) + (r["status"] == "ok")
            blocked_clips[r["split"]] = blocked_clips.get(r["split"], 0) + (r["status"] == "blocked")
        return Availability(path=str(p), available=available, listed=listed, blocked=blocked_clips)
    ok_col = next((c for c in _OK_COLUMNS if c in cols), None)
    if ok_col is None:
        raise DataError(f"{p}: availability csv has no per-clip status nor an ok count column (columns: {', '.join(cols)})")
    total_col = next((c for c in _TOTAL_COLUMNS if c in cols), None)
    downloaded: dict[str, int] = {}
    blocked: dict[str, int] = {}
    for r in rows:
        split = r["split"]
        if split.lower() in _SPLIT_TOTAL_NAMES:
            continue
        ok = _int(r.get(ok_col))
        if ok is not None:
            available[split] = available.get(split, 0) + ok
        tot = _int(r.get(total_col)) if total_col else None
        if tot is not None:
            listed[split] = listed.get(split, 0) + tot
        got = _int(r.get("downloaded"))
        if got is not None:  # the data stage counts clips cut from local files apart
            downloaded[split] = downloaded.get(split, 0) + got + (_int(r.get("local")) or 0)
        held = _int(r.get("blocked"))
        if held:
            blocked[split] = blocked.get(split, 0) + held
    return Availability(path=str(p), available=available, listed=listed, downloaded=downloaded, blocked=blocked)
