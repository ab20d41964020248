"""Feature-stage benchmark: fbank throughput, and an epoch from shards vs. on the fly.

Rerun (from the repo root):

    .venv/bin/python benchmarks/features.py --clips 300

What it does, all on synthetic 10-s, 16-kHz mono clips it generates (tones + noise, FLAC in
one tar, like a download shard):

1. fbank throughput per core: ``compute_fbank`` + ``pad_or_crop`` (128 mel, 1024 frames)
   on already-decoded waveforms with ``torch.set_num_threads(1)``; also decode + fbank.
2. The ``fbank`` job on the whole tar (``extract_shard``, one thread per CPU).
3. One epoch, same clips, same DataLoader (batch 32, shuffle, ``--loader-workers``
   workers, SpecAugment on), two ways: reading the shard through ``FbankShardDataset``;
   and AST's way, decoding each FLAC from the tar and computing fbank in ``__getitem__``.
   Both read warm files (page cache) on the same machine in one run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

import ffmpeg
from datar.config import FbankConfig
from datar.data.ffmpeg_audio import decode_bytes_mono


def decode_audio_bytes(data, *, sample_rate, name):
    return torch.from_numpy(decode_bytes_mono(data, sample_rate=sample_rate, name=name))

from datar.features.dataset import FbankShardDataset, collate_fbank
from datar.features.extract import ShardPaths, extract_shard
from datar.features.fbank import compute_fbank, pad_or_crop
from datar.features.specaugment import spec_augment
from datar.features.stats import compute_stats

SR = 16000


def synth_clip(rng: np.random.Generator, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = 0.02 * rng.standard_normal(t.size)
    for _ in range(3):
        f = rng.uniform(100, 6000)
        x += rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) * (t > rng.uniform(0, seconds / 2))
    return np.clip(x, -1, 1).astype("<f4")


def flac(x: np.ndarray) -> bytes:
    out, _ = (
        ffmpeg.input("pipe:0", format="f32le", ar=SR, ac=1)
        .output("pipe:1", format="flac")
        .global_args("-loglevel", "error")
        .run(input=x.tobytes(), capture_stdout=True, capture_stderr=True)
    )
    return out


def build_inputs(root: Path, n: int, seconds: float) -> ShardPaths:
    """A download shard's worth of inputs: tar of FLACs, valid.csv, manifest, classes."""
    paths = ShardPaths.for_shard(root, "bench", "train-00000")
    paths.tar.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids = [f"clip{i:05d}" for i in range(n)]
    with tarfile.open(paths.tar, "w") as tf:
        for cid in ids:
            data = flac(synth_clip(rng, seconds))
            info = tarfile.TarInfo(f"{cid}.flac")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    paths.valid_csv.write_text(
        "clip_id,status,reason,duration,sample_rate,channels,rms_dbfs\n"
        + "".join(f"{c},ok,,{seconds},{SR},1,-20\n" for c in ids)
    )
    paths.manifest.write_text(
        "clip_id,source,start,end,split,shard,label\n"
        + "".join(f"{c},file:///x,0,{seconds},train,train-00000,k{i % 4}\n" for i, c in enumerate(ids))
    )
    paths.classes.write_text(json.dumps({"heads": {"label": [f"k{i}" for i in range(4)]}}))
    return paths


class OnTheFly(Dataset):
    """AST's loader: decode the clip and compute fbank in ``__getitem__`` (tar opened per worker)."""

    def __init__(self, tar: Path, ids: list[str], *, cfg: FbankConfig, mean: float, std: float) -> None:
        self.tar, self.ids, self.cfg, self.mean, self.std = tar, ids, cfg, mean, std
        self._tf: tarfile.TarFile | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        if self._pid != os.getpid():
            self._tf, self._pid = tarfile.open(self.tar), os.getpid()
        assert self._tf is not None
        data = self._tf.extractfile(f"{self.ids[i]}.flac").read()  # type: ignore[union-attr]
        wav = decode_audio_bytes(data, sample_rate=SR, name=self.ids[i])
        fb = pad_or_crop(compute_fbank(wav, sample_rate=SR, cfg=self.cfg), self.cfg.target_length)
        fb = spec_augment(fb, freq_mask=self.cfg.freq_mask, time_mask=self.cfg.time_mask)
        return {"fbank": (fb - self.mean) / (2 * self.std), "labels": {"label": torch.tensor(i % 4)},
                "clip_id": self.ids[i], "index": i}


def epoch(ds: Dataset, workers: int, batch: int) -> float:
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, collate_fn=collate_fbank,
                        generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    n = sum(len(b["clip_id"]) for b in loader)
    dt = time.perf_counter() - t0
    assert n == len(ds)  # type: ignore[arg-type]
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--loader-workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()
    cfg = FbankConfig()  # the paper's: 128 mel, 1024 frames, 10 / 25 ms
    cpus = len(os.sched_getaffinity(0))
    res: dict = {"clips": args.clips, "seconds": args.seconds, "num_mel_bins": cfg.num_mel_bins,
                 "target_length": cfg.target_length, "cpus": cpus, "machine": platform.processor() or platform.machine(),
                 "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        paths = build_inputs(root, args.clips, args.seconds)
        res["generate_s"] = time.perf_counter() - t0
        with tarfile.open(paths.tar) as tf:
            blobs = [tf.extractfile(m).read() for m in tf.getmembers()]  # type: ignore[union-attr]

        torch.set_num_threads(1)
        t0 = time.perf_counter()
        wavs = [decode_audio_bytes(b, sample_rate=SR, name="x") for b in blobs]
        res["decode_1thread_clips_per_s"] = len(wavs) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for w in wavs:
            pad_or_crop(compute_fbank(w, sample_rate=SR, cfg=cfg), cfg.target_length)
        res["fbank_1thread_clips_per_s"] = len(wavs) / (time.perf_counter() - t0)
        res["decode_plus_fbank_1thread_clips_per_s"] = 1 / (1 / res["decode_1thread_clips_per_s"] + 1 / res["fbank_1thread_clips_per_s"])
        del wavs

        t0 = time.perf_counter()
        extract_shard(paths, dataset="bench", shard="train-00000", heads=["label"], sample_rate=SR, cfg=cfg, workers=cpus)
        res["fbank_job_s"] = time.perf_counter() - t0
        res["fbank_job_clips_per_s"] = args.clips / res["fbank_job_s"]
        res["shard_bytes"] = paths.out.stat().st_size
        torch.set_num_threads(cpus)

        stats = compute_stats([paths.out])
        ids = [f"clip{i:05d}" for i in range(args.clips)]
        shard_ds = FbankShardDataset([paths.out], stats=stats, heads=["label"], train=True,
                                     freq_mask=cfg.freq_mask, time_mask=cfg.time_mask)
        res["epoch_from_shards_s"] = epoch(shard_ds, args.loader_workers, args.batch_size)
        fly = OnTheFly(paths.tar, ids, cfg=cfg, mean=stats.mean, std=stats.std)
        res["epoch_on_the_fly_s"] = epoch(fly, args.loader_workers, args.batch_size)
        res["speedup_shards_vs_on_the_fly"] = res["epoch_on_the_fly_s"] / res["epoch_from_shards_s"]
    for k, v in res.items():
        print(f"{k:40s} {v:.3f}" if isinstance(v, float) else f"{k:40s} {v}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
