"""EPIC-KITCHENS-100 annotations (``EPIC_100_{train,validation}.csv``), audio from the videos or the HDF5 file.

Columns used: ``narration_id, participant_id, video_id, start_timestamp, stop_timestamp,
verb_class, noun_class`` (timestamps ``HH:MM:SS.ss``); the clip id is the narration id, the
source ``datasets.D.video_source`` with ``{video_id}`` / ``{participant_id}`` filled in (or
the audio HDF5 file, ``audio_source``); heads ``verb`` and ``noun``, whose class names are the
integer ids; the split comes from each source's configured ``split``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from datar.data.formats.base import ManifestFormat
from datar.data.rows import (BadRow, Entry, ParseContext, RowSink, check_clip_id, check_segment, check_source,
                             header, parse_epic_time, records)
from datar.data.sources import ResolvedSource
from datar.errors import ConfigError

EPIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")


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
    reader = records(text, src.origin)
    col = header(reader, ("narration_id", "participant_id", "video_id", "start_timestamp",
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


def class_list(head: str, entries) -> list[str]:  # noqa: ANN001 - Entry sequence
    """EPIC's classes are the integer ids 0 .. the largest seen, as strings."""
    i = ("verb", "noun").index(head)
    top = max((int(e.labels[i]) for e in entries), default=-1)
    return [str(k) for k in range(top + 1)]


def check(ds, where) -> str | None:  # noqa: ANN001 - a DatasetConfig
    """What the config of an EPIC dataset lacks, or None."""
    if not ds.video_source and ds.audio_source is None:
        return (f"{where}.video_source: required for format epic100 (or audio_source); set it to the directory of "
                "your EPIC-KITCHENS videos, or audio_source to the EPIC audio HDF5 file")
    if tuple(ds.heads) != ("verb", "noun"):
        return f"{where}.heads: format epic100 has heads [verb, noun]; set heads: [verb, noun]"
    return None


FORMAT = ManifestFormat(
    name="epic100", parse=lambda text, src, ctx, sink, filtered: parse_epic100(text, src, ctx, sink),
    columns=("narration_id", "participant_id", "video_id", "start_timestamp", "stop_timestamp", "verb_class",
             "noun_class"), check=check, class_list=class_list, uses_config_classes=False,
)
