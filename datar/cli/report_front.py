"""``python -m datar report-front``: the front page of Snakemake's report (reStructuredText)."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser


def build_parser() -> argparse.ArgumentParser:
    """The verb's argument parser."""
    p = verb_parser("report-front", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML)")
    p.add_argument("--out", required=True, help="the page to write, e.g. results/report/front.rst")
    p.add_argument("--configfile-args", default="config/config.yaml",
                   help="the --configfile arguments of the run, shown in the regenerate commands")
    p.add_argument("metrics", nargs="*", help="metrics.json files of the runs (commits, data versions)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Write the page; return 0."""
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.report.front import write_front_page

    print(write_front_page(load_config(args.config), args.metrics, args.out, configfile_args=args.configfile_args))
    return 0
