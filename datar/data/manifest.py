"""Normalised manifests: parse the public annotation csvs, check every row, shard, write.

Four source formats (``datasets.D.format``):

- ``vggsound``: headerless ``youtube_id,start,label,split``; clip = [start, start +
  ``audio.clip_seconds``]; clip id ``{ytid}_{start:06d}``.
- ``kinetics400``: header ``label,youtube_id,time_start,time_end,split[,is_cc]``, filtered to
  ``datasets.D.classes`` (other classes are dropped and counted, not errors); the file's
  ``validate`` split is the test split; clip id ``{ytid}_{start:06d}_{end:06d}``.
- ``epic100``: the EPIC-KITCHENS-100 annotation csv (``narration_id, participant_id,
  video_id, ..., start_timestamp, stop_timestamp, ..., verb_class, ..., noun_class``;
  timestamps ``HH:MM:SS.ss``); the source is ``datasets.D.video_source`` with
  ``{video_id}`` / ``{participant_id}`` filled in; heads ``verb``, ``noun`` whose class names
  are the integer ids as strings; the split comes from the source's configured ``split``.
- ``csv``: a user's csv ``clip_id,source,start,end,label,split``; ``label`` is ``a|b`` for
  multi-head datasets; with ``datasets.D.classes`` set, an unknown label is a bad row.

A configured ``split`` on a source overrides the file's split column. Every row is checked
(ids, times, splits, sources, labels, duplicates) before any value can reach a path or a
download: a bad row raises ``ManifestError`` naming file and line, or, with
``manifest.on_bad_row: skip``, is skipped and recorded in ``shards.json``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from datar.config import SPLITS, Config, DatasetConfig
from datar.data.file_urls import URL_CHARS, UnsafePath, encode_local_source
from datar.data.sources import ResolvedSource, resolve_source
from datar.io import sha256_file
from datar.errors import ConfigError, ManifestError
from datar.io import atomic_write, write_json_atomic

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}\Z")
# A clip id becomes a file name: ASCII letters, digits, "_", "-", "."; no leading dot; bounded.
CLIP_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}\Z")
EPIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
EPIC_TIME = re.compile(r"^(\d{1,3}):([0-5]\d):([0-5]\d(?:\.\d+)?)\Z")
# No clip starts or ends later than a day into its source: larger values are typos.
MAX_SECONDS = 86400.0
MAX_LABEL_CHARS = 200
KINETICS_SPLITS = {"train": "train", "val": "val", "validate": "test", "test": "test"}

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


def _header(rows: Iterator[tuple[int, list[str]]], required: Sequence[str], origin: str) -> dict[str, int]:
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


def _rows(text: str, origin: str) -> Iterator[tuple[int, list[str]]]:
    """Non-empty csv records with their (last) line number; malformed csv names the line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    for line, row in csv_records(reader, lambda n: f"{origin}: line {n}"):
        if row:
            yield line, row


# --------------------------------------------------------------------------- parsers


def parse_vggsound(text: str, src: ResolvedSource, ctx: ParseContext, sink: RowSink) -> Iterator[Entry]:
    """Rows of the headerless VGGSound csv: ``youtube_id,start,label,split``."""
    reader = _rows(text, src.origin)
    for line, row in reader:
        try:
            if len(row) != 4:
                raise BadRow("bad_columns", f"expected 4 fields (youtube_id,start,label,split), got {len(row)}")
            ytid = check_youtube_id(row[0].strip())
            start = parse_whole_seconds(row[1].strip(), "start")
            label = check_label(row[2], "label")
            if ctx.classes is not None and label not in ctx.classes:
                raise BadRow("unknown_class", f"label {label!r} is not in datasets.{ctx.dataset}.classes")
            split = src.split or check_split(row[3].strip())
            yield Entry(f"{ytid}_{start:06d}", check_source(ytid, ctx.allowed_schemes), float(start),
                        start + ctx.clip_seconds, split, (label,), src.origin, line)
        except BadRow as bad:
            sink.bad(src.origin, line, bad.kind, bad.message)


