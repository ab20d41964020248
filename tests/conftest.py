"""Shared fixtures: the repo root, a tiny demo config, and a runner for the real Snakemake CLI."""

from __future__ import annotations

import os
import re
import shutil
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
                  env: dict | None = None, code: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real Snakemake CLI on this repo's Snakefile in ``workdir``.

    ``code``: a copy of the repository (:func:`code_copy`) to run instead: its Snakefile, and
    its ``datar`` first on PYTHONPATH for Snakemake and every job.
    """
    if code is not None:
        env = {**(env or {}), "PYTHONPATH": str(code)}
    snakefile = (code or REPO) / "Snakefile"
    cmd = [*SNAKEMAKE, "-s", str(snakefile), "--directory", str(workdir),
           "--configfile", str(configfile), *args]
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def code_copy(dest: Path) -> Path:
    """A git repository at ``dest`` holding this checkout's tracked files (and its untracked, unignored
    ones), committed once: code a test may edit without touching the checkout."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)
    return dest


def planned_rules(proc: subprocess.CompletedProcess) -> set[str]:
    """The rules a ``snakemake -n`` run plans (its ``rule X:`` / ``localrule X:`` headers)."""
    return set(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):", proc.stdout + proc.stderr, re.M))


DATA_TARGETS = ("data/kinetics_sounds/version.json", "results/data/kinetics_sounds_availability.md")


@pytest.fixture(scope="session")
def kinetics_data(tmp_path_factory) -> Path:
    """A work dir whose Kinetics-Sounds data (the test config's, one_dataset_config) is built, once.

    Tests that train on it copy it (:func:`work_copy`): Snakemake's metadata comes along, so
    none of the data jobs runs again as long as the copy's config keeps the data sections.
    """
    work = tmp_path_factory.mktemp("kinetics-data")
    cfg = write_config(work / "cfg.yaml", one_dataset_config(["datar"]))
    run_snakemake(work, cfg, "--cores", "2", *DATA_TARGETS, timeout=900)
    return work


def work_copy(src: Path, dest: Path, *, only: tuple[str, ...] | None = None) -> Path:
    """A copy of a work dir (or of its entries ``only``) with its files' times and Snakemake's
    metadata: nothing to redo."""
    ignore = shutil.ignore_patterns("locks", "incomplete", "log")
    if only is None:
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True, ignore=ignore)
        return dest
    for name in only:
        shutil.copytree(src / name, dest / name, symlinks=True, dirs_exist_ok=True, ignore=ignore)
    return dest


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


# Longest first: with pytest-xdist (CI runs `-n 2 --dist loadfile`) a module is handed to the
# first free worker in collection order, so the long scenarios start at once and the short
# ones fill in beside them. Without xdist the order changes nothing but the order.
_LONG_FIRST = ("test_e2e.py", "test_dvc.py", "test_fault_drill.py", "test_datasets_real.py",
               "test_provenance.py", "test_run_identity.py", "test_slurm.py", "test_gpu_lease.py")


def pytest_collection_modifyitems(session, config, items):  # noqa: ANN001 - pytest hook
    rank = {name: i for i, name in enumerate(_LONG_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.fspath)).name, len(rank)))
