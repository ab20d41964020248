"""``python -m datar claims``: the paper's claims checked against the runs (Δ, interval, p, verdict)."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser


def build_parser() -> argparse.ArgumentParser:
    """The verb's argument parser."""
    p = verb_parser("claims", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML)")
    p.add_argument("--out-prefix", required=True, help="output path without suffix, e.g. results/tables/claims")
    p.add_argument("--paper", default="config/paper.yaml", help="the paper's numbers and claims (default config/paper.yaml)")
    p.add_argument("--no-macs", action="store_true", help="do not build the models to count MACs (the compute claim says not run)")
    p.add_argument("metrics", nargs="*", help="metrics.json files of the runs (predictions.csv beside each)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Write the claims table; return 0."""
    args = build_parser().parse_args(argv)
    from datar.config import load_config
    from datar.report.claims_job import write_claims
    from datar.report.paper import load_paper

    cfg = load_config(args.config)
    for path in write_claims(cfg, load_paper(args.paper), args.metrics, args.out_prefix, measure=not args.no_macs):
        print(path)
    return 0
