"""What the report-side jobs cost on a finished demo run: tables before/after, claims, pages, figures.

Run in the work directory of a finished ``snakemake --configfile config/demo.yaml all``::

    python benchmarks/report_cost.py --workdir DEMO_WORKDIR --before-code /path/to/old/checkout [--repeat 3]

Each command is a real ``python -m datar <verb>`` process (start-up included, as Snakemake runs
it); ``before`` runs the old code's ``table`` verb (PYTHONPATH to another checkout, e.g.
``git archive main | tar -x -C DIR``) interleaved with the new one, best of N, so the ratio
holds on a loaded machine. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, type=Path)
    p.add_argument("--before-code", type=Path, default=None, help="a checkout of the old code (for the table verb)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    work = args.workdir.resolve()
    py = sys.executable
    resolved = sorted(work.glob(".datar/config*.yaml"), key=lambda p: p.stat().st_mtime)
    cfg = str(resolved[-1].relative_to(work)) if resolved else "demo.yaml"  # the workflow's resolved config
    repo = Path(__file__).resolve().parents[1]
    paper = str(repo / "config" / "paper.yaml")
    ks = sorted(glob.glob(str(work / "results/runs/kinetics_sounds/*/seed*/metrics.json")))
    every = sorted(glob.glob(str(work / "results/runs/*/*/seed*/metrics.json")))
    preds = sorted(glob.glob(str(work / "results/runs/kinetics_sounds/datar/seed*/predictions.csv")))
    out = "/tmp/datar-report-cost"
    env_new = {**os.environ, "OMP_NUM_THREADS": "1"}
    cases: dict[str, tuple[list[str], dict[str, str]]] = {
        "table4, this branch (bootstrap CIs, chance, html)": (
            [py, "-m", "datar", "table", "--config", cfg, "--table", "table4", "--paper", paper,
             "--out-prefix", f"{out}/new/table4", *ks], env_new),
        "claims (11 claims, MACs counted)": (
            [py, "-m", "datar", "claims", "--config", cfg, "--paper", paper, "--out-prefix", f"{out}/claims", *every],
            env_new),
        "figure-classes (one dataset x variant)": (
            [py, "-m", "datar", "figure-classes", "--config", cfg, "--dataset", "kinetics_sounds", "--variant", "datar",
             "--out-prefix", f"{out}/classes", *preds], env_new),
        "html (one availability page)": (
            [py, "-m", "datar", "html", "results/data/vggsound_availability.md", f"{out}/avail.html"], env_new),
        "report-front": (
            [py, "-m", "datar", "report-front", "--config", cfg, "--out", f"{out}/front.rst", *every], env_new),
        "snakemake --report": (
            [py, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(work), "--configfile",
             "demo.yaml", "--report", f"{out}/report.html"], env_new),
    }
    if args.before_code:
        env_old = {**env_new, "PYTHONPATH": str(args.before_code.resolve())}
        # the run's own config file: the old code does not know keys this branch adds to the resolved one
        cases = {"table4, before (main)": ([py, "-m", "datar", "table", "--config", "demo.yaml", "--table", "table4",
                                            "--paper", str(args.before_code / "config" / "paper.yaml"),
                                            "--out-prefix", f"{out}/old/table4", *ks], env_old), **cases}
    best = {k: float("inf") for k in cases}
    for _ in range(args.repeat):
        for name, (cmd, env) in cases.items():  # interleaved: each round runs every case once
            best[name] = min(best[name], timed(cmd, work, env))
    print(f"| job (best of {args.repeat}, interleaved) | seconds |")
    print("| --- | ---: |")
    for name, t in best.items():
        print(f"| {name} | {t:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
