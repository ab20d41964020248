"""``python -m datar availability --config C --dataset D``: downloaded / valid clips per split."""

from __future__ import annotations

from datar.cli._args import stage_parser
from datar.config import load_config
from datar.data.availability import write_availability


def main(argv: list[str] | None = None) -> int:
    """Write ``{results_dir}/data/{D}_availability.md`` and ``.csv``."""
    parser = stage_parser("availability", __doc__)
    args = parser.parse_args(argv)
    md, csv_path = write_availability(load_config(args.config), args.dataset)
    print(md.read_text(encoding="utf-8"))
    print(f"wrote {md} and {csv_path}")
    return 0
