"""Benchmark: how long Snakemake takes to plan the data + feature DAG at VGGSound's size.

A synthetic VGGSound-format csv of N rows (default 200,000) is written, the manifest
checkpoint runs for real (parsing, checking and sharding the rows), then
``snakemake -n`` plans every download, validate, fbank, stats, data-version and availability
job. Records wall times and the job counts.

    .venv/bin/python benchmarks/dag_scale.py [--rows 200000] [--out benchmarks/dag_scale.md]
"""

from __future__ import annotations

import argparse
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


def _snakemake(workdir: Path, configfile: Path, *args: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile), "--cores", "1", *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--shard-size", type=int, default=None, help="default: config/config.yaml's")
    parser.add_argument("--out", type=Path, default=None, help="write a markdown report here")
    args = parser.parse_args(argv)
    from make_big_manifest import write_big_manifest  # benchmarks/make_big_manifest.py

    paper = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    shard_size = args.shard_size or paper["download"]["shard_size"]
    with tempfile.TemporaryDirectory(prefix="datar-dag-") as tmp:
        work = Path(tmp)
        source = work / "vggsound.csv"
        write_big_manifest(source, rows=args.rows)
        configfile = work / "big.yaml"
        configfile.write_text(yaml.safe_dump(_config(source, shard_size)))
        t_manifest, _ = _snakemake(work, configfile, "data/vggsound/manifest.csv")
        targets = ["data/vggsound/version.json", "results/data/vggsound_availability.md"]
        t_plan, out = _snakemake(work, configfile, "-n", *targets)
        table = out.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
        jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    lines = [
        "# DAG scale: planning the data and feature DAG at VGGSound's size",
        "",
        f"Command: `.venv/bin/python benchmarks/dag_scale.py --rows {args.rows}`",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}, "
        f"2 cores; one run.",
        "",
        "| rows | shard size | manifest job (s) | `snakemake -n` (s) | jobs planned |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {args.rows:,} | {shard_size} | {t_manifest:.1f} | {t_plan:.1f} | {jobs.get('total', 0):,} |",
        "",
        "Jobs by rule: " + ", ".join(f"{k} {v}" for k, v in jobs.items() if k != "total"),
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
