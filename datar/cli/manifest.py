"""``python -m datar manifest --config C --dataset D``: the normalised manifest and its shards."""

from __future__ import annotations

from datar.cli._args import stage_parser
from datar.config import load_config
from datar.data.manifest import make_manifest, summary


def main(argv: list[str] | None = None) -> int:
    """Write ``{data_dir}/{D}/manifest.csv``, ``shards.json`` and ``classes.json``."""
    parser = stage_parser("manifest", __doc__)
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    print(summary(make_manifest(cfg, args.dataset)))
    return 0
