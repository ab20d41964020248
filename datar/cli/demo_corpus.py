"""``python -m datar demo-corpus --config C --dataset D``: the embedded demo's synthetic corpus."""

from __future__ import annotations

from datar.cli._args import stage_parser
from datar.config import load_config
from datar.data.demo import write_demo_corpus


def main(argv: list[str] | None = None) -> int:
    """Write ``{data_dir}/demo/{D}/audio/*`` and ``{data_dir}/demo/{D}/source.csv``."""
    parser = stage_parser("demo-corpus", __doc__)
    parser.add_argument("--workers", type=int, default=None, help="parallel encoders (default: CPU count)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    write_demo_corpus(cfg, args.dataset, workers=args.workers, progress=print)
    return 0
