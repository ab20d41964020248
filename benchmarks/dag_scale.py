"""Benchmark: how long Snakemake takes to plan the data + feature DAG at VGGSound's size.

A synthetic VGGSound-format csv of N rows (default 200,000) is written, the manifest
checkpoint runs for real (parsing, checking and sharding the rows), then
``snakemake -n`` plans every download, validate, fbank, stats, data-version and availability
job. Records wall times and the job counts.

With ``--compare REF`` (a git ref, e.g. ``main``) it plans with REF's tree too (exported with
``git archive`` to a temp dir, its ``datar`` first on PYTHONPATH), interleaving the two trees'
``snakemake -n`` runs, best of ``--repeat`` each: on a shared machine only the ratio of
interleaved runs means much.

    .venv/bin/python benchmarks/dag_scale.py [--rows 200000] [--compare main] [--out benchmarks/dag_scale.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))


def _config(source: Path, shard_size: int) -> dict:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["datasets"] = {"vggsound": {"format": "vggsound", "sources": [{"path": str(source)}],
                                    "paper_counts": {"train": 159223, "test": 12790}}}
    cfg["download"]["shard_size"] = shard_size
    cfg["tables"] = {"table2": {"title": "VGGSound", "dataset": "vggsound", "rows": ["ast", "datar"]}}
    cfg["train"]["epochs"] = {"vggsound": 50}
    cfg.pop("figures", None)
    return cfg


def _snakemake(tree: Path, workdir: Path, configfile: Path, *args: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(tree / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile), "--cores", "1", *args]
    env = {**os.environ, "PYTHONPATH": str(tree)}  # this tree's datar, for either tree
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def _export(ref: str, dest: Path) -> Path:
    """The tree of git ref ``ref``, written to ``dest`` (no checkout)."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _jobs(stdout: str) -> dict[str, int]:
    table = stdout.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--shard-size", type=int, default=None, help="default: config/config.yaml's")
    parser.add_argument("--compare", default=None, help="also plan with this git ref's tree (e.g. main)")
    parser.add_argument("--repeat", type=int, default=3, help="dry runs per tree (best is reported)")
    parser.add_argument("--out", type=Path, default=None, help="write a markdown report here")
    args = parser.parse_args(argv)
    from make_big_manifest import write_big_manifest  # benchmarks/make_big_manifest.py

    paper = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    shard_size = args.shard_size or paper["download"]["shard_size"]
    targets = ["data/vggsound/version.json", "results/data/vggsound_availability.md"]
    with tempfile.TemporaryDirectory(prefix="datar-dag-") as tmp:
        work = Path(tmp)
        source = work / "vggsound.csv"
        write_big_manifest(source, rows=args.rows)
        configfile = work / "big.yaml"
        configfile.write_text(yaml.safe_dump(_config(source, shard_size)))
        trees = {"this tree": REPO}
        if args.compare:
            trees = {args.compare: _export(args.compare, work / "ref"), "this tree": REPO}
        manifest, plan, jobs = {}, {}, {}
        for name, tree in trees.items():
            wd = work / f"wd-{len(manifest)}"
            wd.mkdir()
            manifest[name], _ = _snakemake(tree, wd, configfile, "data/vggsound/manifest.csv")
            plan[name] = []
        for _ in range(args.repeat):
            for k, (name, tree) in enumerate(trees.items()):
                t, out = _snakemake(tree, work / f"wd-{k}", configfile, "-n", *targets)
                plan[name].append(t)
                jobs[name] = _jobs(out)
    names = list(trees)
    lines = [
        "# DAG scale: planning the data and feature DAG at VGGSound's size",
        "",
        f"Command: `.venv/bin/python benchmarks/dag_scale.py --rows {args.rows}"
        + (f" --compare {args.compare}" if args.compare else "") + f" --repeat {args.repeat}`",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}, "
        f"2 cores shared with other jobs; one run, the trees' dry runs interleaved, best of {args.repeat}.",
        "",
        "| tree | rows | shard size | manifest job (s) | `snakemake -n` (s, best) | all dry runs (s) | jobs planned |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for name in names:
        lines.append(f"| {name} | {args.rows:,} | {shard_size} | {manifest[name]:.1f} | {min(plan[name]):.2f} | "
                     f"{', '.join(f'{t:.2f}' for t in plan[name])} | {jobs[name].get('total', 0):,} |")
    if len(names) == 2:
        ratio = min(plan[names[1]]) / min(plan[names[0]])
        lines += ["", f"Ratio this tree / {names[0]} (best `-n`): {ratio:.2f}"]
    job = jobs[names[-1]]
    lines += [
        "",
        "Jobs by rule: " + ", ".join(f"{k} {v}" for k, v in job.items() if k != "total"),
        "",
        f"One job per shard of {shard_size} clips for each of download, validate and fbank: about "
        f"3 x rows / shard size jobs, where one job per clip would make {3 * args.rows:,}.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
