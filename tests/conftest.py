"""Shared fixtures: the repo root, a tiny demo config, and a runner for the real Snakemake CLI."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def tiny_demo_config(**overrides) -> dict:
    """config/demo.yaml shrunk for tests: few clips, tiny inputs, 2 epochs, one seed."""
    cfg = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    cfg = copy.deepcopy(cfg)
    cfg["name"] = "tiny"
    cfg["seeds"] = [0]
    cfg["audio"]["clip_seconds"] = 1.0
    cfg["fbank"].update(num_mel_bins=32, target_length=64, freq_mask=4, time_mask=8)
    cfg["download"].update(shard_size=16, workers=2, retries=1, backoff_seconds=0.05)
    sizes = {"kinetics_sounds": (24, 12), "vggsound": (20, 10), "epic100": (24, 12)}
    for name, ds in cfg["datasets"].items():
        train, test = sizes[name]
        ds["demo_corpus"].update(train_clips=train, test_clips=test)
        ds["demo_corpus"]["broken"] = {"dead": 1, "corrupt": 1, "silent": 1, "short": 1}
    cfg["train"].update(batch_size=8, warmup_steps=2, epochs={k: 2 for k in cfg["train"]["epochs"]})
    for key, value in overrides.items():
        cfg[key] = value
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
