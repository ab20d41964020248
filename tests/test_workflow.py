"""The Snakemake workflow: lint, the DAG's shape, and one-table targets."""

from __future__ import annotations

import re
import subprocess

import pytest

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


def test_unknown_config_key_stops_the_workflow_with_one_line(tmp_path):
    """Not Snakemake's 60-line schema dump: one line naming key, file and the fix."""
    cfg = tiny_demo_config()
    cfg["train"]["batchsize"] = 8
    path = write_config(tmp_path / "bad.yaml", cfg)
    proc = run_snakemake(tmp_path, path, "-n", "--cores", "1", check=False)
    assert proc.returncode == 2
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert lines == ["error: train.batchsize: unknown key in bad.yaml; did you mean train.batch_size?"], lines


def test_a_list_override_on_the_command_line_says_to_use_a_configfile(tmp_path):
    cfg = write_config(tmp_path / "tiny.yaml", tiny_demo_config())
    proc = run_snakemake(tmp_path, cfg, "-n", "--cores", "1", "--config", "seeds=[0,1]", check=False)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("error: seeds[0]: expected an integer, got '0' in --config")
    assert "another --configfile" in err
    # ... and what the README says to do instead works: a later --configfile overrides the list.
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text("seeds: [0, 1]\n")
    proc = run_snakemake(tmp_path, cfg, "-n", "--configfile", str(cfg), str(seeds), "--cores", "1",
                         "results/tables/table2.md")
    assert _jobs(proc.stdout)["train"] == 4  # 2 variants x 2 seeds


def test_resolved_config_is_named_by_its_hash_and_verified(tmp_path):
    from datar.config import load_config
    from datar.errors import ConfigError

    raw = tiny_demo_config()
    cfg = write_config(tmp_path / "tiny.yaml", raw)
    run_snakemake(tmp_path, cfg, "-n", "--cores", "1", "results/tables/table2.md")
    raw["train"]["lr"] = 0.5
    other = write_config(tmp_path / "other.yaml", raw)
    run_snakemake(tmp_path, other, "-n", "--cores", "1", "results/tables/table2.md")
    files = sorted((tmp_path / ".datar").glob("config-*.yaml"))
    assert len(files) == 2  # one per config; neither parse touched the other's
    for f in files:
        assert f.name == f"config-{load_config(f).sha256[:16]}.yaml"
    files[0].write_text(files[0].read_text().replace("name: tiny", "name: edited"))
    with pytest.raises(ConfigError, match="changed after the workflow wrote it"):
        load_config(files[0])
