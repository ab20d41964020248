"""Manifest rows: the checks every format's parser applies before a value can reach a path or a download.

Ids, times, splits, labels and sources are checked here (:func:`check_source` is the security
check: no shell characters, no ``..``, no credentials, local files only), bad rows are raised
or recorded by a :class:`RowSink`, and csv text is read with line numbers for the messages.
The formats themselves live in :mod:`datar.data.formats`.
"""

from __future__ import annotations

import csv
import io
import math
import re
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from datar.config import SPLITS
from datar.data.file_urls import URL_CHARS, UnsafePath, encode_local_source
from datar.errors import ManifestError

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}\Z")
# A clip id becomes a file name: ASCII letters, digits, "_", "-", "."; no leading dot; bounded.
CLIP_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}\Z")
EPIC_TIME = re.compile(r"^(\d{1,3}):([0-5]\d):([0-5]\d(?:\.\d+)?)\Z")
# No clip starts or ends later than a day into its source: larger values are typos.
MAX_SECONDS = 86400.0
MAX_LABEL_CHARS = 200

BadRowKind = Literal[
    "bad_columns", "bad_clip_id", "bad_youtube_id", "bad_source", "bad_time", "bad_split",
    "bad_label", "unknown_class", "duplicate_clip_id", "not_utf8",
]


