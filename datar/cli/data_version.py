"""``python -m datar data-version --config C --dataset D``: write ``{data_dir}/{D}/version.json``."""

from __future__ import annotations

import argparse

from datar.config import load_config
from datar.features.version import write_data_version


def main(argv: list[str] | None = None) -> int:
    """Hash manifest, classes, shard list, feature shards and stats into one data version."""
    ap = argparse.ArgumentParser(prog="datar data-version", description=__doc__)
    ap.add_argument("--config", required=True, help="experiment config (YAML)")
    ap.add_argument("--dataset", required=True, help="dataset name in the config")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    cfg.dataset(args.dataset)
    v = write_data_version(cfg.data_dir, args.dataset)
    print(f"{cfg.data_dir}/{args.dataset}/version.json: data_version {v['data_version']} ({v['n_files']} files)")
    return 0
