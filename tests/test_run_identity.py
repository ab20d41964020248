"""A run is its config and its data: other parses cannot change the one, changed data retrains.

Both scenarios of issue 13, as a user met them, on a real Snakemake run of a one-dataset
config (config/test.yaml cut to Kinetics-Sounds and a two- or one-row Table 4), each targeting
Table 4 (its runs) on a copy of the session's built Kinetics-Sounds data (conftest.kinetics_data).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, SNAKEMAKE, one_dataset_config, run_snakemake, work_copy, write_config
from datar.config import load_config

pytestmark = pytest.mark.slow


def _runs(work: Path) -> list[Path]:
    return sorted((work / "results/runs/kinetics_sounds").glob("*/seed*"))


TARGET = "results/tables/table4.md"


def test_a_parse_with_another_config_leaves_running_jobs_their_own(kinetics_data, tmp_path):
    """Dry-run and lint another config while a run goes on: every job reads the run's config."""
    work_copy(kinetics_data, tmp_path)
    mine = write_config(tmp_path / "mine.yaml", one_dataset_config(["dat_fixed", "datar"]))
    other_raw = one_dataset_config(["dat_fixed", "datar"])
    other_raw["name"] = "other"
    other_raw["train"]["lr"] = 0.5
    other = write_config(tmp_path / "other.yaml", other_raw)
    want = load_config(mine).sha256

    first = subprocess.Popen(
        [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(mine),
         "--cores", "1", TARGET],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # Wait until the first training job has started, then parse the workflow with the other config.
        started = tmp_path / "results/logs/train/kinetics_sounds"
        deadline = time.monotonic() + 900
        while not (started.exists() and any(started.rglob("*.log"))):
            assert first.poll() is None, first.stdout.read() if first.stdout else ""
            assert time.monotonic() < deadline, "no training job started"
            time.sleep(0.2)
        run_snakemake(tmp_path, other, "-n", "--cores", "1", TARGET)
        run_snakemake(tmp_path, other, "--lint", check=False)
        parsed = time.time()
    finally:
        out, _ = first.communicate(timeout=1500)
    assert first.returncode == 0, out[-6000:]

    runs = _runs(tmp_path)
    assert len(runs) == 2
    later = [r for r in runs if (r / "metrics.json").stat().st_mtime > parsed]
    assert later, "every job ended before the other parse: the test proves nothing"
    for run in runs:
        assert load_config(run / "config.yaml").sha256 == want, f"{run}: trained with another config"
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["config_sha256"] == want, f"{run}: evaluated with another config"


def test_changed_data_retrains_and_tables_name_the_new_data_version(kinetics_data, tmp_path):
    """Lower validate.min_duration_fraction after a first run: the short clip becomes valid."""
    work_copy(kinetics_data, tmp_path)
    raw = one_dataset_config(["datar"])
    cfg = write_config(tmp_path / "cfg.yaml", raw)
    run_snakemake(tmp_path, cfg, "--cores", "2", TARGET, timeout=1500)
    version_file = tmp_path / "data/kinetics_sounds/version.json"
    old = json.loads(version_file.read_text())["data_version"]
    run = tmp_path / "results/runs/kinetics_sounds/datar/seed0"
    old_log = (run / "log.csv").read_text()

    raw["validate"]["min_duration_fraction"] = 0.1
    write_config(cfg, raw)
    proc = run_snakemake(tmp_path, cfg, "--cores", "2", TARGET, timeout=1500, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]

    new = json.loads(version_file.read_text())["data_version"]
    assert new != old, "lowering min_duration_fraction did not change the data: the test proves nothing"
    train_log = (tmp_path / "results/logs/train/kinetics_sounds/datar/seed0.log").read_text()
    assert "data version" in train_log and "moved aside" in train_log, train_log
    assert list(run.glob("last.ckpt.stale-*")), "the old resume state was deleted instead of moved aside"
    assert (run / "log.csv").is_file() and (run / "log.csv").read_text() != old_log
    from datar.checkpoint import load_checkpoint

    assert load_checkpoint(run / "checkpoint.pt")["data_version"] == new
    assert json.loads((run / "metrics.json").read_text())["data_version"] == new
    table = (tmp_path / "results/tables/table4.md").read_text()
    assert new in table and old not in table
