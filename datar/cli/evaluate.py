"""``python -m datar evaluate``: test-split metrics and per-clip predictions of a run."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser
import json
from pathlib import Path

from datar.config import load_config
from datar.train.evaluate import evaluate_run


def build_parser() -> argparse.ArgumentParser:
    """The verb's arguments."""
    p = verb_parser("evaluate", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML)")
    p.add_argument("--run", required=True, type=Path, help="run directory holding checkpoint.pt")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--batch-size", type=int, default=None, help="inference batch (default: train.batch_size)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Write ``RUN/metrics.json`` and ``RUN/predictions.csv``; print the metrics."""
    args = build_parser().parse_args(argv)
    cfg = load_config(args.config)
    metrics = evaluate_run(cfg, args.run, device=args.device, batch_size=args.batch_size)
    print(f"{args.run}: {metrics['n_clips']} test clips: {json.dumps(metrics['metrics'])}")
    return 0
