"""Shared fixtures: the repo root, a tiny demo config, and a runner for the real Snakemake CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def tiny_demo_config(**overrides) -> dict:
    """config/test.yaml (the demo shrunk: few clips, tiny inputs, 2 epochs, one seed), top-level keys replaced."""
    cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    for key, value in overrides.items():
        cfg[key] = value
    return cfg


def one_dataset_config(rows: list[str], *, epochs: int = 1) -> dict:
    """config/test.yaml cut to Kinetics-Sounds and one Table 4 with ``rows``, no figures."""
    cfg = tiny_demo_config()
    cfg["datasets"] = {"kinetics_sounds": cfg["datasets"]["kinetics_sounds"]}
    cfg["tables"] = {"table4": {**cfg["tables"]["table4"], "rows": list(rows)}}
    cfg["figures"] = {}
    cfg["train"]["epochs"] = {"kinetics_sounds": epochs}
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_snakemake(workdir: Path, configfile: Path, *args: str, timeout: int = 900, check: bool = True,
                  env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real Snakemake CLI on this repo's Snakefile in ``workdir``."""
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile), *args]
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
