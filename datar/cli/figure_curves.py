"""``python -m datar figure-curves``: training loss and validation accuracy per run, from log.csv files."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser


def build_parser() -> argparse.ArgumentParser:
    """The verb's argument parser."""
    p = verb_parser("figure-curves", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML; its demo flag marks the title)")
    p.add_argument("--out-prefix", required=True, help="output path without suffix, e.g. results/figures/curves_vggsound")
    p.add_argument("--dataset", default=None, help="the runs' dataset (its heads name the loss: summed over heads)")
    p.add_argument("--title", default=None, help="figure title (default: 'Training curves: <datasets>')")
    p.add_argument("--csv", default=None, help="also write the curves as one csv (dvc plots)")
    p.add_argument("logs", nargs="+", help="the runs' log.csv files")
    return p


def main(argv: list[str] | None = None) -> int:
    """Write ``{out_prefix}.png`` and ``.pdf``; return 0."""
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.report.fig_curves import render_curves_figure

    cfg = load_config(args.config)
    heads = cfg.dataset(args.dataset).heads if args.dataset else ("label",)
    for path in render_curves_figure(args.logs, args.out_prefix, kind=cfg.run_kind, title=args.title, heads=heads,
                                     csv_path=args.csv):
        print(path)
    return 0
