"""Class indices for a shard's clips, from the manifest and ``classes.json``."""

from __future__ import annotations

import csv
import os
from collections.abc import Collection, Sequence
from pathlib import Path

from datar.errors import DataError
from datar.io import read_json_object


def load_classes(path: str | os.PathLike[str], heads: Sequence[str]) -> dict[str, list[str]]:
    """Read ``classes.json`` (``{"heads": {head: [name0, ...]}}``) for ``heads``.

    Raises:
        DataError: the file is missing or malformed, or lacks one of ``heads`` (named).
    """
    p = Path(path)
    obj = read_json_object(p, missing="classes file not found (run the manifest stage)")
    table = obj.get("heads")
    if not isinstance(table, dict):
        raise DataError(f'{p}: expected {{"heads": {{head: [class names]}}}}')
    out: dict[str, list[str]] = {}
    for head in heads:
        names = table.get(head)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DataError(f"{p}: heads.{head}: missing or not a list of class names")
        out[head] = names
    return out


def manifest_labels(
    manifest: str | os.PathLike[str],
    classes: dict[str, list[str]],
    clip_ids: Collection[str],
) -> dict[str, dict[str, int]]:
    """Class index per head for each clip in ``clip_ids``, streaming over the manifest.

    Args:
        manifest: ``manifest.csv`` (columns ``clip_id,...`` and one column per head).
        classes: head -> class names (index order), from :func:`load_classes`.
        clip_ids: the clips wanted.

    Returns:
        clip id -> {head: class index}.

    Raises:
        DataError: naming the file (and line) for a missing head column, an unknown class,
            or a wanted clip absent from the manifest.
    """
    p = Path(manifest)
    wanted = set(clip_ids)
    index = {h: {name: i for i, name in enumerate(names)} for h, names in classes.items()}
    out: dict[str, dict[str, int]] = {}
    try:
        fh = open(p, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{p}: manifest not found") from None
    with fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        for col in ["clip_id", *index]:
            if col not in cols:
                raise DataError(f"{p}: manifest has no column {col!r} (columns: {', '.join(cols)})")
        for row in reader:
            cid = row["clip_id"]
            if cid not in wanted:
                continue
            labs: dict[str, int] = {}
            for head, lookup in index.items():
                name = row[head]
                if name not in lookup:
                    raise DataError(
                        f"{p}:{reader.line_num}: clip {cid}: {head} {name!r} is not in classes.json"
                    )
                labs[head] = lookup[name]
            out[cid] = labs
    absent = sorted(wanted - out.keys())
    if absent:
        raise DataError(f"{p}: {len(absent)} clip(s) not in the manifest, e.g. {absent[:3]}")
    return out
