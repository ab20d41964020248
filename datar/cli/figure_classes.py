"""``python -m datar figure-classes``: per-class accuracy and confusion matrix of one variant on one dataset."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser


def build_parser() -> argparse.ArgumentParser:
    """The verb's argument parser."""
    p = verb_parser("figure-classes", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML; data_dir for classes.json, run kind)")
    p.add_argument("--dataset", required=True, help="dataset key")
    p.add_argument("--variant", required=True, help="model variant key")
    p.add_argument("--out-prefix", required=True, help="output path without suffix, e.g. results/figures/classes/vggsound/datar")
    p.add_argument("predictions", nargs="+", help="the variant's predictions.csv files (one per seed)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Write ``{out_prefix}.png`` and ``.csv``; return 0."""
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.report.fig_classes import render_classes_figure

    cfg = load_config(args.config)
    for path in render_classes_figure(cfg, args.dataset, args.variant, args.predictions, args.out_prefix):
        print(path)
    return 0
