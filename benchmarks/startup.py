"""Benchmark: how long a train / evaluate job takes to open its feature shards, before and after.

Before (main up to issue 13): ``load_split`` hashed every shard in full at every start
(``FbankShardDataset.verify_all`` over all shards: one sequential read of the whole split).
After: ``version.json`` records each shard's size when the data-version job verified it, and
``load_split`` only reads headers and compares sizes and recorded checksums
(``datar.features.version.vouched_shards``); nothing is hashed unless a check fails.

A synthetic split of ``--gb`` GB is written as real feature shards (128 mel x 1024 frames,
float16, 256 KiB a clip; ``--shard-size`` clips a shard), then both start-up paths run
interleaved in this one process, best of ``--repeat``, twice: warm (the files in the page
cache) and cold (each shard dropped from the page cache with posix_fadvise(DONTNEED) before
every run; only this benchmark's files, nothing system-wide). The machine is shared, so only
the ratios within one run mean much.

    .venv/bin/python benchmarks/startup.py [--gb 3] [--out benchmarks/startup.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parent.parent
DATASET = "kinetics_sounds"
MEL, FRAMES = 128, 1024


def write_split(data_dir: Path, *, gb: float, shard_size: int) -> list[Path]:
    """Write ``gb`` GB of train shards + shards.json, classes.json, stats.json, version.json."""
    from datar.runs import fbank_dir
    from datar.features.shards import ShardData, write_shard
    from datar.features.stats import Stats, write_stats
    from datar.features.version import write_data_version
    from datar.io import write_json_atomic

    clips = int(gb * 1e9 / (FRAMES * MEL * 2))
    fdir = Path(fbank_dir(str(data_dir), DATASET))
    g = torch.Generator().manual_seed(0)
    entries, paths = [], []
    for k, start in enumerate(range(0, clips, shard_size)):
        n = min(shard_size, clips - start)
        name = f"train-{k:05d}"
        fb = (torch.randn(n, FRAMES, MEL, generator=g) - 4.0).to(torch.float16)
        labels = {"label": torch.randint(0, 8, (n,), generator=g)}
        write_shard(fdir / f"{name}.safetensors", ShardData(
            fbank=fb, labels=labels, n_frames=torch.full((n,), FRAMES, dtype=torch.int32),
            clip_ids=[f"c{start + i:07d}" for i in range(n)], dataset=DATASET, shard=name,
            fbank_config={"num_mel_bins": MEL, "target_length": FRAMES, "synthetic": True}))
        entries.append({"name": name, "split": "train", "n": n})
        paths.append(fdir / f"{name}.safetensors")
    root = data_dir / DATASET
    write_json_atomic(root / "shards.json", {"shards": entries, "n_rows": clips, "n_skipped": 0, "skipped": []})
    write_json_atomic(root / "classes.json", {"heads": {"label": [f"c{i}" for i in range(8)]}})
    write_stats(fdir / "stats.json", Stats(mean=-4.0, std=1.0, n_clips=clips, shards=[e["name"] for e in entries]))
    (root / "manifest.csv").write_text("# synthetic\n", encoding="utf-8")
    t0 = time.perf_counter()
    write_data_version(data_dir, DATASET)
    print(f"data-version job (verifies every shard once): {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return paths


def config(data_dir: Path, work: Path):
    from datar.config import load_config

    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["data_dir"] = str(data_dir)
    raw["fbank"].update(num_mel_bins=MEL, target_length=FRAMES)
    path = work / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


def before(cfg, paths: list[Path]) -> None:
    """main's load_split: classes, stats, and every shard hashed in full."""
    from datar.features.dataset import FbankShardDataset
    from datar.features.labels import load_classes
    from datar.features.stats import load_stats

    root = Path(cfg.data_dir) / DATASET
    load_classes(root / "classes.json", ["label"])
    stats = load_stats(root / "fbank" / "stats.json")
    ds = FbankShardDataset(paths, stats=stats, heads=["label"], train=True, freq_mask=48, time_mask=192)
    ds.verify_all()
    assert ds.frame_shape == (FRAMES, MEL)


def after(cfg, paths: list[Path]) -> None:
    """This branch's load_split (cheap checks against version.json)."""
    from datar.train.data import load_split

    split = load_split(cfg, DATASET, "train", train=True)
    assert split is not None and split.shards == paths


def drop_cache(paths: list[Path]) -> None:
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=3.0, help="size of the synthetic train split (GB)")
    ap.add_argument("--shard-size", type=int, default=700, help="clips per shard (config/config.yaml: 700)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the data (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=None, help="write a markdown report here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="datar-startup-", dir=args.dir) as tmp:
        work = Path(tmp)
        paths = write_split(work / "data", gb=args.gb, shard_size=args.shard_size)
        size = sum(p.stat().st_size for p in paths)
        cfg = config(work / "data", work)
        times: dict[tuple[str, str], list[float]] = {}
        for cache in ("warm", "cold"):
            for _ in range(args.repeat):
                for name, fn in (("before", before), ("after", after)):
                    if cache == "cold":
                        drop_cache(paths)
                    else:
                        fn(cfg, paths)  # warm the page cache (and this path's imports)
                    t0 = time.perf_counter()
                    fn(cfg, paths)
                    times.setdefault((cache, name), []).append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in times.items()}
    rows = [f"| {cache} | {best[(cache, 'before')]:.2f} | {best[(cache, 'after')]:.3f} | "
            f"{best[(cache, 'before')] / best[(cache, 'after')]:.0f}x |" for cache in ("warm", "cold")]
    report = "\n".join([
        "# Start-up of a train / evaluate job: opening the feature shards",
        "",
        f"Command: `.venv/bin/python benchmarks/startup.py --gb {args.gb:g} --shard-size {args.shard_size}`",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, 2 cores shared with other jobs; "
        f"one run, before and after interleaved in one process, best of {args.repeat}.",
        "",
        f"Train split: {len(paths)} shards of {args.shard_size} clips, {size / 1e9:.2f} GB "
        f"(128 mel x 1024 frames, float16).",
        "",
        "| page cache | before: every shard hashed (s) | after: header + size checks (s) | ratio |",
        "| --- | ---: | ---: | ---: |",
        *rows,
        "",
        "Before = main's `load_split` (`FbankShardDataset.verify_all` over every shard at every start).",
        "After = `load_split` with `version.json`'s record: each shard is verified once, by the",
        "data-version job, and each start reads only the headers. A shard whose size or recorded",
        "checksums differ from the record is still hashed in full (or named, if its content changed).",
        "Cold = each shard evicted from the page cache (posix_fadvise DONTNEED) before each run.",
        "",
        "Raw times (s): " + json.dumps({f"{c}/{n}": [round(t, 3) for t in v] for (c, n), v in times.items()}),
    ]) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
