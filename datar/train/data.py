"""Datasets and loaders of one run, from the feature stage's shards, stats and classes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from datar.config import Config
from datar.errors import ConfigError, DataError
from datar.features.dataset import FbankShardDataset, collate_fbank
from datar.features.labels import load_classes
from datar.features.layout import shard_paths
from datar.features.stats import load_stats
from datar.features.version import read_version, vouched_shards
from datar.runs import classes_json, shards_json, stats_json

Split = Literal["train", "val", "test"]


@dataclass(frozen=True)
class SplitData:
    """One split of a dataset, ready for a loader.

    Attributes:
        dataset: the lazy Dataset (items per ``FbankShardDataset``).
        classes: head -> class names (``classes.json`` order).
        shards: the shard files.
        data_version: the dataset's data version (``version.json``) the shards belong to.
    """

    dataset: FbankShardDataset
    classes: dict[str, list[str]]
    shards: list[Path]
    data_version: str

    @property
    def heads(self) -> dict[str, int]:
        """head -> number of classes."""
        return {h: len(names) for h, names in self.classes.items()}


def resolve_workers(value: int | str) -> int:
    """``train.num_workers``: an int, or ``"auto"`` = this job's CPUs - 1 (at least 0)."""
    if value == "auto":
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(cpus - 1, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"train.num_workers: expected 'auto' or an integer >= 0, got {value!r}")
    return value


def load_split(cfg: Config, dataset: str, split: Split, *, train: bool, required: bool = True) -> SplitData | None:
    """Open ``split`` of ``dataset`` under ``cfg.data_dir``.

    Args:
        cfg: the experiment config (data_dir, fbank masks, train.specaugment, heads).
        dataset: dataset name (a key of ``cfg.datasets``).
        split: ``train``, ``val`` or ``test``.
        train: training mode (SpecAugment when ``cfg.train.specaugment``).
        required: raise DataError when the split has no shards (else return None).

    Shards are checked cheaply against ``version.json`` (header, size, recorded checksums:
    :func:`datar.features.version.vouched_shards`); only those it cannot vouch for are
    hashed in full here.

    Raises:
        DataError: missing classes / stats / shards / version.json, a shard that is not the
            one the data version lists, or shards whose (T, M) differ from
            ``fbank.target_length`` x ``fbank.num_mel_bins``.
    """
    heads = list(cfg.dataset(dataset).heads)
    paths = shard_paths(cfg.data_dir, dataset, split)
    if not paths:
        if required:
            raise DataError(f"{shards_json(cfg.data_dir, dataset)}: no {split} shards for dataset {dataset!r}")
        return None
    classes = load_classes(Path(classes_json(cfg.data_dir, dataset)), heads)
    stats = load_stats(Path(stats_json(cfg.data_dir, dataset)))
    version = read_version(cfg.data_dir, dataset)
    ds = FbankShardDataset(paths, stats=stats, heads=heads, train=train, freq_mask=cfg.fbank.freq_mask,
                           time_mask=cfg.fbank.time_mask, specaugment=cfg.train.specaugment)
    ds.trust(vouched_shards(version, cfg.data_dir, dataset, paths))
    ds.verify_all()
    want = (cfg.fbank.target_length, cfg.fbank.num_mel_bins)
    if ds.frame_shape != want:
        raise DataError(
            f"{paths[0]}: shards hold {ds.frame_shape[0]} frames x {ds.frame_shape[1]} mel bins but the config "
            f"says fbank.target_length={want[0]}, fbank.num_mel_bins={want[1]} (rerun the fbank stage)"
        )
    for head, names in classes.items():
        if not names:
            raise DataError(f"{classes_json(cfg.data_dir, dataset)}: heads.{head} has no classes")
    return SplitData(dataset=ds, classes=classes, shards=paths, data_version=version["data_version"])


class SeededItems(Dataset):
    """``ds`` indexed by ``(item_seed, index)``: each item's random augmentation is seeded by ``item_seed``.

    The item is drawn under :func:`torch.random.fork_rng`, so torch's global generator (the
    model's dropout, noise, mixup) is left untouched, in the main process or in a worker.

    Args:
        ds: the dataset (its ``__getitem__`` draws SpecAugment masks from torch's generator).
    """

    def __init__(self, ds: FbankShardDataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        seed, index = key
        with torch.random.fork_rng(devices=[]):  # the CPU generator only; CUDA's is not touched
            torch.default_generator.manual_seed(seed)
            return self.ds[index]


def make_loader(ds: Dataset, *, batch_size: int, sampler: Sampler, num_workers: int, seed: int,
                device: torch.device, persistent: bool = False) -> DataLoader:
    """A DataLoader whose workers' seeds come from ``seed`` (not torch's global RNG).

    Args:
        ds: a dataset (:class:`FbankShardDataset`, or :class:`SeededItems` with a seeded sampler).
        persistent: keep the worker processes between epochs (the sampler is then reused
            across epochs through its ``set_epoch``).
    """
    return DataLoader(
        ds, batch_size=batch_size, sampler=sampler, num_workers=num_workers, collate_fn=collate_fbank,
        generator=torch.Generator().manual_seed(seed), pin_memory=device.type == "cuda",
        persistent_workers=persistent and num_workers > 0, drop_last=False,
    )
