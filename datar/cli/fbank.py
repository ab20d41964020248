"""``python -m datar fbank --config C --dataset D --shard S``: one shard's fbank features."""

from __future__ import annotations

import os

import torch

from datar.cli._args import stage_parser
from datar.config import load_config
from datar.features.extract import ShardPaths, check_shard_name, extract_shard


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    """Compute ``{data_dir}/{D}/fbank/{S}.safetensors`` from the shard's tar and valid csv."""
    ap = stage_parser("fbank", __doc__, shard=True)
    ap.add_argument("--workers", type=int, default=None, help="decode/fbank threads (default: usable CPUs)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    ds = cfg.dataset(args.dataset)
    shard = check_shard_name(args.shard)
    workers = args.workers if args.workers and args.workers > 0 else _cpus()
    torch.set_num_threads(1)  # parallelism comes from the clip pool, one clip per thread
    paths = ShardPaths.for_shard(cfg.data_dir, args.dataset, shard)
    n = extract_shard(
        paths,
        dataset=args.dataset,
        shard=shard,
        heads=ds.heads,
        sample_rate=cfg.audio.sample_rate,
        cfg=cfg.fbank,
        workers=workers,
    )
    print(f"{paths.out}: {n} clips")
    return 0
