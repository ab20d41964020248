"""Per-clip download outcomes and the shard's ``{S}.status.csv``.

``clip_id,status,reason,attempts,bytes,origin,source_seconds,yt_dlp,message,place``:

- ``status``: ``ok | unavailable | invalid | blocked``. ``blocked`` = YouTube refused the
  downloader (bot check, request limit, persistent 429): not known yet, neither dead nor ok.
- ``reason``: short, without paths or URLs (empty for ok clips); ``message``: the raw
  one-line message it was made from.
- ``attempts``: fetch attempts; ``bytes``: size of the clip's FLAC in the tar (0 when not ok).
- ``origin``: where the audio came from or was sought: ``local`` (a local file, cut in
  place), ``youtube`` or ``http``.
- ``source_seconds``: the source's own duration when known (empty otherwise); validation
  compares a clip without ``end`` with it.
- ``yt_dlp``: the yt-dlp version that fetched the clip (empty when yt-dlp was not used).
- ``place``: which place of the dataset's local copy held it (a ``local_source`` template's
  folder, an archive's file name, an HDF5 file), empty for network and manifest-path clips.

Status csvs of earlier formats (the five columns up to ``bytes``, or nine up to
``message``) are still read.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from datar.errors import DataError
from datar.io import atomic_write

Status = Literal["ok", "unavailable", "invalid", "blocked"]
Origin = Literal["local", "youtube", "http", ""]
STATUSES: tuple[str, ...] = ("ok", "unavailable", "invalid", "blocked")
FIRST_COLUMNS: tuple[str, ...] = ("clip_id", "status", "reason", "attempts", "bytes")
SECOND_COLUMNS: tuple[str, ...] = (*FIRST_COLUMNS, "origin", "source_seconds", "yt_dlp", "message")
STATUS_COLUMNS: tuple[str, ...] = (*SECOND_COLUMNS, "place")


@dataclass(frozen=True)
class ClipStatus:
    """The outcome of one clip (columns of the status csv, see the module docstring)."""

    clip_id: str
    status: Status
    reason: str
    attempts: int
    bytes: int
    origin: Origin = ""
    source_seconds: float | None = None
    yt_dlp: str = ""
    message: str = ""
    place: str = ""


def write_status_csv(path: str | os.PathLike[str], rows: list[ClipStatus]) -> None:
    """Write the status csv atomically, rows in the given order."""
    with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(STATUS_COLUMNS)
        for r in rows:
            w.writerow([r.clip_id, r.status, r.reason, r.attempts, r.bytes, r.origin,
                        "" if r.source_seconds is None else f"{r.source_seconds:.3f}", r.yt_dlp,
                        " ".join(r.message.split()), r.place])


def read_status_csv(path: str | os.PathLike[str]) -> list[ClipStatus]:
    """Read a status csv.

    Raises:
        DataError: the file is missing, lacks a column or holds a bad value (names file and line).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: status csv not found (run `download` for this shard first)")
    out: list[ClipStatus] = []
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) not in (STATUS_COLUMNS, SECOND_COLUMNS, FIRST_COLUMNS):
            raise DataError(f"{p}: header must be {','.join(STATUS_COLUMNS)}, got {reader.fieldnames}")
        for i, rec in enumerate(reader, start=2):
            if rec["status"] not in STATUSES:
                raise DataError(f"{p}:{i}: status {rec['status']!r} is not one of {', '.join(STATUSES)}")
            seconds = rec.get("source_seconds") or ""
            try:
                out.append(ClipStatus(rec["clip_id"], rec["status"], rec["reason"],  # type: ignore[arg-type]
                                      int(rec["attempts"]), int(rec["bytes"]), rec.get("origin") or "",  # type: ignore[arg-type]
                                      float(seconds) if seconds else None, rec.get("yt_dlp") or "",
                                      rec.get("message") or "", rec.get("place") or ""))
            except (TypeError, ValueError):
                raise DataError(f"{p}:{i}: attempts and bytes must be integers, source_seconds a number") from None
    return out


def save_clip_status(path: Path, status: ClipStatus) -> None:
    """Record one finished clip in the work dir (JSON, atomic): the clip's 'done' marker."""
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(asdict(status), sort_keys=True), encoding="utf-8")


def load_clip_status(path: Path) -> ClipStatus | None:
    """The finished clip recorded at ``path``, or None if absent or unreadable (= not done)."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        st = ClipStatus(**rec)
    except (OSError, ValueError, TypeError):
        return None
    return st if st.status in STATUSES else None
