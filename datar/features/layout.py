"""Where a dataset's feature files live, from ``shards.json`` (docs/architecture.md)."""

from __future__ import annotations

import os
from pathlib import Path

from datar.errors import DataError
from datar.io import read_json_object
from datar.runs import fbank_shard, shards_json


def shard_entries(data_dir: str | os.PathLike[str], dataset: str) -> list[dict]:
    """The ``shards`` list of ``{data_dir}/{dataset}/shards.json``.

    Raises:
        DataError: the file is missing or malformed (named).
    """
    p = Path(shards_json(str(data_dir), dataset))
    obj = read_json_object(p, missing="not found (run the manifest stage)")
    entries = obj.get("shards")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("split"), str) for e in entries
    ):
        raise DataError(f'{p}: expected {{"shards": [{{"name": ..., "split": ..., "n": ...}}, ...]}}')
    return entries


def shard_paths(data_dir: str | os.PathLike[str], dataset: str, split: str) -> list[Path]:
    """Feature shard files of one split, in ``shards.json`` order (existence not checked)."""
    return [Path(fbank_shard(str(data_dir), dataset, e["name"]))
            for e in shard_entries(data_dir, dataset) if e["split"] == split]


def shard_names(data_dir: str | os.PathLike[str], dataset: str, split: str | None = None) -> list[str]:
    """Shard names of ``dataset`` (optionally of one split), in ``shards.json`` order."""
    return [e["name"] for e in shard_entries(data_dir, dataset) if split is None or e["split"] == split]