def parse_kinetics400(text: str, src: ResolvedSource, ctx: ParseContext, sink: RowSink, filtered: Counter[str]) -> Iterator[Entry]:
    """Rows of a Kinetics-400 csv in ``ctx.classes`` (others are counted in ``filtered``)."""
    assert ctx.classes is not None, "config check: kinetics400 needs classes"
    reader = _rows(text, src.origin)
    col = _header(reader, ("label", "youtube_id", "time_start", "time_end", "split"), src.origin)
    width = max(col.values()) + 1
    for line, row in reader:
        try:
            if len(row) < width:
                raise BadRow("bad_columns", f"expected at least {width} fields, got {len(row)}")
            label = row[col["label"]]
            if label not in ctx.classes:
                filtered[src.origin] += 1
                continue
            ytid = check_youtube_id(row[col["youtube_id"]].strip())
            start = parse_whole_seconds(row[col["time_start"]].strip(), "time_start")
            end = parse_whole_seconds(row[col["time_end"]].strip(), "time_end")
            check_segment(start, end)
            split = src.split or check_split(row[col["split"]].strip(), KINETICS_SPLITS)
            yield Entry(f"{ytid}_{start:06d}_{end:06d}", check_source(ytid, ctx.allowed_schemes),
                        float(start), float(end), split, (label,), src.origin, line)
        except BadRow as bad:
            sink.bad(src.origin, line, bad.kind, bad.message)


def epic_source(template: str, *, video_id: str, participant_id: str) -> str:
    """Fill ``{video_id}`` / ``{participant_id}`` into ``video_source`` (a URL or a path)."""
    filled = template.replace("{video_id}", video_id).replace("{participant_id}", participant_id)
    if "://" not in filled and not filled.startswith("/"):
        filled = str(Path(filled).absolute())
    return filled


def parse_epic100(text: str, src: ResolvedSource, ctx: ParseContext, sink: RowSink) -> Iterator[Entry]:
    """Rows of an EPIC-KITCHENS-100 annotation csv (split from the source's config)."""
    assert ctx.video_source is not None, "config check: epic100 needs video_source"
    if src.split is None:
        raise ConfigError(f"datasets.{ctx.dataset}.sources: {src.origin} needs a 'split' (EPIC csvs have no split column)")
    try:
        check_source(epic_source(ctx.video_source, video_id="P01_01", participant_id="P01"), ctx.allowed_schemes)
    except BadRow as bad:
        raise ConfigError(f"datasets.{ctx.dataset}.video_source: {bad.message}") from None
    reader = _rows(text, src.origin)
    col = _header(reader, ("narration_id", "participant_id", "video_id", "start_timestamp",
                           "stop_timestamp", "verb_class", "noun_class"), src.origin)
    width = max(col.values()) + 1
    for line, row in reader:
        try:
            if len(row) < width:
                raise BadRow("bad_columns", f"expected at least {width} fields, got {len(row)}")
            clip_id = check_clip_id(row[col["narration_id"]].strip())
            ids = {}
            for key in ("video_id", "participant_id"):
                ids[key] = row[col[key]].strip()
                if not EPIC_ID.match(ids[key]):
                    raise BadRow("bad_source", f"{key} {ids[key]!r} is not [A-Za-z0-9_-]{{1,64}}")
            start = parse_epic_time(row[col["start_timestamp"]].strip(), "start_timestamp")
            end = parse_epic_time(row[col["stop_timestamp"]].strip(), "stop_timestamp")
            check_segment(start, end)
            labels = []
            for head in ("verb", "noun"):
                value = row[col[f"{head}_class"]].strip()
                if not value.isdigit() or not value.isascii() or len(value) > 9:
                    raise BadRow("bad_label", f"{head}_class {value[:40]!r} is not a class id (an integer of at most 9 digits)")
                labels.append(str(int(value)))
            source = check_source(epic_source(ctx.video_source, **ids), ctx.allowed_schemes)
            yield Entry(clip_id, source, start, end, src.split, tuple(labels), src.origin, line)
        except BadRow as bad:
            sink.bad(src.origin, line, bad.kind, bad.message)


