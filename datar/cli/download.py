"""``python -m datar download``: fetch one shard's clips with yt-dlp + ffmpeg into a tar."""

from __future__ import annotations

import argparse
import logging


def build_parser() -> argparse.ArgumentParser:
    """Arguments: ``--config``, ``--dataset``, ``--shard``."""
    p = argparse.ArgumentParser(prog="python -m datar download", description=__doc__)
    p.add_argument("--config", required=True, help="config YAML (e.g. .datar/config.resolved.yaml)")
    p.add_argument("--dataset", required=True, help="dataset name in the config")
    p.add_argument("--shard", required=True, help="shard name from shards.json, e.g. train-00000")
    return p


def main(argv: list[str] | None = None) -> int:
    """Write ``{data_dir}/{D}/clips/{S}.tar`` and ``{S}.status.csv``; print the counts."""
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.data.download import download_shard

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = load_config(args.config)
    s = download_shard(cfg, args.dataset, args.shard)
    print(f"{args.dataset}/{args.shard}: {s.rows} clips ({s.fetched} fetched now): "
          f"{s.ok} ok, {s.unavailable} unavailable, {s.invalid} invalid")
    return 0
