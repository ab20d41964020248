"""``python -m datar validate``: decode every clip of one shard and check rate, channels, duration, silence."""

from __future__ import annotations

import argparse

from collections import Counter

from datar.cli._args import stage_parser


def build_parser() -> argparse.ArgumentParser:
    """Arguments: ``--config``, ``--dataset``, ``--shard``."""
    p = stage_parser("validate", __doc__, shard=True)
    return p


def main(argv: list[str] | None = None) -> int:
    """Write ``{data_dir}/{D}/clips/{S}.valid.csv``; print the counts."""
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.data.validate import validate_shard

    cfg = load_config(args.config)
    checks = validate_shard(cfg, args.dataset, args.shard)
    n = Counter(c.status for c in checks)
    print(f"{args.dataset}/{args.shard}: {len(checks)} clips: {n['ok']} ok, "
          f"{n['unavailable']} unavailable, {n['invalid']} invalid, {n['blocked']} blocked")
    for c in checks:
        if c.status == "invalid":
            print(f"  {c.clip_id}: {c.reason}")
    return 0
