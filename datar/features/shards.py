"""The feature shard file: one safetensors file per shard, checksummed at write time.

Layout (docs/architecture.md, "Feature shards"):

- tensors: ``fbank`` float16 ``(n, T, M)`` (unnormalised log-mel), ``label_{head}`` int64
  ``(n,)`` per head, ``n_frames`` int32 ``(n,)`` (frames before pad/crop);
- metadata: ``clip_ids`` and ``heads`` (JSON lists), ``dataset``, ``shard``,
  ``fbank_config`` (JSON), ``sha256_fbank`` (SHA-256 of the fbank tensor's bytes as stored)
  and ``sha256_rest`` (SHA-256 over the other tensors' bytes, in name order, and the other
  metadata as canonical JSON), so a flipped bit anywhere in the data is caught.

Checksums are verified by streaming the byte ranges straight from the file (bounded memory,
nothing decoded), so a 300-clip shard of 1024 x 128 frames costs one sequential read.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from datar.errors import DataError
from datar.io import atomic_write

CHECKSUM_KEYS = ("sha256_fbank", "sha256_rest")
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


@dataclass(frozen=True)
class ShardData:
    """One shard's contents in memory.

    Attributes:
        fbank: ``(n, T, M)`` float16 unnormalised log-mel.
        labels: head -> ``(n,)`` int64 class indices.
        n_frames: ``(n,)`` int32 frames before pad/crop.
        clip_ids: the ``n`` clip ids, in row order.
        dataset: dataset name.
        shard: shard name (``train-00000``).
        fbank_config: the settings that produced ``fbank``.
    """

    fbank: Tensor
    labels: Mapping[str, Tensor]
    n_frames: Tensor
    clip_ids: Sequence[str]
    dataset: str
    shard: str
    fbank_config: Mapping[str, Any]

    @property
    def heads(self) -> list[str]:
        """Label heads in stored order."""
        return list(self.labels)


@dataclass(frozen=True)
class ShardHeader:
    """What the safetensors header says about a shard (read without touching the data).

    Attributes:
        path: the file.
        n: number of clips.
        target_length: frames per clip (T).
        num_mel_bins: mel bins (M).
        heads: label heads.
        metadata: the raw string metadata.
        offsets: tensor name -> absolute ``(start, end)`` byte range in the file.
    """

    path: Path
    n: int
    target_length: int
    num_mel_bins: int
    heads: list[str]
    metadata: dict[str, str]
    offsets: dict[str, tuple[int, int]]

    @property
    def clip_ids(self) -> list[str]:
        """Clip ids in row order."""
        return json.loads(self.metadata["clip_ids"])


def _tensor_bytes(t: Tensor) -> bytes:
    """The little-endian bytes safetensors stores for ``t``."""
    t = t.detach().contiguous().cpu().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def _rest_digest(other: Mapping[str, bytes], metadata: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(other):
        h.update(name.encode() + b"\0" + len(other[name]).to_bytes(8, "little"))
        h.update(other[name])
    meta = {k: v for k, v in metadata.items() if k not in CHECKSUM_KEYS}
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()


def write_shard(path: str | os.PathLike[str], data: ShardData) -> None:
    """Write ``data`` to ``path`` atomically, with its checksums.

    Raises:
        ValueError: the tensors disagree in size or dtype (a bug in the caller).
    """
    n = len(data.clip_ids)
    fb = data.fbank.to(torch.float16).contiguous()
    if fb.dim() != 3 or fb.shape[0] != n:
        raise ValueError(f"fbank must be (n={n}, T, M), got {tuple(fb.shape)}")
    tensors: dict[str, Tensor] = {"fbank": fb, "n_frames": data.n_frames.to(torch.int32).contiguous()}
    for head, lab in data.labels.items():
        tensors[f"label_{head}"] = lab.to(torch.int64).contiguous()
    for name, t in tensors.items():
        if name != "fbank" and tuple(t.shape) != (n,):
            raise ValueError(f"{name} must be ({n},), got {tuple(t.shape)}")
    metadata = {
        "clip_ids": json.dumps(list(data.clip_ids)),
        "heads": json.dumps(list(data.labels)),
        "dataset": data.dataset,
        "shard": data.shard,
        "fbank_config": json.dumps(dict(data.fbank_config), sort_keys=True),
    }
    metadata["sha256_fbank"] = hashlib.sha256(_tensor_bytes(fb)).hexdigest()
    metadata["sha256_rest"] = _rest_digest(
        {k: _tensor_bytes(v) for k, v in tensors.items() if k != "fbank"}, metadata
    )
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def read_header(path: str | os.PathLike[str]) -> ShardHeader:
    """Parse a shard's safetensors header and check it is a well-formed feature shard.

    Only the header is read. Raises DataError naming the file for a missing file, a
    truncated file, a malformed header, or missing tensors / metadata.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise DataError(f"{p}: feature shard is truncated ({size} bytes, no header)")
            (hlen,) = struct.unpack("<Q", head)
            if hlen > min(_MAX_HEADER, size - 8):
                raise DataError(f"{p}: feature shard header is corrupt or truncated (header length {hlen}, file {size} bytes)")
            header = json.loads(fh.read(hlen).decode("utf-8"))
    except FileNotFoundError:
        raise DataError(f"{p}: feature shard not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}: feature shard header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise DataError(f"{p}: feature shard header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    base = 8 + hlen
    offsets: dict[str, tuple[int, int]] = {}
    shapes: dict[str, list[int]] = {}
    try:
        for name, info in header.items():
            start, end = (int(x) for x in info["data_offsets"])
            offsets[name] = (base + start, base + end)
            shapes[name] = [int(s) for s in info["shape"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{p}: feature shard header is malformed ({exc!r})") from None
    data_end = max((e for _, e in offsets.values()), default=base)
    if data_end > size:
        raise DataError(f"{p}: feature shard is truncated ({size} bytes, data needs {data_end})")
    missing = [k for k in ("clip_ids", "heads", "dataset", "shard", "fbank_config", *CHECKSUM_KEYS) if k not in metadata]
    if missing:
        raise DataError(f"{p}: feature shard metadata lacks {', '.join(missing)}")
    try:
        heads = json.loads(metadata["heads"])
        clip_ids = json.loads(metadata["clip_ids"])
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: feature shard metadata is not valid JSON ({exc})") from None
    need = ["fbank", "n_frames", *(f"label_{h}" for h in heads)]
    lacking = [k for k in need if k not in shapes]
    if lacking:
        raise DataError(f"{p}: feature shard lacks tensors {', '.join(lacking)}")
    fshape = shapes["fbank"]
    if len(fshape) != 3 or fshape[0] != len(clip_ids):
        raise DataError(f"{p}: fbank shape {fshape} does not match {len(clip_ids)} clip ids")
    for k in need[1:]:
        if shapes[k] != [fshape[0]]:
            raise DataError(f"{p}: tensor {k} has shape {shapes[k]}, expected [{fshape[0]}]")
    return ShardHeader(
        path=p, n=fshape[0], target_length=fshape[1], num_mel_bins=fshape[2],
        heads=list(heads), metadata=dict(metadata), offsets=offsets,
    )


def _hash_range(fh: Any, start: int, end: int, *, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    fh.seek(start)
    left = end - start
    while left > 0:
        block = fh.read(min(chunk, left))
        if not block:
            break
        h.update(block)
        left -= len(block)
    return h.hexdigest()


def verify_shard(path: str | os.PathLike[str]) -> ShardHeader:
    """Check a shard's header and both checksums against the bytes on disk.

    Returns:
        The parsed header.

    Raises:
        DataError: naming the file, if anything is missing, truncated or altered.
    """
    hdr = read_header(path)
    with open(hdr.path, "rb") as fh:
        start, end = hdr.offsets["fbank"]
        digest = _hash_range(fh, start, end)
        if digest != hdr.metadata["sha256_fbank"]:
            raise DataError(
                f"{hdr.path}: feature shard is corrupt: the fbank checksum does not match the one "
                "recorded at write time (rerun the fbank job for this shard)"
            )
        other: dict[str, bytes] = {}
        for name, (s, e) in hdr.offsets.items():
            if name == "fbank":
                continue
            fh.seek(s)
            other[name] = fh.read(e - s)
    if _rest_digest(other, hdr.metadata) != hdr.metadata["sha256_rest"]:
        raise DataError(
            f"{hdr.path}: feature shard is corrupt: labels, frame counts or metadata do not match "
            "the checksum recorded at write time (rerun the fbank job for this shard)"
        )
    return hdr


def open_shard(path: str | os.PathLike[str]) -> Any:
    """``safe_open`` a shard (memory-mapped), turning safetensors' errors into DataError."""
    try:
        return safe_open(str(path), framework="pt")
    except (SafetensorError, OSError) as exc:
        raise DataError(f"{path}: cannot open feature shard ({exc})") from None


def read_shard(path: str | os.PathLike[str], *, verify: bool = True) -> ShardData:
    """Read a whole shard into memory, checking its checksums first.

    Args:
        path: the ``.safetensors`` file.
        verify: check the checksums (leave True unless the caller just verified it).

    Raises:
        DataError: naming the file, for a missing, truncated, altered or malformed shard.
    """
    hdr = verify_shard(path) if verify else read_header(path)
    try:
        with open_shard(hdr.path) as f:
            fbank = f.get_tensor("fbank")
            n_frames = f.get_tensor("n_frames")
            labels = {h: f.get_tensor(f"label_{h}") for h in hdr.heads}
    except SafetensorError as exc:
        raise DataError(f"{hdr.path}: cannot read feature shard ({exc})") from None
    return ShardData(
        fbank=fbank,
        labels=labels,
        n_frames=n_frames,
        clip_ids=hdr.clip_ids,
        dataset=hdr.metadata["dataset"],
        shard=hdr.metadata["shard"],
        fbank_config=json.loads(hdr.metadata["fbank_config"]),
    )
