"""Evaluation of a finished run on the test split: ``metrics.json`` and ``predictions.csv``.

``metrics.json`` follows ``docs/architecture.md`` "Metrics"; ``predictions.csv`` has one row
per test clip: ``clip_id``, then for each head ``{head}_true``, ``{head}_pred`` and
``{head}_top5`` (class names, the top 5 joined with ``|``, best first).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from datar.checkpoint import model_from_checkpoint, verify_checkpoint
from datar.config import Config
from datar.errors import CheckpointError
from datar.io import write_json_atomic, write_text_atomic
from datar.runs import version_json
from datar.train.accuracy import head_metrics
from datar.train.data import SplitData, load_split, make_loader, resolve_workers
from datar.train.distributed import DeviceFlag, DistInfo, pick_device
from datar.fingerprint import verb_fingerprint
from datar.gitinfo import code_state
from datar.train.sampler import EpochSampler
from datar.train.state import CHECKPOINT

METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"


@dataclass(frozen=True)
class Outputs:
    """Test-split model outputs in clip order.

    Attributes:
        clip_ids: N clip ids.
        logits: head -> (N, C) float32.
        labels: head -> (N,) int64.
    """

    clip_ids: list[str]
    logits: dict[str, torch.Tensor]
    labels: dict[str, torch.Tensor]


@torch.no_grad()
def predict(model: nn.Module, split: SplitData, *, batch_size: int, device: torch.device,
            num_workers: int = 0) -> Outputs:
    """Run ``model`` over every clip of ``split`` (in order, no augmentation; ``num_workers`` loaders)."""
    model.eval()
    ds = split.dataset
    loader = make_loader(ds, batch_size=batch_size, num_workers=num_workers, seed=0, device=device,
                         sampler=EpochSampler(len(ds), seed=0, epoch=0, shuffle=False))
    ids: list[str] = []
    logits: dict[str, list[torch.Tensor]] = {h: [] for h in split.classes}
    labels: dict[str, list[torch.Tensor]] = {h: [] for h in split.classes}
    for batch in loader:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = model(batch["fbank"].to(device))
        ids.extend(batch["clip_id"])
        for h in logits:
            logits[h].append(out[h].float().cpu())
            labels[h].append(batch["labels"][h])
    return Outputs(clip_ids=ids, logits={h: torch.cat(v) for h, v in logits.items()},
                   labels={h: torch.cat(v) for h, v in labels.items()})


def predictions_csv(outputs: Outputs, classes: dict[str, list[str]], *, k: int = 5) -> str:
    """The ``predictions.csv`` text for ``outputs`` (class names from ``classes``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    heads = list(classes)
    w.writerow(["clip_id"] + [f"{h}_{c}" for h in heads for c in ("true", "pred", f"top{k}")])
    tops = {h: outputs.logits[h].topk(min(k, outputs.logits[h].shape[1]), dim=1).indices for h in heads}
    for i, cid in enumerate(outputs.clip_ids):
        row = [cid]
        for h in heads:
            names = classes[h]
            top = tops[h][i].tolist()
            row += [names[int(outputs.labels[h][i])], names[top[0]], "|".join(names[j] for j in top)]
        w.writerow(row)
    return buf.getvalue()


def evaluate_run(cfg: Config, run: str | os.PathLike[str], *, device: DeviceFlag = "auto",
                 batch_size: int | None = None) -> dict[str, Any]:
    """Evaluate ``run/checkpoint.pt`` on its dataset's test split; write the two outputs.

    Args:
        cfg: the experiment config (data_dir, fbank, demo flag, provenance).
        run: the run directory.
        device: ``auto``, ``cpu`` or ``cuda``.
        batch_size: inference batch (default ``train.batch_size``).

    Returns:
        The ``metrics.json`` mapping.

    Raises:
        CheckpointError: the checkpoint is missing / corrupt / does not fit the test data, or
            was trained on another data version.
        DataError: missing or corrupt test shards, stats, classes or version.json.
    """
    run_dir = Path(run)
    ckpt = run_dir / CHECKPOINT
    dev = pick_device(device, DistInfo())
    model, payload = model_from_checkpoint(ckpt, map_location=dev)
    dataset = str(payload["dataset"])
    split = load_split(cfg, dataset, "test", train=False)
    assert split is not None
    if split.heads != {str(k): int(v) for k, v in payload["heads"].items()}:
        raise CheckpointError(f"{ckpt}: trained for heads {payload['heads']} but {dataset}'s classes.json "
                              f"has {split.heads}")
    trained_on = payload.get("data_version")
    if trained_on is not None and trained_on != split.data_version:
        raise CheckpointError(f"{ckpt}: trained on data version {str(trained_on)[:12]} but "
                              f"{version_json(cfg.data_dir, dataset)} is {split.data_version[:12]}: "
                              "retrain it on this data (rerun its train job)")
    if split.dataset.frame_shape != (int(payload["target_length"]), int(payload["num_mel_bins"])):
        raise CheckpointError(f"{ckpt}: trained on {payload['target_length']} x {payload['num_mel_bins']} "
                              f"fbanks but the test shards hold {split.dataset.frame_shape}")
    train_code = payload.get("code") or {"commit": None, "dirty": None, "diff_sha256": None, "fingerprint": None}
    outputs = predict(model, split, batch_size=batch_size or cfg.train.batch_size, device=dev,
                      num_workers=resolve_workers(cfg.train.num_workers))
    metrics = {
        "dataset": dataset, "variant": payload["variant"], "seed": int(payload["seed"]), "split": "test",
        "n_clips": len(outputs.clip_ids),
        "metrics": {k: round(v, 4) for k, v in head_metrics(outputs.logits, outputs.labels).items()},
        "pretrained": bool(payload.get("pretrained", False)), "demo": bool(cfg.raw.get("demo", False)),
        "size": payload["size"], "config_sha256": cfg.sha256, "git_commit": train_code.get("commit"),
        "code": {"train": train_code, "evaluate": code_state(fingerprint=verb_fingerprint("evaluate")).as_dict()},
        "weights": payload.get("weights"),
        "data_version": split.data_version,
        "epochs_trained": int(payload.get("epoch", 0)), "checkpoint_sha256": verify_checkpoint(ckpt),
        "capped_at_step": payload.get("capped_at_step"),
    }
    write_text_atomic(run_dir / PREDICTIONS, predictions_csv(outputs, split.classes))
    write_json_atomic(run_dir / METRICS, metrics)
    return metrics