def parse_user_csv(text: str, src: ResolvedSource, ctx: ParseContext, sink: RowSink) -> Iterator[Entry]:
    """Rows of the user csv format ``clip_id,source,start,end,label,split``."""
    reader = _rows(text, src.origin)
    col = _header(reader, ("clip_id", "source", "start", "end", "label", "split"), src.origin)
    width = max(col.values()) + 1
    n_heads = len(ctx.heads)
    for line, row in reader:
        try:
            if len(row) < width:
                raise BadRow("bad_columns", f"expected at least {width} fields, got {len(row)}")
            clip_id = check_clip_id(row[col["clip_id"]].strip())
            source = check_source(row[col["source"]].strip(), ctx.allowed_schemes)
            start = parse_seconds(row[col["start"]].strip(), "start")
            end_text = row[col["end"]].strip()
            end = parse_seconds(end_text, "end") if end_text else None
            check_segment(start, end)
            parts = row[col["label"]].split("|")
            if len(parts) != n_heads:
                raise BadRow("bad_label", f"label {row[col['label']]!r} has {len(parts)} part(s); "
                             f"heads {'|'.join(ctx.heads)} need {n_heads}")
            labels = tuple(check_label(p, h) for p, h in zip(parts, ctx.heads))
            if ctx.classes is not None and labels[0] not in ctx.classes:
                raise BadRow("unknown_class", f"label {labels[0]!r} is not in datasets.{ctx.dataset}.classes")
            split = src.split or check_split(row[col["split"]].strip())
            yield Entry(clip_id, source, start, end, split, labels, src.origin, line)
        except BadRow as bad:
            sink.bad(src.origin, line, bad.kind, bad.message)


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Manifest:
    """A checked, split, sorted and sharded manifest, ready to write.

    Attributes:
        entries: rows sorted by split (train, val, test) then clip id.
        shards: ``shard`` name of each entry (same order).
        classes: class names per head, in index order.
        shard_list: ``[{"name", "split", "n"}, ...]`` in manifest order.
        info: the rest of ``shards.json`` (counts, skipped rows, sources).
    """

    entries: tuple[Entry, ...]
    shards: tuple[str, ...]
    classes: dict[str, list[str]]
    shard_list: list[dict[str, object]]
    info: dict[str, object]


def val_draw(clip_id: str) -> float:
    """A deterministic number in [0, 1) from a clip id (SHA-256), for the val holdout."""
    return int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:8], "big") / 2.0**64


def _class_key(name: str) -> tuple[int, int | str]:
    return (0, int(name)) if name.isdigit() else (1, name)


def _context(cfg: Config, dataset: str, ds: DatasetConfig) -> ParseContext:
    classes = frozenset(ds.classes) if ds.classes is not None else None
    if classes is not None and len(ds.heads) > 1:
        raise ConfigError(f"datasets.{dataset}.classes: a flat class list applies to one head; "
                          f"this dataset has heads {list(ds.heads)}")
    if ds.format == "epic100":
        classes = None
    video_source = ds.video_source
    if ds.audio_source is not None:  # every segment comes from the audio HDF5 file: it is the rows' source
        video_source = Path(ds.audio_source.hdf5).absolute().as_uri()
    return ParseContext(dataset=dataset, clip_seconds=cfg.audio.clip_seconds,
                        allowed_schemes=frozenset(cfg.download.allowed_schemes), heads=tuple(ds.heads),
                        classes=classes, video_source=video_source)


