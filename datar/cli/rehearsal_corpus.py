"""``python -m datar rehearsal-corpus --config C --dataset D``: the rehearsal's local media files."""

from __future__ import annotations

from datar.cli._args import stage_parser
from datar.config import load_config
from datar.data.rehearsal import write_rehearsal_corpus


def main(argv: list[str] | None = None) -> int:
    """Write the files ``local_source`` / ``video_source`` name, then ``{data_dir}/rehearsal/{D}/files.json``."""
    parser = stage_parser("rehearsal-corpus", __doc__)
    parser.add_argument("--workers", type=int, default=None, help="parallel encoders (default: CPU count)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    write_rehearsal_corpus(cfg, args.dataset, workers=args.workers, progress=print)
    return 0
