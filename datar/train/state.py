"""What a run directory holds between invocations: the recipe hash, resume state, completion."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from datar.config import Config
from datar.train.runlog import read_log

CHECKPOINT = "checkpoint.pt"
LAST = "last.ckpt"
LOG = "log.csv"
CONFIG = "config.yaml"
ENV = "env.json"


def recipe(cfg: Config, *, dataset: str, variant: str, seed: int, max_steps: int | None) -> dict[str, Any]:
    """Everything that decides a run's numbers (not ``train.num_workers``, paths or devices)."""
    train = dataclasses.asdict(cfg.train)
    train.pop("num_workers", None)
    train.pop("compile", None)  # how fast, not what
    return {
        "dataset": dataset, "variant": variant, "seed": seed, "max_steps": max_steps,
        "model": dataclasses.asdict(cfg.model), "fbank": dataclasses.asdict(cfg.fbank), "train": train,
        "epochs": cfg.epochs_for(dataset),
    }


def recipe_sha256(rec: dict[str, Any]) -> str:
    """Canonical hash of :func:`recipe`."""
    return hashlib.sha256(json.dumps(rec, sort_keys=True, default=str).encode()).hexdigest()


def log_complete(out: Path, epochs: int) -> bool:
    """``log.csv`` lists every epoch 1..``epochs``."""
    done = set()
    for row in read_log(out / LOG):
        try:
            done.add(int(row["epoch"]))
        except (KeyError, TypeError, ValueError):
            continue
    return set(range(1, epochs + 1)) <= done
