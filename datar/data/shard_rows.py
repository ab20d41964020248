"""The rows of one shard of a manifest, re-checked before anything touches the network or disk.

The manifest stage already validated every row; the download and validate stages check again
what they rely on (the clip id becomes a file name, the source becomes a URL), because a
manifest is a file anyone can edit between stages.
"""

from __future__ import annotations

import csv
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from datar.data import rows as manifest_checks
from datar.errors import ManifestError

MANIFEST_COLUMNS: tuple[str, ...] = ("clip_id", "source", "start", "end", "split", "shard")

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


def check_clip_id(clip_id: str, *, where: str) -> str:
    """Return ``clip_id`` if it is safe as a file name, else raise ManifestError naming ``where``."""
    try:
        return manifest_checks.check_clip_id(clip_id)
    except manifest_checks.BadRow as exc:
        raise ManifestError(f"{where}: {exc.message}") from None


def source_url(source: str, *, allowed: tuple[str, ...], where: str) -> tuple[str, str]:
    """Turn a manifest ``source`` into ``(scheme, url)``; schemes are checked against ``allowed``.

    An 11-character YouTube id has scheme ``youtube``; otherwise the URL's own scheme. The
    checks are the manifest stage's own (``datar.data.rows.check_source``): no shell
    characters, no ``..`` segments, no credentials, file URLs local only; a local path is
    returned as its percent-encoded file URL.

    Raises:
        ManifestError: unknown form, an unsafe URL, or a scheme not in ``download.allowed_schemes``.
    """
    try:
        url = manifest_checks.check_source(source, frozenset(allowed))
    except manifest_checks.BadRow as exc:
        raise ManifestError(f"{where}: {exc.message}") from None
    if manifest_checks.YOUTUBE_ID.match(url):
        return "youtube", YOUTUBE_WATCH.format(url)
    return urllib.parse.urlsplit(url).scheme.lower(), url


def _seconds(value: str, *, where: str, key: str, optional: bool) -> float | None:
    if value.strip() == "" and optional:
        return None
    try:
        return manifest_checks.parse_seconds(value, key)
    except manifest_checks.BadRow as exc:
        raise ManifestError(f"{where}: {exc.message}") from None


def _records(reader: csv.DictReader, manifest: Path):
    """(line, row) pairs; a malformed csv record raises ManifestError naming the line."""
    for line, rec in manifest_checks.csv_records(reader, lambda n: f"{manifest}:{n}"):
        if None in rec or any(v is None for v in rec.values()):
            raise ManifestError(f"{manifest}:{line}: wrong number of fields")
        yield line, rec


def read_shard_rows(manifest: Path, shard: str | None, *, allowed_schemes: tuple[str, ...]) -> list[ClipRow]:
    """Rows of ``shard`` in ``manifest`` (every row when ``shard`` is None), in file order, each checked.

    Raises:
        ManifestError: the manifest is missing or lacks a column, a row is unsafe or
            malformed (message names the file and line), or the shard has no rows.
    """
    if not manifest.is_file():
        raise ManifestError(f"{manifest}: manifest not found")
    try:
        return _read_rows(manifest, shard, allowed_schemes=allowed_schemes)
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{manifest}: not UTF-8 (byte {exc.start} of a read block): {exc.reason}") from None


def read_all_rows(manifest: Path, *, allowed_schemes: tuple[str, ...]) -> list[ClipRow]:
    """Every row of ``manifest`` (all shards), each checked as :func:`read_shard_rows` checks them."""
    return read_shard_rows(manifest, None, allowed_schemes=allowed_schemes)


def _read_rows(manifest: Path, shard: str | None, *, allowed_schemes: tuple[str, ...]) -> list[ClipRow]:
    rows: list[ClipRow] = []
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(f"{manifest}: missing column(s) {', '.join(missing)}")
        seen: set[str] = set()
        for i, rec in _records(reader, manifest):
            if shard is not None and rec["shard"] != shard:
                continue
            where = f"{manifest}:{i}"
            clip_id = check_clip_id(rec["clip_id"] or "", where=where)
            if clip_id in seen:
                raise ManifestError(f"{where}: duplicate clip_id {clip_id!r} in shard {rec['shard']}")
            seen.add(clip_id)
            source_url(rec["source"] or "", allowed=allowed_schemes, where=where)
            start = _seconds(rec["start"] or "0", where=where, key="start", optional=False)
            end = _seconds(rec["end"] or "", where=where, key="end", optional=True)
            assert start is not None
            if end is not None and end <= start:
                raise ManifestError(f"{where}: end {end} is not after start {start}")
            rows.append(ClipRow(clip_id=clip_id, source=rec["source"], start=start, end=end, line=i))
    if not rows and shard is not None:
        raise ManifestError(f"{manifest}: shard {shard!r} has no rows")
    return rows
