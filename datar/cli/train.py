"""``python -m datar train``: train one run (dataset x variant x seed) into ``--out``."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser
import sys
from pathlib import Path

from datar.config import load_config
from datar.train.loop import RunSpec, train_run
from datar.train.signals import StopRequest


def build_parser() -> argparse.ArgumentParser:
    """The verb's arguments."""
    p = verb_parser("train", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML)")
    p.add_argument("--dataset", required=True, help="dataset name (a key of datasets:)")
    p.add_argument("--variant", required=True, help="model variant (datar.models.VARIANTS)")
    p.add_argument("--seed", required=True, type=int, help="run seed")
    p.add_argument("--out", required=True, type=Path, help="run directory")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--max-steps", type=int, default=None,
                   help="cap the run at this many optimizer steps (overrides train.max_steps; the "
                        "schedule stays the full run's; the run records capped_at_step)")
    p.add_argument("--progress", choices=["bar", "lines", "off"], default=None,
                   help="progress display (default: bar on a terminal, lines otherwise)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Train; exit 0 when complete, 75 when stopped by SIGTERM / SIGUSR1 (rerun resumes)."""
    args = build_parser().parse_args(argv)
    cfg = load_config(args.config)
    spec = RunSpec(dataset=args.dataset, variant=args.variant, seed=args.seed, out=args.out,
                   device=args.device, max_steps=args.max_steps,
                   argv=["python", "-m", "datar", "train", *(sys.argv[1:] if argv is None else argv)])
    with StopRequest() as stop:
        result = train_run(cfg, spec, progress_mode=args.progress, stop=stop)
    return result.exit_code
