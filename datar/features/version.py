"""The data version: one hash that names exactly the data a number was computed from.

``version.json`` lists the SHA-256 of ``manifest.csv``, ``classes.json``, ``shards.json``
and ``stats.json``, and for every feature shard (in ``shards.json`` order) the SHA-256 of its
*content*: the shard's recorded ``sha256_fbank`` and ``sha256_rest`` checksums, verified
against the bytes here. Content, not file bytes: safetensors writes the header's metadata
in a different order in each process, so the same features computed twice differ as files.
``data_version`` is the SHA-256 of the listing's canonical JSON (paths relative to the
dataset directory), so it changes when any data changes and does not depend on where
``data/`` lives.

Verified once: writing ``version.json`` checks every shard's checksums against its bytes (a
full read). It also records each shard's size (``shard_bytes``, not part of the version), so
that ``train`` and ``evaluate`` start with cheap checks only (:func:`vouched_shards`): the
shard's header parses, its size is the recorded one and its recorded checksums are the
content this data version names. A shard that fails a cheap check is verified in full (and
an altered one named). ``dvc-check`` re-hashes pulled files against ``dvc.lock``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from datar.errors import DataError
from datar.features.layout import shard_entries
from datar.features.shards import read_header, verify_shard
from datar.io import read_json_object, sha256_bytes, sha256_file, write_json_atomic
from datar.runs import classes_json, dataset_dir, fbank_shard, manifest_csv, shards_json, stats_json, version_json


def data_version(data_dir: str | os.PathLike[str], dataset: str) -> dict[str, Any]:
    """Hash the dataset's manifest, classes, shard list, feature shards and stats.

    Returns:
        ``{"dataset", "files": {relative path: sha256}, "n_files", "data_version"}``.

    Raises:
        DataError: one of the files is missing (named).
    """
    d = str(data_dir)
    root = Path(dataset_dir(d, dataset))
    paths = [Path(p) for p in (manifest_csv(d, dataset), classes_json(d, dataset), shards_json(d, dataset))]
    paths += [Path(fbank_shard(d, dataset, e["name"])) for e in shard_entries(data_dir, dataset)]
    paths.append(Path(stats_json(d, dataset)))
    files: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for p in paths:
        rel = p.relative_to(root).as_posix()
        try:
            if p.suffix == ".safetensors":
                files[rel] = _shard_content(p)
                sizes[rel] = p.stat().st_size
            else:
                files[rel] = sha256_file(p)
        except FileNotFoundError:
            raise DataError(f"{p}: not found; the data version needs every stage up to stats") from None
    digest = sha256_bytes(json.dumps(files, sort_keys=True).encode())
    try:  # the source lists the manifest came from (their hashes are in shards.json, hashed above)
        sources = read_json_object(Path(shards_json(d, dataset))).get("sources", [])
    except DataError:
        sources = []
    return {"dataset": dataset, "files": files, "n_files": len(files), "data_version": digest,
            "shard_bytes": sizes, "sources": sources}


def _content(meta: dict[str, str]) -> str:
    return sha256_bytes(f"{meta['sha256_fbank']}:{meta['sha256_rest']}".encode())


def _shard_content(path: Path) -> str:
    """SHA-256 of a shard's verified content checksums (raises DataError if it is corrupt)."""
    if not path.is_file():
        raise FileNotFoundError(path)
    return _content(verify_shard(path).metadata)


def read_version(data_dir: str | os.PathLike[str], dataset: str) -> dict[str, Any]:
    """The ``version.json`` of ``dataset``: the data version runs are trained and evaluated on.

    Raises:
        DataError: the file is missing (run the data-version stage) or malformed (named).
    """
    path = Path(version_json(str(data_dir), dataset))
    obj = read_json_object(path, missing=f"not found (run `snakemake {path}`, the data-version stage)")
    if not isinstance(obj.get("data_version"), str) or not isinstance(obj.get("files"), dict):
        raise DataError(f"{path}: needs a 'data_version' string and a 'files' mapping (rerun the data-version stage)")
    return obj


def vouched_shards(version: dict[str, Any], data_dir: str | os.PathLike[str], dataset: str,
                   paths: list[Path]) -> set[int]:
    """Indices of ``paths`` that ``version`` vouches for after cheap checks (no data read).

    A shard is vouched for when its header parses, its size is the one recorded when the
    data version verified it, and its recorded checksums are the content the version lists.
    The others (no record, another size) must be verified in full by the caller.

    Raises:
        DataError: a shard's header is malformed or truncated, or it holds other content than
            the data version lists (it changed after ``version.json`` was written).
    """
    root = Path(dataset_dir(str(data_dir), dataset))
    files, sizes = version["files"], version.get("shard_bytes") or {}
    ok: set[int] = set()
    for i, p in enumerate(paths):
        rel = Path(p).relative_to(root).as_posix() if Path(p).is_relative_to(root) else None
        hdr = read_header(p)
        if rel is None or rel not in files:
            continue
        if _content(hdr.metadata) != files[rel]:
            raise DataError(
                f"{p}: this feature shard is not the one data version {version['data_version'][:12]} lists (it "
                f"changed after {version_json(str(data_dir), dataset)} was written); rerun "
                f"`snakemake {version_json(str(data_dir), dataset)}`")
        if sizes.get(rel) == Path(p).stat().st_size:
            ok.add(i)
    return ok


def write_data_version(data_dir: str | os.PathLike[str], dataset: str) -> dict[str, Any]:
    """Compute :func:`data_version` and write it to ``{data_dir}/{dataset}/version.json``."""
    version = data_version(data_dir, dataset)
    write_json_atomic(version_json(str(data_dir), dataset), version)
    return version