def collect_entries(cfg: Config, dataset: str, sources: Sequence[ResolvedSource], sink: RowSink) -> tuple[list[Entry], Counter[str]]:
    """Parse and check every source of ``dataset``; drop (and report) duplicate clip ids."""
    ds = cfg.dataset(dataset)
    ctx = _context(cfg, dataset, ds)
    filtered: Counter[str] = Counter()
    seen: dict[str, tuple[str, int]] = {}
    entries: list[Entry] = []
    for src in sources:
        text = decode_text(src.path.read_bytes(), src.origin, sink)
        if ds.format == "vggsound":
            rows = parse_vggsound(text, src, ctx, sink)
        elif ds.format == "kinetics400":
            rows = parse_kinetics400(text, src, ctx, sink, filtered)
        elif ds.format == "epic100":
            rows = parse_epic100(text, src, ctx, sink)
        else:
            rows = parse_user_csv(text, src, ctx, sink)
        for e in rows:
            first = seen.get(e.clip_id)
            if first is not None:
                sink.bad(e.origin, e.line, "duplicate_clip_id",
                         f"duplicate clip id {e.clip_id!r} (first at {first[0]}: line {first[1]})")
                continue
            seen[e.clip_id] = (e.origin, e.line)
            entries.append(e)
    return entries, filtered


def class_lists(ds: DatasetConfig, entries: Sequence[Entry]) -> dict[str, list[str]]:
    """Class names per head in index order: the config's list, EPIC's 0..max id, or sorted."""
    out: dict[str, list[str]] = {}
    for i, head in enumerate(ds.heads):
        if ds.format == "epic100":
            top = max((int(e.labels[i]) for e in entries), default=-1)
            out[head] = [str(k) for k in range(top + 1)]
        elif ds.classes is not None:
            out[head] = list(ds.classes)
        else:
            out[head] = sorted({e.labels[i] for e in entries}, key=_class_key)
    return out


def read_clip_list(path: Path, *, where: str) -> set[str]:
    """The clip ids of a clip list (``results/data/<dataset>_clips.csv``) to keep.

    With a ``status`` column only the clips whose status is ``ok`` (the valid ones), else
    every listed clip.

    Raises:
        ConfigError: the file is missing or has no ``clip_id`` column (names ``where``).
    """
    if not path.is_file():
        raise ConfigError(f"{where}: clip list {path} not found (from {Path.cwd()})")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        if "clip_id" not in cols:
            raise ConfigError(f"{where}: {path} has no clip_id column (columns: {', '.join(cols)}); a clip list is "
                              "the clip_id,split,status csv the availability stage writes")
        return {r["clip_id"] for r in reader if r.get("clip_id") and ("status" not in cols or r["status"] == "ok")}


