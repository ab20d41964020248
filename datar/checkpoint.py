"""Checkpoints: ``torch.save`` dicts with a SHA-256 sidecar, loadable with ``weights_only=True``.

Format (``docs/architecture.md`` "Checkpoints")::

    {"format": "datar-checkpoint/1", "model": state_dict, "variant", "size",
     "heads": {head: n_classes}, "num_mel_bins", "target_length", "dataset", "seed",
     "epoch", "config": resolved config mapping, "pretrained": bool,
     "overrides": {build_model keyword: value}}   # optional

``last.ckpt`` adds the optimizer, scheduler, RNG states and the global step. The sidecar
``<file>.sha256`` holds the hex digest of the checkpoint's bytes and is checked on every
load, so a truncated or bit-flipped file raises :class:`~datar.errors.CheckpointError`
naming it instead of being used.

A save is three atomic steps, so that a SIGKILL at any instant leaves a pair that verifies:
(1) the sidecar lists the new digest *and* the current file's digest; (2) the new bytes are
renamed over the file; (3) the sidecar is rewritten with the new digest alone. Between (1)
and (3) either file content matches a listed digest; corrupt bytes match none.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from datar.errors import CheckpointError
from datar.io import atomic_write, sha256_bytes, sha256_file, write_text_atomic

FORMAT = "datar-checkpoint/1"
REQUIRED_KEYS: tuple[str, ...] = ("format", "model", "variant", "size", "heads", "num_mel_bins", "target_length")


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The checksum sidecar of a checkpoint: ``<file>.sha256``."""
    p = Path(path)
    return p.with_name(p.name + ".sha256")


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> str:
    """Write ``payload`` to ``path`` atomically and its SHA-256 to ``<path>.sha256``.

    Args:
        path: destination file (``checkpoint.pt`` or ``last.ckpt``).
        payload: the checkpoint dict; ``format`` is filled in when absent. Values must be
            what ``torch.load(weights_only=True)`` accepts (tensors, numbers, strings,
            lists, tuples, dicts).

    Returns:
        The hex SHA-256 of the written bytes.
    """
    data = dict(payload)
    data.setdefault("format", FORMAT)
    buf = io.BytesIO()
    torch.save(data, buf)
    blob = buf.getvalue()
    digest = sha256_bytes(blob)
    target = Path(path)
    side = sidecar_path(target)
    lines = [f"{digest}  {target.name}"]
    if target.is_file() and side.is_file():
        previous = _listed_digests(side)
        current = sha256_file(target)
        if current in previous and current != digest:
            lines.append(f"{current}  {target.name}")
    write_text_atomic(side, "\n".join(lines) + "\n")  # (1) new + current digest
    with atomic_write(target) as tmp:  # (2) the new bytes
        tmp.write_bytes(blob)
    if len(lines) > 1:
        write_text_atomic(side, lines[0] + "\n")  # (3) the new digest alone
    return digest


def _listed_digests(side: Path) -> list[str]:
    """The digests a sidecar lists (first field of each line); [] if it is malformed."""
    digests = [line.split()[0] for line in side.read_text(encoding="utf-8").splitlines() if line.strip()]
    return digests if digests and all(len(d) == 64 for d in digests) else []


def verify_checkpoint(path: str | os.PathLike[str]) -> str:
    """Check ``path`` against its sidecar; return the digest or raise CheckpointError."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint not found")
    side = sidecar_path(p)
    if not side.is_file():
        raise CheckpointError(f"{p}: checksum sidecar {side.name} is missing; the checkpoint may be incomplete")
    listed = _listed_digests(side)
    if not listed:
        raise CheckpointError(f"{side}: malformed checksum sidecar")
    actual = sha256_file(p)
    if actual not in listed:
        raise CheckpointError(
            f"{p}: checksum mismatch (sidecar {listed[0][:12]}..., file {actual[:12]}...): "
            "the checkpoint is truncated or corrupt; delete it (and its .sha256) to retrain"
        )
    return actual


def load_checkpoint(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Verify and load a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: the file or its sidecar is missing, the bytes do not match the
            sidecar, the file cannot be unpickled safely, or required keys are missing.
    """
    p = Path(path)
    verify_checkpoint(p)
    try:
        payload = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"{p}: cannot load checkpoint: {exc}") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{p}: not a datar checkpoint (top level is {type(payload).__name__})")
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise CheckpointError(f"{p}: not a datar checkpoint, missing key(s) {missing}")
    if payload["format"] != FORMAT:
        raise CheckpointError(f"{p}: unsupported checkpoint format {payload['format']!r} (expected {FORMAT!r})")
    return payload


def model_from_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a checkpoint was trained as and load its weights.

    Returns:
        ``(model, payload)``: the model in eval mode on ``map_location``, and the payload.

    Raises:
        CheckpointError: as :func:`load_checkpoint`, or the state dict does not fit the
            rebuilt model.
    """
    from datar.models import build_model

    payload = load_checkpoint(path, map_location=map_location)
    try:
        model = build_model(
            payload["variant"],
            size=payload["size"],
            heads={str(k): int(v) for k, v in payload["heads"].items()},
            num_mel_bins=int(payload["num_mel_bins"]),
            target_length=int(payload["target_length"]),
            **dict(payload.get("overrides") or {}),
        )
    except ValueError as exc:
        raise CheckpointError(f"{path}: cannot rebuild the model: {exc}") from None
    try:
        model.load_state_dict(payload["model"], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: state dict does not match variant {payload['variant']!r}: {exc}") from None
    model.to(map_location)
    model.eval()
    return model, payload
