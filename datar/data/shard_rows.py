"""The rows of one shard of a manifest, re-checked before anything touches the network or disk.

The manifest stage already validated every row; the download and validate stages check again
what they rely on (the clip id becomes a file name, the source becomes a URL), because a
manifest is a file anyone can edit between stages.
"""

from __future__ import annotations

import csv
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from datar.errors import ManifestError

MANIFEST_COLUMNS: tuple[str, ...] = ("clip_id", "source", "start", "end", "split", "shard")

_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_SAFE_CLIP_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.,+=@-]{0,199}$")
YOUTUBE_WATCH = "https://www.youtube.com/watch?v={}"


@dataclass(frozen=True)
class ClipRow:
    """One manifest row of a shard.

    Attributes:
        clip_id: unique id, safe as a file name.
        source: the manifest's ``source`` value as written.
        start: segment start in seconds.
        end: segment end in seconds, None = to the end of the source.
        line: 1-based line in the manifest (for messages).
    """

    clip_id: str
    source: str
    start: float
    end: float | None
    line: int

    def segment_seconds(self, default: float) -> float:
        """``end - start``, or ``default`` (``audio.clip_seconds``) when ``end`` is empty."""
        return default if self.end is None else self.end - self.start


def check_clip_id(clip_id: str, *, where: str) -> str:
    """Return ``clip_id`` if it is safe as a file name, else raise ManifestError naming ``where``."""
    if not _SAFE_CLIP_ID.match(clip_id) or ".." in clip_id:
        raise ManifestError(f"{where}: clip_id {clip_id!r} is not safe as a file name")
    return clip_id


def source_url(source: str, *, allowed: tuple[str, ...], where: str) -> tuple[str, str]:
    """Turn a manifest ``source`` into ``(scheme, url)``; schemes are checked against ``allowed``.

    An 11-character YouTube id has scheme ``youtube``; otherwise the URL's own scheme.

    Raises:
        ManifestError: unknown form, or a scheme not in ``download.allowed_schemes``.
    """
    if _YOUTUBE_ID.match(source):
        scheme, url = "youtube", YOUTUBE_WATCH.format(source)
    else:
        parts = urllib.parse.urlsplit(source)
        scheme, url = parts.scheme.lower(), source
        if scheme not in {"http", "https", "file"} or (scheme != "file" and not parts.netloc):
            raise ManifestError(f"{where}: source {source!r} is neither a YouTube id nor an http(s)/file URL")
        if any(ch.isspace() for ch in source):
            raise ManifestError(f"{where}: source {source!r} contains whitespace")
    if scheme not in allowed:
        raise ManifestError(
            f"{where}: source scheme {scheme!r} is not in download.allowed_schemes {list(allowed)}"
        )
    return scheme, url


def _seconds(value: str, *, where: str, key: str, optional: bool) -> float | None:
    if value.strip() == "" and optional:
        return None
    try:
        x = float(value)
    except ValueError:
        raise ManifestError(f"{where}: {key} {value!r} is not a number of seconds") from None
    if not (0.0 <= x < 1e7):
        raise ManifestError(f"{where}: {key} {value!r} is out of range")
    return x


def read_shard_rows(manifest: Path, shard: str, *, allowed_schemes: tuple[str, ...]) -> list[ClipRow]:
    """Rows of ``shard`` in ``manifest``, in file order, each checked.

    Raises:
        ManifestError: the manifest is missing or lacks a column, a row is unsafe or
            malformed (message names the file and line), or the shard has no rows.
    """
    if not manifest.is_file():
        raise ManifestError(f"{manifest}: manifest not found")
    rows: list[ClipRow] = []
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(f"{manifest}: missing column(s) {', '.join(missing)}")
        seen: set[str] = set()
        for i, rec in enumerate(reader, start=2):
            if rec["shard"] != shard:
                continue
            where = f"{manifest}:{i}"
            clip_id = check_clip_id(rec["clip_id"] or "", where=where)
            if clip_id in seen:
                raise ManifestError(f"{where}: duplicate clip_id {clip_id!r} in shard {shard}")
            seen.add(clip_id)
            source_url(rec["source"] or "", allowed=allowed_schemes, where=where)
            start = _seconds(rec["start"] or "0", where=where, key="start", optional=False)
            end = _seconds(rec["end"] or "", where=where, key="end", optional=True)
            assert start is not None
            if end is not None and end <= start:
                raise ManifestError(f"{where}: end {end} is not after start {start}")
            rows.append(ClipRow(clip_id=clip_id, source=rec["source"], start=start, end=end, line=i))
    if not rows:
        raise ManifestError(f"{manifest}: shard {shard!r} has no rows")
    return rows
