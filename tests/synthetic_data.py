"""A small synthetic feature dataset written through the feature stage's own writers.

For the tests (a fixture, not part of the package): real shard files (checksummed safetensors),
``shards.json``, ``classes.json``, ``stats.json`` and ``version.json`` (the data version), with a learnable signal (each class
lights a different mel band) so a tiny model's accuracy rises within a few epochs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from datar.runs import fbank_dir
from datar.features.shards import ShardData, write_shard
from datar.features.stats import compute_stats, write_stats
from datar.features.version import write_data_version
from datar.io import write_json_atomic


def _clips(n: int, heads: Mapping[str, int], *, frames: int, mel: int,
           g: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(n, frames, mel) log-mel-like values and labels: class c of head h raises a mel band."""
    fb = torch.randn(n, frames, mel, generator=g) - 4.0
    labels = {}
    n_bands = sum(heads.values())
    offset = 0
    for head, n_cls in heads.items():
        y = torch.randint(0, n_cls, (n,), generator=g)
        labels[head] = y
        for i in range(n):
            band = offset + int(y[i])
            lo = band * mel // n_bands
            hi = max((band + 1) * mel // n_bands, lo + 1)
            fb[i, :, lo:hi] += 3.0
        offset += n_cls
    return fb, labels


def write_synthetic_dataset(
    data_dir: str | os.PathLike[str],
    dataset: str,
    *,
    heads: Mapping[str, int],
    splits: Mapping[str, int],
    frames: int,
    mel: int,
    shard_size: int = 16,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Write ``{data_dir}/{dataset}/`` as the manifest + fbank + stats stages would.

    Args:
        data_dir: root data directory.
        dataset: dataset name.
        heads: head -> number of classes (``{"label": 2}`` or ``{"verb": 3, "noun": 4}``).
        splits: split -> clips (``{"train": 32, "test": 16}``).
        frames, mel: T and M of each clip.
        shard_size: clips per shard.
        seed: generator seed (the data is a function of it).

    Returns:
        split -> shard names written.
    """
    g = torch.Generator().manual_seed(seed)
    root = Path(data_dir) / dataset
    fdir = Path(fbank_dir(str(data_dir), dataset))
    entries: list[dict] = []
    names: dict[str, list[str]] = {}
    for split, n in splits.items():
        names[split] = []
        for k, start in enumerate(range(0, n, shard_size)):
            m = min(shard_size, n - start)
            fb, labels = _clips(m, heads, frames=frames, mel=mel, g=g)
            shard = f"{split}-{k:05d}"
            write_shard(fdir / f"{shard}.safetensors", ShardData(
                fbank=fb.to(torch.float16), labels=labels, n_frames=torch.full((m,), frames, dtype=torch.int32),
                clip_ids=[f"{split}_{start + i:06d}" for i in range(m)], dataset=dataset, shard=shard,
                fbank_config={"num_mel_bins": mel, "target_length": frames, "synthetic": True},
            ))
            entries.append({"name": shard, "split": split, "n": m})
            names[split].append(shard)
    write_json_atomic(root / "shards.json", {"shards": entries, "n_rows": sum(splits.values()),
                                              "n_skipped": 0, "skipped": []})
    write_json_atomic(root / "classes.json",
                      {"heads": {h: [f"{h}_{c}" for c in range(n)] for h, n in heads.items()}})
    train_paths = [fdir / f"{s}.safetensors" for s in names.get("train", [])]
    write_stats(fdir / "stats.json", compute_stats(train_paths))
    (root / "manifest.csv").write_text(f"# synthetic dataset {json.dumps(dataset)}\n", encoding="utf-8")
    write_data_version(data_dir, dataset)
    return names
