"""``python -m datar plan --config C``: runs, steps, samples, disk and device-hours of a config.

Runs are the ones the workflow trains (dataset x variant x seed, from the tables and Fig. 1).
Clip counts come from ``{data_dir}/{D}/shards.json`` when the manifest stage has run, else
from the paper's counts (``config/paper.yaml``; the table says which). Hours use samples/s measured here
by a short timed loop of the training step on the real model at the config's shape (bf16
autocast on CUDA), or the rates given with ``--samples-per-s``: one number for every model
family, or per family, ``datar=40,ast=25`` (``datar`` / ``dat``: every DAT variant; ``ast``).
A given rate is for training; evaluation is then assumed 3x faster (forward only).
"""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser
from datar.config import load_config
from datar.io import write_json_atomic
from datar.plan.budget import dataset_counts, families, plan_runs
from datar.plan.render import plan_dict, render_markdown
from datar.plan.throughput import given, measure, parse_samples_per_s


def build_parser() -> argparse.ArgumentParser:
    """The verb's arguments."""
    p = verb_parser("plan", __doc__)
    p.add_argument("--config", required=True, help="experiment config (YAML)")
    p.add_argument("--samples-per-s", default=None,
                   help="training samples/s instead of measuring: N for all, or datar=N,ast=M")
    p.add_argument("--json", default=None, help="also write the plan as JSON to this path")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where to measure")
    p.add_argument("--batch-size", type=int, default=None,
                   help="batch to time (default: train.batch_size on CUDA, at most 2 on CPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps (default 3 on CUDA, 1 on CPU)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 10 on CUDA, 2 on CPU)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Print the plan's tables; write its JSON with ``--json``."""
    args = build_parser().parse_args(argv)
    cfg = load_config(args.config)
    counts = {d: dataset_counts(cfg, d) for d in sorted(cfg.datasets)}
    runs = plan_runs(cfg, counts)
    needed = families(runs)
    if args.samples_per_s is not None:
        values = parse_samples_per_s(args.samples_per_s, needed)
        rates = {f: given(f, values[f]) for f in needed}
    else:
        rates = {f: measure(cfg, f, device=args.device, batch_size=args.batch_size, warmup=args.warmup,
                            steps=args.steps) for f in needed}
    plan = plan_dict(cfg, counts, runs, rates)
    print(render_markdown(plan, rates))
    if args.json:
        write_json_atomic(args.json, plan)
    return 0
