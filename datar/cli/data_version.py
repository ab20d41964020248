"""``python -m datar data-version --config C --dataset D``: write ``{data_dir}/{D}/version.json``."""

from __future__ import annotations

from datar.cli._args import stage_parser
from datar.config import load_config
from datar.features.version import write_data_version
from datar.runs import version_json


def main(argv: list[str] | None = None) -> int:
    """Hash manifest, classes, shard list, feature shards and stats into one data version."""
    ap = stage_parser("data-version", __doc__)
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    cfg.dataset(args.dataset)
    v = write_data_version(cfg.data_dir, args.dataset)
    print(f"{version_json(cfg.data_dir, args.dataset)}: data_version {v['data_version']} ({v['n_files']} files)")
    return 0
