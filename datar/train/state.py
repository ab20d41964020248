"""What a run directory holds between invocations: the run's identity, resume state, completion.

A run's identity is its recipe: everything that decides its numbers, the data version
included. ``last.ckpt`` and ``checkpoint.pt`` record the recipe's hash; state written for
another recipe is moved aside (:func:`move_aside`), never resumed and never deleted.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from datar.config import Config
from datar.fingerprint import verb_fingerprint
from datar.io import sha256_file
from datar.train.runlog import read_log

CHECKPOINT = "checkpoint.pt"
LAST = "last.ckpt"
LOG = "log.csv"
CONFIG = "config.yaml"
ENV = "env.json"


def recipe(cfg: Config, *, dataset: str, variant: str, seed: int, max_steps: int | None,
           data_version: str) -> dict[str, Any]:
    """Everything that decides a run's numbers (not ``train.num_workers``, paths or devices).

    Args:
        data_version: the data the run trains on (``version.json``): a run on other data is
            another run.
    """
    train = dataclasses.asdict(cfg.train)
    train.pop("num_workers", None)
    train.pop("compile", None)  # how fast, not what
    return {
        "dataset": dataset, "variant": variant, "seed": seed, "max_steps": max_steps,
        "model": dataclasses.asdict(cfg.model), "fbank": dataclasses.asdict(cfg.fbank), "train": train,
        "epochs": cfg.epochs_for(dataset), "data_version": data_version,
        "code": verb_fingerprint("train"), "weights_sha256": weights_sha256(cfg, variant),
    }


def weights_sha256(cfg: Config, variant: str) -> str | None:
    """SHA-256 of the variant's pretrained weights file (None from scratch or when the file is absent).

    Part of the recipe: a replaced weights file at the same path is another run.
    """
    from datar.variants import VARIANTS

    spec = cfg.model.pretrained.of(VARIANTS[variant].family) if variant in VARIANTS else None
    if spec is None or not Path(spec.path).is_file():
        return None
    return _cached_sha256(str(Path(spec.path).resolve()), *_stat_key(Path(spec.path)))


def _stat_key(p: Path) -> tuple[int, int]:
    st = p.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=8)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def recipe_changes(old: Any, new: dict[str, Any]) -> str:
    """What differs between a recorded recipe and ``new``, in words (for the move-aside message)."""
    if not isinstance(old, dict):
        return "a recipe this version does not record"
    parts = []
    if old.get("data_version") != new["data_version"]:
        parts.append(f"data version {str(old.get('data_version', 'unknown'))[:12]} (the data is now "
                     f"{new['data_version'][:12]})")
    if old.get("code") != new.get("code"):
        parts.append(f"code (train's code fingerprint {old.get('code') or 'unrecorded'}, now {new.get('code')})")
    if old.get("weights_sha256") != new.get("weights_sha256"):
        parts.append(f"pretrained weights (sha256 {str(old.get('weights_sha256'))[:12]}, now "
                     f"{str(new.get('weights_sha256'))[:12]})")
    for key in sorted(k for k in new if k not in ("data_version", "code", "weights_sha256")):
        if old.get(key) != new[key]:
            if isinstance(new[key], dict) and isinstance(old.get(key), dict):
                keys = sorted(k for k in set(new[key]) | set(old[key]) if old[key].get(k) != new[key].get(k))
                parts.append(", ".join(f"{key}.{k}" for k in keys))
            else:
                parts.append(key)
    return "another " + "; ".join(parts) if parts else "another recipe"


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


def move_aside(path: Path, tag: str) -> Path | None:
    """Rename ``path`` (and its ``.sha256`` sidecar) to ``<name>.stale-<tag>``; None if absent."""
    if not path.exists():
        return None
    stale = path.with_name(f"{path.name}.stale-{tag}")
    path.replace(stale)
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.exists():
        sidecar.replace(stale.with_name(stale.name + ".sha256"))
    return stale
