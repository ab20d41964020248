"""Normalised manifests: parse the public annotation csvs, check every row, shard, write.

The formats (``datasets.D.format``: ``vggsound``, ``kinetics400``, ``epic100``, ``csv``) are one
module each in :mod:`datar.data.formats`; the row checks (ids, times, splits, labels,
sources) are :mod:`datar.data.rows`. This module is the stage: resolve the sources, parse
them with their format, drop duplicate clip ids, hold out ``val``, restrict to a clip list,
sort and shard, write ``manifest.csv``, ``shards.json`` and ``classes.json``.

A configured ``split`` on a source overrides the file's split column. A bad row raises
``ManifestError`` naming file and line, or, with ``manifest.on_bad_row: skip``, is skipped
and recorded in ``shards.json``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from datar.config import SPLITS, Config, DatasetConfig
from datar.data.formats import FORMATS, check_datasets
from datar.data.rows import Entry, ParseContext, RowSink, decode_text
from datar.data.sources import ResolvedSource, resolve_source
from datar.errors import ConfigError, ManifestError
from datar.io import atomic_write, sha256_file, write_json_atomic
from datar.runs import classes_json, manifest_csv, shards_json, sources_dir

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
    if not FORMATS[ds.format].uses_config_classes:
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
    fmt = FORMATS[ds.format]
    for src in sources:
        text = decode_text(src.path.read_bytes(), src.origin, sink)
        for e in fmt.parse(text, src, ctx, sink, filtered):
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
    fmt = FORMATS[ds.format]
    out: dict[str, list[str]] = {}
    for i, head in enumerate(ds.heads):
        if fmt.class_list is not None:
            out[head] = fmt.class_list(head, entries)
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


def write_manifest(manifest: Manifest, data_dir: str, dataset: str, heads: Sequence[str]) -> Path:
    """Write ``classes.json``, ``shards.json`` and (last) ``manifest.csv`` atomically."""
    write_json_atomic(Path(classes_json(data_dir, dataset)), {"heads": manifest.classes})
    write_json_atomic(Path(shards_json(data_dir, dataset)), {"shards": manifest.shard_list, **manifest.info})
    path = Path(manifest_csv(data_dir, dataset))
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["clip_id", "source", "start", "end", "split", "shard", *heads])
        for e, shard in zip(manifest.entries, manifest.shards):
            w.writerow([e.clip_id, e.source, _seconds(e.start), _seconds(e.end), e.split, shard, *e.labels])
    return path


def make_manifest(cfg: Config, dataset: str) -> Manifest:
    """The ``manifest`` verb: resolve sources, build, and write under ``{data_dir}/{dataset}``."""
    ds = cfg.dataset(dataset)
    check_datasets(cfg)
    sources = [
        resolve_source(s, cache_dir=Path(sources_dir(cfg.data_dir, dataset)), timeout=cfg.download.socket_timeout,
                       where=f"datasets.{dataset}.sources[{i}]")
        for i, s in enumerate(ds.sources)
    ]
    manifest = build_manifest(cfg, dataset, sources)
    write_manifest(manifest, cfg.data_dir, dataset, ds.heads)
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
