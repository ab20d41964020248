"""``python -m datar stats --config C --dataset D``: the training split's fbank mean / std."""

from __future__ import annotations

from pathlib import Path

from datar.cli._args import stage_parser
from datar.config import load_config
from datar.features.layout import shard_paths
from datar.features.stats import compute_stats, write_stats
from datar.runs import stats_json


def main(argv: list[str] | None = None) -> int:
    """Write ``{data_dir}/{D}/fbank/stats.json`` from every train shard in ``shards.json``."""
    ap = stage_parser("stats", __doc__)
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    cfg.dataset(args.dataset)
    stats = compute_stats(shard_paths(cfg.data_dir, args.dataset, "train"))
    out = Path(stats_json(cfg.data_dir, args.dataset))
    write_stats(out, stats)
    print(f"{out}: mean {stats.mean:.4f} std {stats.std:.4f} over {stats.n_clips} clips")
    return 0
