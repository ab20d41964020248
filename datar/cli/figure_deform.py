"""``python -m datar figure-deform``: deformable sampling points over a test clip's spectrogram."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser


def build_parser() -> argparse.ArgumentParser:
    """The verb's argument parser."""
    p = verb_parser("figure-deform", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML)")
    p.add_argument("--run", required=True, help="run directory holding checkpoint.pt (a deformable variant)")
    p.add_argument("--out-prefix", required=True, help="output path without suffix, e.g. results/figures/deform_points")
    p.add_argument("--clips", type=int, default=1,
                   help="test clips (default 1; clip i > 0 goes to {out-prefix}_clip{i}.png/.pdf)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Write ``{out_prefix}.png`` and ``.pdf``; return 0."""
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.report.fig_deform import render_deform_figure

    for path in render_deform_figure(load_config(args.config), args.run, args.out_prefix, clips=args.clips):
        print(path)
    return 0