def build_manifest(cfg: Config, dataset: str, sources: Sequence[ResolvedSource]) -> Manifest:
    """Parse, check, hold out val, sort and shard the manifest of ``dataset``.

    Raises:
        ManifestError: a bad row (in ``error`` mode), or no rows at all.
    """
    ds = cfg.dataset(dataset)
    sink = RowSink(mode=cfg.manifest.on_bad_row)
    entries, filtered = collect_entries(cfg, dataset, sources, sink)
    restriction = None
    if ds.restrict_to:
        path = Path(ds.restrict_to)
        keep = read_clip_list(path, where=f"datasets.{dataset}.restrict_to")
        present = {e.clip_id for e in entries}
        entries = [e for e in entries if e.clip_id in keep]
        restriction = {"path": ds.restrict_to, "sha256": sha256_file(path), "listed": len(keep),
                       "found": len(keep & present), "not_found": len(keep - present)}
    if not entries:
        raise ManifestError(f"datasets.{dataset}: no usable rows in {', '.join(s.origin for s in sources)}")
    frac = cfg.manifest.val_fraction
    if frac > 0:
        entries = [
            e._replace(split="val")
            if e.split == "train" and val_draw(e.clip_id) < frac else e
            for e in entries
        ]
    order = {s: i for i, s in enumerate(SPLITS)}
    entries.sort(key=lambda e: (order[e.split], e.clip_id))
    size = cfg.download.shard_size
    shards: list[str] = []
    shard_list: list[dict[str, object]] = []
    counts: Counter[str] = Counter()
    for e in entries:
        k = counts[e.split] // size
        counts[e.split] += 1
        name = f"{e.split}-{k:05d}"
        if not shard_list or shard_list[-1]["name"] != name:
            shard_list.append({"name": name, "split": e.split, "n": 0})
        shard_list[-1]["n"] = int(shard_list[-1]["n"]) + 1  # type: ignore[call-overload]
        shards.append(name)
    info: dict[str, object] = {
        "dataset": dataset,
        "format": ds.format,
        "heads": list(ds.heads),
        "n_rows": len(entries),
        "splits": {s: counts[s] for s in SPLITS if counts[s]},
        "shard_size": size,
        "val_fraction": frac,
        "n_skipped": len(sink.skipped),
        "skipped_by_kind": dict(sorted(Counter(str(s["kind"]) for s in sink.skipped).items())),
        "skipped": sink.skipped,
        "n_filtered": sum(filtered.values()),
        "sources": [{"origin": s.origin, "sha256": s.sha256, "split": s.split, "fetched_from": s.fetched_from,
                     "pinned": s.pinned} for s in sources],
    }
    if restriction is not None:
        info["restrict_to"] = restriction
    return Manifest(tuple(entries), tuple(shards), class_lists(ds, entries), shard_list, info)


def _seconds(x: float | None) -> str:
    return "" if x is None else repr(float(x))


def write_manifest(manifest: Manifest, out_dir: Path, heads: Sequence[str]) -> Path:
    """Write ``classes.json``, ``shards.json`` and (last) ``manifest.csv`` atomically."""
    write_json_atomic(out_dir / "classes.json", {"heads": manifest.classes})
    write_json_atomic(out_dir / "shards.json", {"shards": manifest.shard_list, **manifest.info})
    path = out_dir / "manifest.csv"
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["clip_id", "source", "start", "end", "split", "shard", *heads])
        for e, shard in zip(manifest.entries, manifest.shards):
            w.writerow([e.clip_id, e.source, _seconds(e.start), _seconds(e.end), e.split, shard, *e.labels])
    return path


def make_manifest(cfg: Config, dataset: str) -> Manifest:
    """The ``manifest`` verb: resolve sources, build, and write under ``{data_dir}/{dataset}``."""
    ds = cfg.dataset(dataset)
    out_dir = Path(cfg.data_dir) / dataset
    sources = [
        resolve_source(s, cache_dir=out_dir / "sources", timeout=cfg.download.socket_timeout,
                       where=f"datasets.{dataset}.sources[{i}]")
        for i, s in enumerate(ds.sources)
    ]
    manifest = build_manifest(cfg, dataset, sources)
    write_manifest(manifest, out_dir, ds.heads)
    return manifest


def summary(manifest: Manifest) -> str:
    """One paragraph for the log: rows per split, shards, skipped and filtered rows."""
    info = manifest.info
    hints = [f"{info['dataset']}: source {s['origin']} has sha256 {s['sha256']} (not pinned; to pin this exact list, "
             f"add sha256: {s['sha256']} to datasets.{info['dataset']}.sources[{i}])"
             for i, s in enumerate(info.get("sources", [])) if not s.get("pinned")]  # type: ignore[union-attr]
    lines = hints + [
        f"{info['dataset']}: {info['n_rows']} rows in {len(manifest.shard_list)} shards "
        f"({json.dumps(info['splits'])}); classes: "
        + ", ".join(f"{h}={len(c)}" for h, c in manifest.classes.items()),
        f"skipped {info['n_skipped']} bad rows {json.dumps(info['skipped_by_kind'])}; "
        f"filtered {info['n_filtered']} rows of other classes",
    ]
    return "\n".join(lines)
