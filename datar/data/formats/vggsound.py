"""VGGSound: the headerless ``vggsound.csv`` (``youtube_id,start,label,split``; 309 classes).

A clip is ``[start, start + audio.clip_seconds]`` of the video, its id
``{youtube_id}_{start:06d}`` (the name VGGSound's copies give the file).
"""

from __future__ import annotations

from collections.abc import Iterator

from datar.data.formats.base import ManifestFormat
from datar.data.rows import (BadRow, Entry, ParseContext, RowSink, check_label, check_source, check_split,
                             check_youtube_id, parse_whole_seconds, records)
from datar.data.sources import ResolvedSource


def parse_vggsound(text: str, src: ResolvedSource, ctx: ParseContext, sink: RowSink) -> Iterator[Entry]:
    """Rows of the headerless VGGSound csv: ``youtube_id,start,label,split``."""
    reader = records(text, src.origin)
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


FORMAT = ManifestFormat(
    name="vggsound", parse=lambda text, src, ctx, sink, filtered: parse_vggsound(text, src, ctx, sink),
    columns=("youtube_id", "start", "label", "split"), header=False,
)