class BadRow(Exception):
    """One row failed a check (internal: turned into ManifestError or a skip record)."""

    def __init__(self, kind: BadRowKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Entry(NamedTuple):
    """One checked manifest row (``end`` None = to the end of the source)."""

    clip_id: str
    source: str
    start: float
    end: float | None
    split: str
    labels: tuple[str, ...]
    origin: str
    line: int


@dataclass
class RowSink:
    """Collects bad rows: raises on the first in ``error`` mode, records them in ``skip``."""

    mode: Literal["error", "skip"]
    skipped: list[dict[str, object]] = field(default_factory=list)

    def bad(self, origin: str, line: int, kind: BadRowKind, message: str) -> None:
        """Report a bad row at ``origin:line``."""
        if self.mode == "error":
            raise ManifestError(
                f"{origin}: line {line}: {message} (set manifest.on_bad_row: skip to skip such rows)"
            )
        self.skipped.append({"file": origin, "line": line, "kind": kind, "reason": message})


@dataclass(frozen=True)
class ParseContext:
    """What the row checks need from the config."""

    dataset: str
    clip_seconds: float
    allowed_schemes: frozenset[str]
    heads: tuple[str, ...]
    classes: frozenset[str] | None
    video_source: str | None


# --------------------------------------------------------------------------- field checks


def check_clip_id(value: str) -> str:
    """A clip id safe to use as a file name, or BadRow."""
    if not CLIP_ID.match(value) or ".." in value:
        raise BadRow("bad_clip_id", f"clip id {value!r} is not a safe file name "
                     "(ASCII letters, digits, '_', '-', '.'; no leading dot, no '..', at most 128 chars)")
    return value


def check_youtube_id(value: str) -> str:
    """An 11-character YouTube id, or BadRow."""
    if not YOUTUBE_ID.match(value):
        raise BadRow("bad_youtube_id", f"YouTube id {value!r} is not 11 characters of [A-Za-z0-9_-]")
    return value


def parse_seconds(value: str, what: str) -> float:
    """A finite time in seconds in [0, MAX_SECONDS], or BadRow."""
    try:
        x = float(value)
    except ValueError:
        raise BadRow("bad_time", f"{what} {value!r} is not a number") from None
    if not math.isfinite(x) or x < 0 or x > MAX_SECONDS:
        raise BadRow("bad_time", f"{what} {value!r} is not a time in [0, {MAX_SECONDS:g}] seconds")
    return x


def parse_whole_seconds(value: str, what: str) -> int:
    """A time that must be a whole number of seconds (used in clip ids), or BadRow."""
    x = parse_seconds(value, what)
    if x != int(x):
        raise BadRow("bad_time", f"{what} {value!r} is not a whole number of seconds")
    return int(x)


def parse_epic_time(value: str, what: str) -> float:
    """An EPIC ``HH:MM:SS.ss`` timestamp in seconds, or BadRow."""
    m = EPIC_TIME.match(value)
    if not m:
        raise BadRow("bad_time", f"{what} {value!r} is not HH:MM:SS.ss")
    x = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    if x > MAX_SECONDS:
        raise BadRow("bad_time", f"{what} {value!r} is later than {MAX_SECONDS:g} seconds")
    return x


def check_segment(start: float, end: float | None) -> None:
    """``end`` after ``start`` (when given), or BadRow."""
    if end is not None and not end > start:
        raise BadRow("bad_time", f"end {end:g} is not after start {start:g}")


def check_split(value: str, aliases: dict[str, str] | None = None) -> str:
    """One of ``train``, ``val``, ``test`` (after ``aliases``), or BadRow."""
    split = (aliases or {}).get(value, value)
    if split not in SPLITS:
        known = sorted(aliases) if aliases else list(SPLITS)
        raise BadRow("bad_split", f"split {value!r} is not one of {', '.join(known)}")
    return split


def check_label(value: str, head: str) -> str:
    """A non-empty, printable label of bounded length, or BadRow."""
    if not value or len(value) > MAX_LABEL_CHARS or not value.isprintable() or value != value.strip():
        raise BadRow("bad_label", f"{head} {value!r} is empty, too long, padded or not printable")
    return value


def check_source(value: str, allowed: frozenset[str]) -> str:
    """A YouTube id, an http(s) URL or a local file whose scheme is allowed, else BadRow.

    Returns the source as the manifest stores it: a local file given as a plain absolute
    path or as a file URL with raw spaces / non-ASCII is percent-encoded
    (:func:`datar.data.file_urls.encode_local_source`). URLs may not hold characters a shell
    would interpret, ``..`` path segments (also percent-encoded), credentials, or (``file``)
    a host other than ``localhost``; a local path may not hold control characters.
    """
    if YOUTUBE_ID.match(value):
        if "youtube" not in allowed:
            raise BadRow("bad_source", f"source {value!r} is a YouTube id but 'youtube' is not in download.allowed_schemes")
        return value
    try:
        local = encode_local_source(value)
    except UnsafePath as exc:
        raise BadRow("bad_source", f"source {exc}") from None
    if local is not None:
        if "file" not in allowed:
            raise BadRow("bad_source", f"source {local!r}: scheme 'file' is not in download.allowed_schemes "
                         f"({', '.join(sorted(allowed))})")
        return local
    if not URL_CHARS.match(value):
        raise BadRow("bad_source", f"source {value!r} is neither an 11-character YouTube id nor a URL of safe characters")
    parts = urllib.parse.urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise BadRow("bad_source", f"source {value!r}: scheme {scheme or '(none)'!r} is not http, https or file")
    if scheme not in allowed:
        raise BadRow("bad_source", f"source {value!r}: scheme {scheme!r} is not in download.allowed_schemes ({', '.join(sorted(allowed))})")
    segments = urllib.parse.unquote(parts.path).split("/")
    if ".." in segments or "." in segments:
        raise BadRow("bad_source", f"source {value!r}: '..' or '.' path segments are not allowed")
    if "@" in parts.netloc:
        raise BadRow("bad_source", f"source {value!r}: credentials in URLs are not allowed")
    if not parts.hostname:
        raise BadRow("bad_source", f"source {value!r}: no host")
    return value


# --------------------------------------------------------------------------- reading


def decode_text(data: bytes, origin: str, sink: RowSink) -> str:
    """Decode a csv's bytes as UTF-8; a line that is not UTF-8 is a bad row (kept empty)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    out = []
    for i, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            sink.bad(origin, i, "not_utf8", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
            out.append("")
    return "\n".join(out)


def header(rows: Iterator[tuple[int, list[str]]], required: Sequence[str], origin: str) -> dict[str, int]:
    try:
        _, header = next(rows)
    except StopIteration:
        raise ManifestError(f"{origin}: empty file (expected a header with {', '.join(required)})") from None
    index = {name.strip(): i for i, name in enumerate(header)}
    missing = [c for c in required if c not in index]
    if missing:
        raise ManifestError(f"{origin}: line 1: header lacks column(s) {', '.join(missing)} (has: {', '.join(header)})")
    return index


def csv_records(reader: Any, where: Callable[[int], str]) -> Iterator[tuple[int, Any]]:
    """``(line, record)`` of a csv reader (plain or Dict), line = the record's last line.

    A malformed record raises ManifestError ``"{where(line)}: malformed csv: ..."``.
    """
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ManifestError(f"{where(reader.line_num)}: malformed csv: {exc}") from None
        yield reader.line_num, rec


def records(text: str, origin: str) -> Iterator[tuple[int, list[str]]]:
    """Non-empty csv records with their (last) line number; malformed csv names the line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    for line, row in csv_records(reader, lambda n: f"{origin}: line {n}"):
        if row:
            yield line, row
