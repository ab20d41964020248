"""The Snakemake workflow: lint, the DAG's shape, and one-table targets."""

from __future__ import annotations

import re
import subprocess


from conftest import REPO, SNAKEMAKE, run_snakemake, tiny_demo_config, write_config


def test_lint_passes():
    proc = subprocess.run([*SNAKEMAKE, "--lint"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _jobs(stdout: str) -> dict[str, int]:
    table = stdout.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_paper_dag_has_every_run(tmp_path):
    proc = run_snakemake(tmp_path, REPO / "config" / "config.yaml", "-n", "--cores", "1", "all")
    jobs = _jobs(proc.stdout)
    # 7 Kinetics-Sounds variants + 2 VGGSound + 2 EPIC, 3 seeds each
    assert jobs["train"] == jobs["evaluate"] == 33
    assert jobs["table"] == 4 and jobs["manifest"] == 3


def test_one_table_plans_only_its_dataset(tmp_path):
    cfg = write_config(tmp_path / "tiny.yaml", tiny_demo_config())
    proc = run_snakemake(tmp_path, cfg, "-n", "--cores", "1", "results/tables/table2.md")
    out = proc.stdout
    assert "results/runs/vggsound/ast/seed0" in out
    assert "results/runs/vggsound/datar/seed0" in out
    assert "kinetics_sounds" not in out and "epic100" not in out
    jobs = _jobs(out)
    assert jobs["train"] == 2 and jobs["table"] == 1


def test_unknown_config_key_stops_the_workflow(tmp_path):
    cfg = tiny_demo_config()
    cfg["train"]["lr_sheduler"] = "cosine"
    path = write_config(tmp_path / "bad.yaml", cfg)
    proc = run_snakemake(tmp_path, path, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "lr_sheduler" in proc.stdout + proc.stderr
