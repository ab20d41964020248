"""``python -m datar availability --config C --dataset D``: downloaded / valid clips per split."""

from __future__ import annotations

import argparse

from datar.config import load_config
from datar.data.availability import write_availability


def main(argv: list[str] | None = None) -> int:
    """Write ``{results_dir}/data/{D}_availability.md`` and ``.csv``."""
    parser = argparse.ArgumentParser(prog="python -m datar availability", description=__doc__)
    parser.add_argument("--config", required=True, help="config YAML")
    parser.add_argument("--dataset", required=True, help="dataset name under datasets:")
    args = parser.parse_args(argv)
    md, csv_path = write_availability(load_config(args.config), args.dataset)
    print(md.read_text(encoding="utf-8"))
    print(f"wrote {md} and {csv_path}")
    return 0
