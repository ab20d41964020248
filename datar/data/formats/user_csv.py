"""A user's own csv: ``clip_id,source,start,end,label,split`` (local files, URLs or YouTube ids).

``label`` is ``a|b`` for a dataset with several heads; with ``datasets.D.classes`` set, an
unknown label is a bad row; an empty ``end`` means to the end of the source.
"""

from __future__ import annotations

from collections.abc import Iterator

from datar.data.formats.base import ManifestFormat
from datar.data.rows import (BadRow, Entry, ParseContext, RowSink, check_label, check_segment, check_source,
                             check_split, check_clip_id, header, parse_seconds, records)
from datar.data.sources import ResolvedSource


def parse_user_csv(text: str, src: ResolvedSource, ctx: ParseContext, sink: RowSink) -> Iterator[Entry]:
    """Rows of the user csv format ``clip_id,source,start,end,label,split``."""
    reader = records(text, src.origin)
    col = header(reader, ("clip_id", "source", "start", "end", "label", "split"), src.origin)
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


FORMAT = ManifestFormat(
    name="csv", parse=lambda text, src, ctx, sink, filtered: parse_user_csv(text, src, ctx, sink),
    columns=("clip_id", "source", "start", "end", "label", "split"),
)
