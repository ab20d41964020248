"""``python -m datar table``: one paper table (paper vs reproduced numbers) as .md, .tex and .csv."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser


def build_parser() -> argparse.ArgumentParser:
    """The verb's argument parser."""
    p = verb_parser("table", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML)")
    p.add_argument("--table", required=True, help="table key in the config, e.g. table2")
    p.add_argument("--out-prefix", required=True, help="output path without suffix, e.g. results/tables/table2")
    p.add_argument("--paper", default="config/paper.yaml", help="the paper's numbers (default config/paper.yaml)")
    p.add_argument("--no-macs", action="store_true",
                   help="do not build the models to count MACs and parameters (the table says 'not measured')")
    p.add_argument("metrics", nargs="*", help="metrics.json files of the runs (missing rows print 'not run')")
    return p


def main(argv: list[str] | None = None) -> int:
    """Render the table; return 0."""
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.report.paper import load_paper
    from datar.report.table_job import write_table

    cfg = load_config(args.config)
    paper = load_paper(args.paper)
    for path in write_table(cfg, args.table, paper, args.metrics, args.out_prefix, measure=not args.no_macs):
        print(path)
    return 0
