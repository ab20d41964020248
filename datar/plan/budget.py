"""What a config costs: runs, optimizer steps, samples, disk and device-hours (pure arithmetic).

The runs are the ones the workflow trains (:func:`datar.runs.dataset_variants`:
every table row and Fig. 1's variant, once per seed). Clip counts come from the dataset's
manifest (``{data_dir}/{D}/shards.json``) when the manifest stage has run, else from
the paper's counts (``config/paper.yaml``); the plan says which. Steps follow the training loop
(:class:`datar.train.loop.Trainer`, one process): ``ceil(train clips / batch)`` per epoch,
``train.epochs.D`` epochs, capped by ``train.max_steps`` where the config has it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from datar.config import SPLITS, Config
from datar.errors import ConfigError, DataError
from datar.features.layout import shard_entries
from datar.runs import dataset_variants, manifest_csv, shards_json

Family = Literal["dat", "ast"]
CountSource = Literal["manifest", "paper"]
FBANK_BYTES_PER_VALUE = 2  # feature shards store float16 (datar.features.shards)
PCM_BYTES_PER_SAMPLE = 2  # 16-bit mono at audio.sample_rate: an upper bound for the FLAC clips
EVAL_COST_FRACTION = 1.0 / 3.0  # a forward pass ~ 1/3 of forward + backward (when not measured)


@dataclass(frozen=True)
class DatasetCounts:
    """Clips per split of one dataset and where the numbers come from.

    Attributes:
        dataset: dataset name.
        splits: clips per split (``train``, ``val``, ``test``; absent = 0).
        source: ``manifest`` (shards.json) or ``paper`` (the paper's counts, config/paper.yaml).
        audio_seconds: seconds of audio over all clips (manifest segments; else
            ``audio.clip_seconds`` per clip).
    """

    dataset: str
    splits: Mapping[str, int]
    source: CountSource
    audio_seconds: float

    @property
    def clips(self) -> int:
        """Clips over all splits."""
        return sum(self.splits.values())


@dataclass(frozen=True)
class RunPlan:
    """One (dataset, variant) trained once per seed.

    Attributes:
        dataset: dataset name.
        variant: model variant.
        family: ``dat`` or ``ast`` (which samples/s applies).
        seeds: the config's seeds (one run each).
        epochs: ``train.epochs.<dataset>``.
        steps_per_epoch: ``ceil(train clips / train.batch_size)``.
        steps: optimizer steps of one run (after ``train.max_steps``).
        samples: training samples of one run.
        eval_samples: forward passes of one run (test split, plus val every epoch).
    """

    dataset: str
    variant: str
    family: Family
    seeds: tuple[int, ...]
    epochs: int
    steps_per_epoch: int
    steps: int
    samples: int
    eval_samples: int


def _manifest_seconds(path: Path, clip_seconds: float) -> float:
    """Sum of ``end - start`` over ``manifest.csv`` (an open end counts ``clip_seconds``)."""
    total = 0.0
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            try:
                start = float(row["start"])
                total += float(row["end"]) - start if row["end"] else clip_seconds
            except (KeyError, TypeError, ValueError):
                raise DataError(f"{path}: line {reader.line_num}: expected start and end in seconds") from None
    return total


def dataset_counts(cfg: Config, dataset: str) -> DatasetCounts:
    """Clips per split of ``dataset``: its manifest when it exists, else the paper's counts.

    Raises:
        ConfigError: no manifest, and the paper reports no training count for this dataset.
        DataError: the manifest's ``shards.json`` is malformed.
    """
    shards, manifest = Path(shards_json(cfg.data_dir, dataset)), Path(manifest_csv(cfg.data_dir, dataset))
    if shards.is_file():
        splits: dict[str, int] = {}
        for entry in shard_entries(cfg.data_dir, dataset):
            splits[entry["split"]] = splits.get(entry["split"], 0) + int(entry.get("n", 0))
        seconds = (_manifest_seconds(manifest, cfg.audio.clip_seconds) if manifest.is_file()
                   else sum(splits.values()) * cfg.audio.clip_seconds)
        return DatasetCounts(dataset, splits, "manifest", seconds)
    from datar.report.paper import paper_counts

    paper = paper_counts(cfg, dataset)
    if "train" not in paper:
        raise ConfigError(f"datasets.{dataset}: {shards} does not exist yet and the paper reports "
                          "no clip counts for this dataset; run its manifest stage first "
                          f"(snakemake {manifest})")
    splits = {s: int(paper[s]) for s in SPLITS if s in paper}
    return DatasetCounts(dataset, splits, "paper", sum(splits.values()) * cfg.audio.clip_seconds)


def run_length(n_train: int, *, batch_size: int, epochs: int, max_steps: int | None) -> tuple[int, int, int]:
    """``(steps_per_epoch, steps, samples)`` of one run, as the training loop takes them."""
    per_epoch = max(math.ceil(n_train / batch_size), 1)
    steps = epochs * per_epoch
    samples = epochs * n_train
    if max_steps is not None and max_steps < steps:
        full, rest = divmod(max_steps, per_epoch)
        steps = max_steps
        samples = full * n_train + min(rest * batch_size, n_train)
    return per_epoch, steps, samples


def plan_runs(cfg: Config, counts: Mapping[str, DatasetCounts]) -> list[RunPlan]:
    """Every (dataset, variant) the workflow trains, with its steps and samples per run."""
    from datar.models import VARIANTS

    max_steps = getattr(cfg.train, "max_steps", None)  # train.max_steps, where the config has it
    plans = []
    for dataset in sorted(cfg.datasets):
        c = counts[dataset]
        for variant in dataset_variants(cfg, dataset):
            epochs = cfg.epochs_for(dataset)
            per_epoch, steps, samples = run_length(c.splits.get("train", 0), batch_size=cfg.train.batch_size,
                                                   epochs=epochs, max_steps=max_steps)
            done_epochs = math.ceil(steps / per_epoch)
            evals = c.splits.get("test", 0) + done_epochs * c.splits.get("val", 0)
            plans.append(RunPlan(dataset, variant, VARIANTS[variant].family, tuple(cfg.seeds), epochs, per_epoch,
                                 steps, samples, evals))
    return plans


def feature_bytes(cfg: Config, clips: int) -> int:
    """Bytes of the fbank shards of ``clips`` clips (``(T, M)`` float16 each, tensors only)."""
    return clips * cfg.fbank.target_length * cfg.fbank.num_mel_bins * FBANK_BYTES_PER_VALUE


def audio_bytes(cfg: Config, seconds: float) -> int:
    """Bytes of ``seconds`` of 16-bit mono PCM at ``audio.sample_rate`` (FLAC stores less)."""
    return int(seconds * cfg.audio.sample_rate * PCM_BYTES_PER_SAMPLE)


def run_hours(run: RunPlan, *, samples_per_s: float, eval_samples_per_s: float) -> float:
    """Device-hours of all seeds of ``run`` (training plus evaluation)."""
    seconds = run.samples / samples_per_s + run.eval_samples / eval_samples_per_s
    return len(run.seeds) * seconds / 3600.0


def families(runs: Sequence[RunPlan]) -> list[Family]:
    """The model families the runs need, in a fixed order."""
    present = {r.family for r in runs}
    return [f for f in ("dat", "ast") if f in present]  # type: ignore[misc]
