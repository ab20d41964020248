"""The data version: one hash that names exactly the data a number was computed from.

``version.json`` lists the SHA-256 of ``manifest.csv``, ``classes.json``, ``shards.json``
and ``stats.json``, and for every feature shard (in ``shards.json`` order) the SHA-256 of its
*content*: the shard's recorded ``sha256_fbank`` and ``sha256_rest`` checksums, verified
against the bytes here. Content, not file bytes: safetensors writes the header's metadata
in a different order in each process, so the same features computed twice differ as files.
``data_version`` is the SHA-256 of the listing's canonical JSON (paths relative to the
dataset directory), so it changes when any data changes and does not depend on where
``data/`` lives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from datar.errors import DataError
from datar.features.layout import fbank_dir, shard_entries
from datar.features.shards import verify_shard
from datar.io import sha256_bytes, sha256_file, write_json_atomic


def data_version(data_dir: str | os.PathLike[str], dataset: str) -> dict[str, Any]:
    """Hash the dataset's manifest, classes, shard list, feature shards and stats.

    Returns:
        ``{"dataset", "files": {relative path: sha256}, "n_files", "data_version"}``.

    Raises:
        DataError: one of the files is missing (named).
    """
    root = Path(data_dir) / dataset
    fb = fbank_dir(data_dir, dataset)
    paths = [root / "manifest.csv", root / "classes.json", root / "shards.json"]
    paths += [fb / f"{e['name']}.safetensors" for e in shard_entries(data_dir, dataset)]
    paths.append(fb / "stats.json")
    files: dict[str, str] = {}
    for p in paths:
        try:
            files[p.relative_to(root).as_posix()] = _shard_content(p) if p.suffix == ".safetensors" else sha256_file(p)
        except FileNotFoundError:
            raise DataError(f"{p}: not found; the data version needs every stage up to stats") from None
    digest = sha256_bytes(json.dumps(files, sort_keys=True).encode())
    return {"dataset": dataset, "files": files, "n_files": len(files), "data_version": digest}


def _shard_content(path: Path) -> str:
    """SHA-256 of a shard's verified content checksums (raises DataError if it is corrupt)."""
    if not path.is_file():
        raise FileNotFoundError(path)
    meta = verify_shard(path).metadata
    return sha256_bytes(f"{meta['sha256_fbank']}:{meta['sha256_rest']}".encode())


def write_data_version(data_dir: str | os.PathLike[str], dataset: str) -> dict[str, Any]:
    """Compute :func:`data_version` and write it to ``{data_dir}/{dataset}/version.json``."""
    version = data_version(data_dir, dataset)
    write_json_atomic(Path(data_dir) / dataset / "version.json", version)
    return version
