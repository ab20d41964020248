"""Run metrics files (``results/runs/{D}/{V}/seed{N}/metrics.json``), read and checked."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datar.errors import DataError


@dataclass(frozen=True)
class RunMetrics:
    """The test metrics of one run (one dataset x variant x seed).

    Attributes:
        path: the metrics file.
        dataset: dataset key.
        variant: model variant key.
        seed: training seed.
        split: evaluated split (tables use ``test``).
        metrics: metric name -> percentage.
        n_clips: clips evaluated.
        pretrained: whether training started from pretrained weights (None if not recorded).
        demo: whether the run is part of the synthetic demo.
        size: model size key (``tiny``, ``T``, ``S``, ``B``) or None.
        config_sha256: hash of the resolved config the run used, or None.
        git_commit: commit the run was made at, or None.
        data_version: version string of the data the run used, or None.
    """

    path: str
    dataset: str
    variant: str
    seed: int
    split: str
    metrics: Mapping[str, float]
    n_clips: int | None = None
    pretrained: bool | None = None
    demo: bool = False
    size: str | None = None
    config_sha256: str | None = None
    git_commit: str | None = None
    data_version: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _require(raw: Mapping[str, Any], key: str, types: type | tuple[type, ...], path: Path) -> Any:
    if key not in raw:
        raise DataError(f"{path}: metrics file lacks the key {key!r}")
    value = raw[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise DataError(f"{path}: {key}: expected {types}, got {value!r}")
    if not isinstance(value, types):
        raise DataError(f"{path}: {key}: expected {types}, got {value!r}")
    return value


def read_metrics(path: str | os.PathLike[str]) -> RunMetrics:
    """Read one metrics file; a missing, malformed or non-finite entry raises DataError naming it."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: metrics file not found")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: not valid JSON: {exc}") from None
    if not isinstance(raw, Mapping):
        raise DataError(f"{p}: expected a JSON object")
    values = _require(raw, "metrics", dict, p)
    metrics: dict[str, float] = {}
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise DataError(f"{p}: metrics.{k}: expected a finite number, got {v!r}")
        metrics[str(k)] = float(v)
    pretrained = raw.get("pretrained")
    if pretrained is not None and not isinstance(pretrained, bool):
        raise DataError(f"{p}: pretrained: expected true/false, got {pretrained!r}")
    n_clips = raw.get("n_clips")
    return RunMetrics(
        path=str(p),
        dataset=_require(raw, "dataset", str, p),
        variant=_require(raw, "variant", str, p),
        seed=_require(raw, "seed", int, p),
        split=str(raw.get("split", "test")),
        metrics=metrics,
        n_clips=int(n_clips) if isinstance(n_clips, int) else None,
        pretrained=pretrained,
        demo=bool(raw.get("demo", False)),
        size=raw.get("size"),
        config_sha256=raw.get("config_sha256"),
        git_commit=raw.get("git_commit"),
        data_version=raw.get("data_version"),
        extra={k: v for k, v in raw.items() if k not in {"metrics"}},
    )


def read_all(paths: Iterable[str | os.PathLike[str]]) -> list[RunMetrics]:
    """Read several metrics files; two files for the same (dataset, variant, seed) raise DataError."""
    runs = [read_metrics(p) for p in paths]
    seen: dict[tuple[str, str, int], str] = {}
    for r in runs:
        key = (r.dataset, r.variant, r.seed)
        if key in seen:
            raise DataError(f"{r.path}: same dataset/variant/seed {key} as {seen[key]}")
        seen[key] = r.path
    return runs
