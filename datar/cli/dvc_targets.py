"""``python -m datar dvc-targets --config C runs D``: the Snakemake targets of one DVC stage.

``dvc.yaml``'s ``runs@<dataset>`` stage trains and evaluates exactly the runs that the
config's tables and Fig. 1 need for that dataset (:func:`datar.runs.run_metrics`); which
variants those are is config, so the stage asks here instead of repeating table rows::

    snakemake ... -- $(python -m datar dvc-targets --config C runs kinetics_sounds)
"""

from __future__ import annotations

from datar.cli._args import verb_parser
from datar.config import load_config
from datar.runs import run_metrics


def main(argv: list[str] | None = None) -> int:
    """Print the targets, one per line."""
    ap = verb_parser("dvc-targets", __doc__)
    ap.add_argument("--config", required=True, help="experiment config (YAML)")
    ap.add_argument("stage", choices=["runs"], help="the dvc.yaml stage")
    ap.add_argument("dataset", help="dataset name in the config")
    args = ap.parse_args(argv)
    print("\n".join(run_metrics(load_config(args.config), args.dataset)))
    return 0
