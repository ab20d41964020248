"""One fbank job: the ``ok`` clips of a shard's tar -> one feature shard file."""

from __future__ import annotations

import csv
import os
import tarfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from datar.config import FbankConfig
from datar.errors import DataError
from datar.data.flac import decode_flac_mono
from datar.features.fbank import compute_fbank, fbank_config_dict, pad_or_crop
from datar.features.labels import load_classes, manifest_labels
from datar.features.shards import ShardData, write_shard
from datar.runs import classes_json, clip_file, fbank_shard, manifest_csv

VALID_COLUMNS = ("clip_id", "status", "reason", "duration", "sample_rate", "channels", "rms_dbfs")


@dataclass(frozen=True)
class ShardPaths:
    """The files one fbank job reads and writes, per docs/architecture.md."""

    tar: Path
    valid_csv: Path
    manifest: Path
    classes: Path
    out: Path

    @classmethod
    def for_shard(cls, data_dir: str | os.PathLike[str], dataset: str, shard: str) -> ShardPaths:
        """The shard's files as ``datar.runs`` places them."""
        d = str(data_dir)
        return cls(
            tar=Path(clip_file(d, dataset, shard, "tar")),
            valid_csv=Path(clip_file(d, dataset, shard, "valid.csv")),
            manifest=Path(manifest_csv(d, dataset)),
            classes=Path(classes_json(d, dataset)),
            out=Path(fbank_shard(d, dataset, shard)),
        )


def ok_clip_ids(valid_csv: str | os.PathLike[str]) -> list[str]:
    """Clip ids whose validation status is ``ok``, in file order.

    Raises:
        DataError: the file is missing, lacks a column, or repeats a clip id (line named).
    """
    p = Path(valid_csv)
    try:
        fh = open(p, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{p}: validation csv not found (run the validate stage)") from None
    ids: list[str] = []
    seen: set[str] = set()
    with fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("clip_id", "status") if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{p}: missing column(s) {', '.join(missing)}; expected {','.join(VALID_COLUMNS)}")
        for row in reader:
            cid = row["clip_id"]
            if cid in seen:
                raise DataError(f"{p}:{reader.line_num}: clip {cid} appears twice")
            seen.add(cid)
            if row["status"] == "ok":
                ids.append(cid)
    return ids


def _features(data: bytes, *, name: str, sample_rate: int, cfg: FbankConfig) -> tuple[Tensor, int]:
    wav = torch.from_numpy(decode_flac_mono(data, sample_rate=sample_rate, name=name))
    fb = compute_fbank(wav, sample_rate=sample_rate, cfg=cfg)
    if fb.shape[0] == 0:
        raise DataError(f"{name}: clip is shorter than one fbank frame")
    return pad_or_crop(fb, cfg.target_length).to(torch.float16), int(fb.shape[0])


def extract_shard(
    paths: ShardPaths,
    *,
    dataset: str,
    shard: str,
    heads: Sequence[str],
    sample_rate: int,
    cfg: FbankConfig,
    workers: int = 1,
) -> int:
    """Compute fbank for the ``ok`` clips of one shard and write the shard file atomically.

    Clips are decoded with ffmpeg and featurised in a pool of ``workers`` threads (ffmpeg
    runs in its own process; torch's kernels release the GIL). A shard with no ``ok`` clip
    is written with ``n = 0`` and its tar is not needed.

    Returns:
        The number of clips written.

    Raises:
        DataError: an input file is missing or inconsistent (named), or an ``ok`` clip is
            absent from the tar or cannot be decoded.
    """
    ids = ok_clip_ids(paths.valid_csv)
    classes = load_classes(paths.classes, heads)
    labels = manifest_labels(paths.manifest, classes, ids)
    blobs: list[bytes] = []
    if ids:
        try:
            with tarfile.open(paths.tar, "r") as tf:
                members = {m.name: m for m in tf.getmembers() if m.isfile()}
                for cid in ids:
                    member = members.get(f"{cid}.flac")
                    if member is None:
                        raise DataError(f"{paths.tar}: no member {cid}.flac, but {paths.valid_csv} says it is ok")
                    fobj = tf.extractfile(member)
                    assert fobj is not None
                    blobs.append(fobj.read())
        except FileNotFoundError:
            raise DataError(f"{paths.tar}: clip archive not found (run the download stage)") from None
        except tarfile.TarError as exc:
            raise DataError(f"{paths.tar}: not a readable tar archive ({exc})") from None

    def job(i: int) -> tuple[Tensor, int]:
        return _features(blobs[i], name=f"{paths.tar}:{ids[i]}.flac", sample_rate=sample_rate, cfg=cfg)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(job, range(len(ids))))
    n = len(ids)
    fbank = (
        torch.stack([r[0] for r in results])
        if n
        else torch.zeros(0, cfg.target_length, cfg.num_mel_bins, dtype=torch.float16)
    )
    write_shard(
        paths.out,
        ShardData(
            fbank=fbank,
            labels={h: torch.tensor([labels[c][h] for c in ids], dtype=torch.int64) for h in heads},
            n_frames=torch.tensor([r[1] for r in results], dtype=torch.int32),
            clip_ids=ids,
            dataset=dataset,
            shard=shard,
            fbank_config=fbank_config_dict(cfg, sample_rate=sample_rate),
        ),
    )
    return n


def check_shard_name(shard: str) -> str:
    """Return ``shard`` if it is ``{split}-{k:05d}`` (it becomes part of a path)."""
    split, _, k = shard.partition("-")
    if split not in ("train", "val", "test") or len(k) != 5 or not k.isdigit() or not k.isascii():
        raise DataError(f"--shard {shard!r}: expected a shard name like train-00000 ({{split}}-{{k:05d}})")
    return shard
