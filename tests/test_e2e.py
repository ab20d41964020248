"""The whole demo DAG, for real, at a reduced size: manifests to tables and figures."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from conftest import REPO, SNAKEMAKE, run_snakemake, tiny_demo_config, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Run `all` once on config/test.yaml, as a user would; the tests below read its outputs."""
    work = tmp_path_factory.mktemp("e2e")
    cfg = REPO / "config" / "test.yaml"
    t0 = time.perf_counter()
    run_snakemake(work, cfg, "--cores", "2", "all", timeout=1500)
    return work, cfg, time.perf_counter() - t0


def test_all_outputs_exist(demo_run):
    work, _, _ = demo_run
    for k in (1, 2, 3, 4):
        for ext in ("md", "tex", "csv"):
            assert (work / f"results/tables/table{k}.{ext}").stat().st_size > 0
    for name in ("fig1_adaptor.png", "fig1_adaptor.pdf", "deform_points.png"):
        assert (work / "results/figures" / name).stat().st_size > 1000
    for ds in ("kinetics_sounds", "vggsound", "epic100"):
        assert (work / f"results/data/{ds}_availability.md").exists()
        assert (work / f"results/figures/curves_{ds}.png").exists()


def test_tables_are_demo_tables_built_from_the_runs(demo_run):
    work, _, _ = demo_run
    md = (work / "results/tables/table4.md").read_text()
    assert "DEMO" in md
    metrics = json.loads((work / "results/runs/kinetics_sounds/datar/seed0/metrics.json").read_text())
    assert metrics["demo"] is True and metrics["n_clips"] > 0
    top1 = metrics["metrics"]["top1"]
    assert f"{top1:.1f}" in md  # the reproduced cell is the run's number (n = 1 seed)
    epic = json.loads((work / "results/runs/epic100/datar/seed0/metrics.json").read_text())
    assert {"verb_top1", "noun_top1", "action_top1"} <= set(epic["metrics"])


def test_broken_clips_are_reported_not_fatal(demo_run):
    work, _, _ = demo_run
    text = (work / "results/data/kinetics_sounds_availability.csv").read_text()
    assert "unavailable" in text or "invalid" in text
    statuses = "".join(p.read_text() for p in (work / "data/kinetics_sounds/clips").glob("*.status.csv"))
    assert ",unavailable," in statuses  # the dead link
    valid = "".join(p.read_text() for p in (work / "data/kinetics_sounds/clips").glob("*.valid.csv"))
    assert ",invalid," in valid  # the silent / short / corrupt clips


def test_second_run_has_nothing_to_do(demo_run):
    work, cfg, _ = demo_run
    proc = run_snakemake(work, cfg, "-n", "--cores", "1", "all")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_concurrent_invocation_gets_the_lock_message(tmp_path):
    """Snakemake locks the files of its DAG: a second run over the same outputs is refused."""
    cfg = write_config(tmp_path / "tiny.yaml", tiny_demo_config())
    target = "data/kinetics_sounds/fbank/stats.json"
    first = subprocess.Popen(
        [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(cfg),
         "--cores", "1", target],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        locks = tmp_path / ".snakemake" / "locks"
        deadline = time.monotonic() + 60
        while not (locks.exists() and any(locks.iterdir())):
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, "first snakemake never took its lock"
            time.sleep(0.05)
        second = run_snakemake(tmp_path, cfg, "--cores", "1", target, check=False)
        still_running = first.poll() is None
    finally:
        out, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out
    assert still_running, "the first run ended before the second started: the test proves nothing"
    assert second.returncode != 0
    assert "cannot be locked" in second.stdout + second.stderr
    # The first run's outputs are whole: the stats and every shard read back.
    stats = json.loads((tmp_path / target).read_text())
    assert stats["n_clips"] > 0
    from datar.features.shards import verify_shard

    for shard in (tmp_path / "data/kinetics_sounds/fbank").glob("*.safetensors"):
        verify_shard(shard)


def test_snakemake_report_holds_every_table_and_figure(demo_run):
    work, cfg, _ = demo_run
    run_snakemake(work, cfg, "--report", "results/report.html", timeout=600)
    html = (work / "results/report.html").read_text(encoding="utf-8", errors="replace")
    for name in ("table1.md", "table2.md", "table3.md", "table4.md", "fig1_adaptor.png", "deform_points.png",
                 "curves_kinetics_sounds.png", "kinetics_sounds_availability.md"):
        assert name in html, name
    assert "learnable input adaptor" in html  # a caption
