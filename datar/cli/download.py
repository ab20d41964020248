"""``python -m datar download``: one shard's clips into a tar (local files cut in place, else yt-dlp)."""

from __future__ import annotations

import argparse

import logging

from datar.cli._args import stage_parser


def build_parser() -> argparse.ArgumentParser:
    """Arguments: ``--config``, ``--dataset``, ``--shard``."""
    p = stage_parser("download", __doc__, shard=True)
    return p


def main(argv: list[str] | None = None) -> int:
    """Write ``{data_dir}/{D}/clips/{S}.tar`` and ``{S}.status.csv``; print the counts.

    A tripped circuit breaker (``DownloadBlocked``) exits 2 with its message; the finished
    clips are kept and a rerun carries on.
    """
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.data.download import download_shard

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = load_config(args.config)
    s = download_shard(cfg, args.dataset, args.shard)
    print(f"{args.dataset}/{args.shard}: {s.rows} clips ({s.fetched} fetched now): "
          f"{s.ok} ok ({s.local} from local files), {s.unavailable} unavailable, {s.invalid} invalid, "
          f"{s.blocked} blocked")
    return 0
