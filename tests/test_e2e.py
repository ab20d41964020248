"""The whole demo DAG, for real, at a reduced size: manifests to tables and figures."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time

import pytest

from browser import Browser, find_chromium, open_report_item
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


@pytest.fixture(scope="module")
def report_html(demo_run):
    """`snakemake --report` on the tiny run, once."""
    work, cfg, _ = demo_run
    t0 = time.perf_counter()
    run_snakemake(work, cfg, "--report", "results/report.html", timeout=600)
    return work / "results/report.html", time.perf_counter() - t0


def test_all_outputs_exist(demo_run):
    work, _, _ = demo_run
    for k in (1, 2, 3, 4):
        for ext in ("md", "tex", "csv", "html"):
            assert (work / f"results/tables/table{k}.{ext}").stat().st_size > 0
    for ext in ("md", "tex", "csv", "html"):
        assert (work / f"results/tables/claims.{ext}").stat().st_size > 0
    assert (work / "results/report/front.rst").stat().st_size > 0
    assert (work / "results/figures/classes/epic100/datar.png").stat().st_size > 1000
    for name in ("fig1_adaptor.png", "fig1_adaptor.pdf", "deform_points.png"):
        assert (work / "results/figures" / name).stat().st_size > 1000
    for ds in ("kinetics_sounds", "vggsound", "epic100"):
        assert (work / f"results/data/{ds}_availability.md").exists()
        assert (work / f"results/report/{ds}_availability.html").exists()
        assert (work / f"results/figures/curves_{ds}.png").exists()


def test_claims_table_has_every_claim_with_a_verdict(demo_run):
    work, _, _ = demo_run
    from datar.report.paper import load_paper

    claims = load_paper(REPO / "config" / "paper.yaml").claims
    md = (work / "results/tables/claims.md").read_text(encoding="utf-8")
    assert md.startswith("# DEMO") and "How to read this table" in md
    rows = list(csv.DictReader((work / "results/tables/claims.csv").open(encoding="utf-8")))
    assert [r["claim"] for r in rows] == [c.id for c in claims]
    for r in rows:
        assert r["verdict"] in {"reproduced", "not reproduced", "inconclusive"}, r  # every run exists: none is not run
        assert r["claim"] in md or r["text"] in md
    paired = [r for r in rows if r["test"] == "paired"]
    assert len(paired) == 7 and all(r["ci_low"] and r["p"] for r in paired)
    assert {r["test"] for r in rows if r["baseline"] == "audioslowfast"} == {"unpaired vs cited"}


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


def test_snakemake_report_holds_every_table_and_figure(report_html):
    path, _ = report_html
    html = path.read_text(encoding="utf-8", errors="replace")
    for name in ("table1.html", "table2.html", "table3.html", "table4.html", "claims.html", "fig1_adaptor.png",
                 "deform_points.png", "curves_kinetics_sounds.png", "kinetics_sounds_availability.html"):
        assert name in html, name
    assert "learnable input adaptor" in html  # a caption
    assert "Ablation study on Kinetics-Sounds" in html  # table4's own caption, from its config title


def test_report_in_a_real_browser(demo_run, report_html):
    """Headless Chromium opens the report: the front page and an opened table are on screen."""
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("DATAR_REQUIRE_BROWSER"):
            pytest.fail("DATAR_REQUIRE_BROWSER is set but no Chromium is installed")
        pytest.skip("no Chromium (apt-get install chromium-headless-shell); CI installs it")
    work, _, _ = demo_run
    path, _ = report_html
    # the config hash the front page names: the runs' (the resolved config's file name may vary)
    sha = json.loads((work / "results/runs/kinetics_sounds/datar/seed0/metrics.json").read_text())["config_sha256"]
    t0 = time.perf_counter()
    with Browser(chromium) as b:
        b.open(path.resolve().as_uri())
        b.wait_for_text("Regenerate one table")
        for text in ("DATAR reproduction: DEMO run", f"sha256 {sha[:12]}", "Regenerate one table", "--forcerun table"):
            seen = b.visible(text)
            assert seen["ok"], (text, seen)
        # Table 4, opened as a user would: the Tables category, then its row's view button.
        ctx = open_report_item(b, "Tables", "table4")
        body = b.wait_for_text("Table 4: Ablation study on Kinetics-Sounds", context=ctx)
        row = next(r for r in csv.DictReader((work / "results/tables/table4.csv").open(encoding="utf-8"))
                   if r["row"] == "dat_deform")
        cell = f"{float(row['top1_mean']):.1f} ± "
        assert cell in body, (cell, body[:2000])
        seen = b.visible(f"[{float(row['top1_ci_low']):.1f}, {float(row['top1_ci_high']):.1f}]", selector="td",
                         context=ctx)
        assert seen["ok"], seen
        assert b.visible("Provenance", context=ctx)["ok"]
        # The claims table and an availability report show inline too.
        b.open(path.resolve().as_uri())
        b.wait_for_text("Regenerate one table")
        ctx = open_report_item(b, "Claims", "every quantitative claim")
        b.wait_for_text("How to read this table", context=ctx)
        assert b.visible("Table 4: deformable attention beats the same network without it", selector="td",
                         context=ctx)["ok"]
        b.open(path.resolve().as_uri())
        b.wait_for_text("Regenerate one table")
        ctx = open_report_item(b, "Data", "vggsound")
        b.wait_for_text("vggsound", context=ctx)
        assert b.visible("test", selector="td", context=ctx)["ok"]
        # A per-class figure (EPIC: verb and noun panels) is shown as an image.
        b.open(path.resolve().as_uri())
        b.wait_for_text("Regenerate one table")
        b.click_text("Figures")
        b.click_text("Per-class accuracy and confusion")
        b.wait_for_rows("epic100")
        b.click_view_button("epic100")
        deadline = time.monotonic() + 30
        while not (seen := b.visible_image())["ok"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert seen["ok"] and seen["width"] > 500, seen
    print(f"browser check: {time.perf_counter() - t0:.1f} s; report built in {report_html[1]:.1f} s")
