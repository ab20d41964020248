"""Snakemake targets of one DVC stage, from the config: ``python -m datar.versioning.targets``.

``dvc.yaml``'s ``runs@<dataset>`` stage trains and evaluates exactly the runs that the config's
tables and Fig. 1 need for that dataset; which variants those are is config, so the stage asks
here instead of repeating the table rows in ``dvc.yaml``::

    snakemake ... -- $(python -m datar.versioning.targets --config C runs kinetics_sounds)
"""

from __future__ import annotations

import argparse
import sys

from datar.config import Config, load_config
from datar.errors import DatarError, DataError
from datar.variants import MODEL_VARIANTS


def run_variants(cfg: Config, dataset: str) -> list[str]:
    """The model variants trained on ``dataset``: every table row and Fig. 1's variant, sorted.

    Each is trained once per ``cfg.seeds``; ``python -m datar plan`` counts the same runs.

    Raises:
        ConfigError: ``dataset`` is not in the config.
    """
    cfg.dataset(dataset)
    variants = {row for t in cfg.tables.values() if t.dataset == dataset for row in t.rows if row in MODEL_VARIANTS}
    fig1 = cfg.figures.fig1
    if fig1 is not None and fig1.dataset == dataset:
        variants.add(fig1.variant)
    return sorted(variants)


def run_metrics(cfg: Config, dataset: str) -> list[str]:
    """``metrics.json`` of every (variant, seed) of ``dataset`` that a table or Fig. 1 uses.

    Raises:
        ConfigError: ``dataset`` is not in the config.
        DataError: no table or figure uses it.
    """
    variants = run_variants(cfg, dataset)
    if not variants:
        raise DataError(f"no table or figure of the config uses dataset {dataset!r}: no runs to make; "
                        f"remove it from `datasets` in params.yaml or add a table for it")
    return [f"{cfg.results_dir}/runs/{dataset}/{v}/seed{s}/metrics.json" for v in variants for s in cfg.seeds]


def main(argv: list[str] | None = None) -> int:
    """Print the targets, one per line."""
    ap = argparse.ArgumentParser(prog="python -m datar.versioning.targets", description=__doc__)
    ap.add_argument("--config", required=True, help="experiment config (YAML)")
    ap.add_argument("stage", choices=["runs"], help="the dvc.yaml stage")
    ap.add_argument("dataset", help="dataset name in the config")
    args = ap.parse_args(argv)
    print("\n".join(run_metrics(load_config(args.config), args.dataset)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DatarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
