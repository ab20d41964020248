"""A lazy, memory-mapped ``torch`` Dataset over many feature shards.

Only an index lives in memory (the cumulative clip count per shard); a clip's fbank row is
read on demand through safetensors' memory map. Each process (the main one and every
DataLoader worker) opens a shard the first time it needs it and verifies its checksums then,
once; shards verified before the workers start (``verify_all``), or vouched for by the data
version (``trust``), are not re-read by them.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from datar.errors import DataError
from datar.features.layout import shard_paths  # noqa: F401  (re-exported helper)
from datar.features.shards import ShardHeader, open_shard, read_header, verify_shard
from datar.features.specaugment import spec_augment
from datar.features.stats import Stats, load_stats  # noqa: F401  (re-exported helper)


@dataclass
class _Open:
    handle: Any
    fbank: Any  # safetensors slice of "fbank"
    labels: dict[str, Tensor]
    clip_ids: list[str]


class FbankShardDataset(Dataset):
    """Normalised fbank clips from feature shards, with SpecAugment in training mode.

    Args:
        shard_paths: the ``.safetensors`` shards, in order (empty shards are fine).
        stats: training-split mean / std (``load_stats``).
        heads: label heads to return; each shard must have them.
        train: training mode (SpecAugment on, if ``specaugment``).
        freq_mask: SpecAugment's largest mel band (AST: 48).
        time_mask: SpecAugment's largest frame band (AST: 192).
        specaugment: apply SpecAugment in training mode.

    Items are ``{"fbank": (T, M) float32, "labels": {head: () int64}, "clip_id": str,
    "index": int}``, the fbank normalised as ``(x - mean) / (2 * std)`` after masking.
    The constructor touches no file; headers are read on first ``len`` or item.
    """

    def __init__(
        self,
        shard_paths: Sequence[str | os.PathLike[str]],
        *,
        stats: Stats,
        heads: Sequence[str],
        train: bool,
        freq_mask: int,
        time_mask: int,
        specaugment: bool = True,
    ) -> None:
        self.shard_paths = [Path(p) for p in shard_paths]
        self.stats = stats
        self.heads = list(heads)
        self.train = train
        self.freq_mask = freq_mask
        self.time_mask = time_mask
        self.specaugment = specaugment
        self._ends: list[int] | None = None
        self._shape: tuple[int, int] | None = None
        self._verified: set[int] = set()
        self._open: dict[int, _Open] = {}
        self._pid: int | None = None

    # ------------------------------------------------------------------ index
    def _check(self, hdr: ShardHeader) -> None:
        lacking = [h for h in self.heads if h not in hdr.heads]
        if lacking:
            raise DataError(f"{hdr.path}: feature shard has no label head(s) {lacking} (has {hdr.heads})")
        shape = (hdr.target_length, hdr.num_mel_bins)
        if self._shape is not None and shape != self._shape:
            raise DataError(f"{hdr.path}: fbank frames x mel {shape} differ from the other shards' {self._shape}")
        self._shape = shape

    def _index(self) -> list[int]:
        if self._ends is None:
            counts = []
            for p in self.shard_paths:
                hdr = read_header(p)
                self._check(hdr)
                counts.append(hdr.n)
            self._ends = list(itertools.accumulate(counts))
        return self._ends

    def __len__(self) -> int:
        ends = self._index()
        return ends[-1] if ends else 0

    def locate(self, index: int) -> tuple[int, int]:
        """``(shard number, row)`` of dataset item ``index``."""
        ends = self._index()
        if not 0 <= index < (ends[-1] if ends else 0):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        s = bisect.bisect_right(ends, index)
        return s, index - (ends[s - 1] if s else 0)

    @property
    def frame_shape(self) -> tuple[int, int]:
        """``(T, M)`` of every clip (reads the headers if not yet read)."""
        self._index()
        if self._shape is None:
            raise DataError("no feature shards given")
        return self._shape

    # ------------------------------------------------------------------ files
    def trust(self, shards: set[int]) -> None:
        """Count these shards (indices into ``shard_paths``) as verified: their checksums were
        checked once for this data version (:func:`datar.features.version.vouched_shards`)."""
        self._verified |= {s for s in shards if 0 <= s < len(self.shard_paths)}

    def verify_all(self) -> None:
        """Verify every shard's checksums now (in this process); workers forked later skip it."""
        for s, p in enumerate(self.shard_paths):
            if s not in self._verified:
                self._check(verify_shard(p))
                self._verified.add(s)

    def _shard(self, s: int) -> _Open:
        pid = os.getpid()
        if self._pid != pid:  # a forked worker: never share the parent's handles
            self._open = {}
            self._pid = pid
        entry = self._open.get(s)
        if entry is None:
            path = self.shard_paths[s]
            hdr = read_header(path) if s in self._verified else verify_shard(path)
            self._verified.add(s)
            self._check(hdr)
            handle = open_shard(path)
            entry = _Open(
                handle=handle,
                fbank=handle.get_slice("fbank"),
                labels={h: handle.get_tensor(f"label_{h}") for h in self.heads},
                clip_ids=json.loads(hdr.metadata["clip_ids"]),
            )
            self._open[s] = entry
        return entry

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_open"] = {}
        state["_pid"] = None
        return state

    # ------------------------------------------------------------------ items
    def raw(self, index: int) -> Tensor:
        """Unnormalised, unmasked ``(T, M)`` float32 fbank of item ``index``."""
        s, row = self.locate(index)
        return self._shard(s).fbank[row].to(torch.float32)

    def __getitem__(self, index: int) -> dict[str, Any]:
        s, row = self.locate(index)
        sh = self._shard(s)
        fb = sh.fbank[row].to(torch.float32)
        if self.train and self.specaugment:
            fb = spec_augment(fb, freq_mask=self.freq_mask, time_mask=self.time_mask)
        fb = (fb - self.stats.mean) / (2.0 * self.stats.std)
        return {
            "fbank": fb,
            "labels": {h: sh.labels[h][row].clone() for h in self.heads},
            "clip_id": sh.clip_ids[row],
            "index": index,
        }


def collate_fbank(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack dataset items: ``fbank`` (B, T, M), ``labels`` {head: (B,)}, ``clip_id`` list, ``index`` (B,)."""
    heads = list(batch[0]["labels"]) if batch else []
    return {
        "fbank": torch.stack([b["fbank"] for b in batch]),
        "labels": {h: torch.stack([b["labels"][h] for b in batch]) for h in heads},
        "clip_id": [b["clip_id"] for b in batch],
        "index": torch.tensor([b["index"] for b in batch], dtype=torch.int64),
    }
