"""Normalisation statistics of the training split's fbank, computed by streaming.

Choice (documented for reviewers): the mean and standard deviation are taken over **every
value of every padded fbank** of the training shards, zero padding included, because the
model sees padded inputs and AST's ``get_norm_stats`` also averages over padded batches.
AST averages per-batch means and per-batch stds; we compute the exact pooled mean and
population std (ddof = 0) instead, which does not depend on the batch size. Shards are read
a few rows at a time (memory-mapped) and merged with Chan et al.'s parallel update in
float64, so memory stays bounded whatever the dataset size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from datar.errors import DataError
from datar.features.shards import open_shard, verify_shard
from datar.io import read_json_object, write_json_atomic


@dataclass(frozen=True)
class Stats:
    """Training-split normalisation statistics (``stats.json``).

    Attributes:
        mean: mean of all padded fbank values.
        std: population standard deviation of the same values.
        n_clips: clips counted.
        shards: shard names counted, in order.
    """

    mean: float
    std: float
    n_clips: int = 0
    shards: list[str] = field(default_factory=list)


@dataclass
class _Running:
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: torch.Tensor) -> None:
        n = x.numel()
        if n == 0:
            return
        x = x.to(torch.float64)
        m = float(x.mean())
        m2 = float(((x - m) ** 2).sum())
        total = self.count + n
        delta = m - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total


def compute_stats(shard_paths: Sequence[Path], *, rows_per_read: int = 32) -> Stats:
    """Mean and std over all padded fbank values of ``shard_paths`` (each verified first).

    Args:
        shard_paths: the training split's feature shards (empty shards are fine).
        rows_per_read: clips read at once (bounds memory: rows x T x M float64).

    Raises:
        DataError: a shard is missing or corrupt (named), or there is no value at all.
    """
    run = _Running()
    n_clips = 0
    names: list[str] = []
    for path in shard_paths:
        hdr = verify_shard(path)
        names.append(hdr.metadata["shard"])
        if hdr.n == 0:
            continue
        with open_shard(hdr.path) as f:
            sl = f.get_slice("fbank")
            for start in range(0, hdr.n, rows_per_read):
                run.add(sl[start : min(hdr.n, start + rows_per_read)])
        n_clips += hdr.n
    if run.count == 0:
        raise DataError(
            f"no training clips in {len(shard_paths)} shard(s) "
            f"({', '.join(str(p) for p in shard_paths[:3])}{'...' if len(shard_paths) > 3 else ''}): "
            "cannot compute normalisation statistics"
        )
    std = math.sqrt(run.m2 / run.count)
    return Stats(mean=run.mean, std=std, n_clips=n_clips, shards=names)


def write_stats(path: str | os.PathLike[str], stats: Stats) -> None:
    """Write ``stats.json`` atomically."""
    write_json_atomic(path, asdict(stats))


def load_stats(path: str | os.PathLike[str]) -> Stats:
    """Read ``stats.json``.

    Raises:
        DataError: the file is missing, malformed, or its std is not a positive finite number.
    """
    p = Path(path)
    obj = read_json_object(p, missing="stats file not found (run the stats stage)")
    try:
        mean, std = float(obj["mean"]), float(obj["std"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{p}: needs numeric 'mean' and 'std' ({exc!r})") from None
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise DataError(f"{p}: mean {mean} / std {std} must be finite with std > 0")
    return Stats(mean=mean, std=std, n_clips=int(obj.get("n_clips", 0)), shards=list(obj.get("shards", [])))
