"""Kinetics-400 (CVDF's annotation csvs): ``label,youtube_id,time_start,time_end,split[,is_cc]``.

Rows are filtered to ``datasets.D.classes`` (Kinetics-Sounds: other classes are dropped and
counted, not errors); the file's ``validate`` split is the test split; the clip id is
``{youtube_id}_{start:06d}_{end:06d}`` (the name of CVDF's files).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from datar.data.formats.base import ManifestFormat
from datar.data.rows import (BadRow, Entry, ParseContext, RowSink, check_segment, check_source, check_split,
                             check_youtube_id, header, parse_whole_seconds, records)
from datar.data.sources import ResolvedSource

KINETICS_SPLITS = {"train": "train", "val": "val", "validate": "test", "test": "test"}


def parse_kinetics400(text: str, src: ResolvedSource, ctx: ParseContext, sink: RowSink, filtered: Counter[str]) -> Iterator[Entry]:
    """Rows of a Kinetics-400 csv in ``ctx.classes`` (others are counted in ``filtered``)."""
    assert ctx.classes is not None, "config check: kinetics400 needs classes"
    reader = records(text, src.origin)
    col = header(reader, ("label", "youtube_id", "time_start", "time_end", "split"), src.origin)
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


def check(ds, where) -> str | None:  # noqa: ANN001 - a DatasetConfig
    """What the config of a Kinetics dataset lacks, or None."""
    if not ds.classes:
        return (f"{where}.classes: required for format kinetics400; list the Kinetics-Sounds classes "
                "(config/config.yaml has the 32-class list)")
    return None


FORMAT = ManifestFormat(
    name="kinetics400", parse=parse_kinetics400, columns=("label", "youtube_id", "time_start", "time_end", "split"),
    check=check,
)
