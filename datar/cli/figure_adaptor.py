"""``python -m datar figure-adaptor``: Fig. 1, the learnable input adaptor on a few test clips."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser


def build_parser() -> argparse.ArgumentParser:
    """The verb's argument parser."""
    p = verb_parser("figure-adaptor", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML)")
    p.add_argument("--run", required=True, help="run directory holding checkpoint.pt (a variant with an adaptor)")
    p.add_argument("--out-prefix", required=True, help="output path without suffix, e.g. results/figures/fig1_adaptor")
    p.add_argument("--clips", type=int, default=None, help="test clips to show (default figures.fig1.clips, else 3)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Write ``{out_prefix}.png`` and ``.pdf``; return 0."""
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.report.fig_adaptor import render_adaptor_figure

    for path in render_adaptor_figure(load_config(args.config), args.run, args.out_prefix, clips=args.clips):
        print(path)
    return 0
