"""The whole DAG, for real: the paper-scale rehearsal's `all`, its report, and the demo's broken clips.

One run serves the module (CI time): ``snakemake --configfile config/rehearsal.yaml --cores 2
all``, every rule of the paper's DAG at size B, 128 x 1024 (DAT-B and AST-B, every table row,
Fig. 1), on the rehearsal's local copies in the real formats. Its checks, a second run that
has nothing to do, ``snakemake --report`` and a real browser opening that report read it. The
embedded demo's generator and its broken clips run in the session's Kinetics-Sounds data
(``conftest.kinetics_data``), a Snakemake run of the test config.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from browser import Browser, find_chromium, open_report_item
from conftest import DATA_TARGETS, REPO, SNAKEMAKE, one_dataset_config, run_snakemake, work_copy, write_config

pytestmark = pytest.mark.slow

REHEARSAL = REPO / "config" / "rehearsal.yaml"
PAPER = REPO / "config" / "config.yaml"
BUDGET_S = 15 * 60


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """The rehearsal's `all`, once; its 11 size-B runs' checkpoints (~8 GB) are deleted at the end."""
    work = tmp_path_factory.mktemp("rehearsal")
    shutil.copytree(REPO / "config" / "rehearsal", work / "config" / "rehearsal")
    cfg = work / "config" / "rehearsal.yaml"
    shutil.copy(REHEARSAL, cfg)
    (work / "paper-dry").mkdir()
    paper = run_snakemake(work / "paper-dry", PAPER, "-n", "--cores", "1", "all")
    t0 = time.perf_counter()
    try:
        proc = run_snakemake(work, cfg, "--cores", "2", "all", timeout=BUDGET_S + 600)
        yield work, cfg, proc, paper, time.perf_counter() - t0
    finally:  # pytest keeps its last 3 temp dirs
        for ckpt in (work / "results/runs").glob("*/*/seed*/*"):
            if ckpt.suffix in (".pt", ".ckpt"):
                ckpt.unlink()


@pytest.fixture(scope="module")
def report_html(full_run):
    """`snakemake --report` on the rehearsal, once."""
    work, cfg, *_ = full_run
    t0 = time.perf_counter()
    run_snakemake(work, cfg, "--report", "results/report.html", timeout=600)
    return work / "results/report.html", time.perf_counter() - t0


def _rules(stdout: str) -> set[str]:
    """The rules of the first "Job stats" table (the DAG as known before any checkpoint ran)."""
    table = stdout.split("Job stats:", 1)[1]
    return set(re.findall(r"^(\w+)\s+\d+$", table, re.M)) - {"total"}


def _jobs_run(log: str) -> dict[str, int]:
    """How many jobs of each rule a run executed, from its "rule X:" / "localcheckpoint X:" headers."""
    counts: dict[str, int] = {}
    for name in re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", log, re.M):
        counts[name] = counts.get(name, 0) + 1
    return counts


def _all_rules(workdir: Path, configfile: Path) -> set[str]:
    listing = run_snakemake(workdir, configfile, "--list-rules").stdout
    return set(re.findall(r"^(\w+)", listing, re.M))


def test_the_rehearsal_runs_the_paper_dag_at_size_b(full_run):
    """Every rule of the paper's DAG at size B, 128 x 1024, on the rehearsal's local copies, in 15 minutes."""
    import torch

    from datar.checkpoint import load_checkpoint
    from datar.features.shards import read_shard

    work, cfg, proc, paper, elapsed = full_run
    ran = _jobs_run(proc.stdout + proc.stderr)
    # every rule of the workflow ran except the embedded demo's generator (run by the session's
    # Kinetics-Sounds data, conftest.kinetics_data) and the archive reader (the rehearsal's
    # copies are loose files; tests/test_datasets_real.py runs `archive`); the paper's own DAG
    # (as far as a dry run sees it, up to the manifest checkpoint) is a part of it
    assert set(ran) == _all_rules(work, cfg) - {"demo_corpus", "archive"}, ran
    assert _rules(paper.stdout) <= set(ran), _rules(paper.stdout) - set(ran)
    assert ran["train"] == ran["evaluate"] == 11 and ran["rehearsal_corpus"] == 3, ran
    assert elapsed < BUDGET_S, f"rehearsal took {elapsed:.0f} s (budget {BUDGET_S} s)"
    reh = yaml.safe_load(REHEARSAL.read_text())
    variants = {"kinetics_sounds": ["ast", "dat_fixed", "dat_deform", "dat_deform_gauss", "dat_deform_laplace",
                                    "datar_l0.2", "datar"], "vggsound": ["ast", "datar"], "epic100": ["ast", "datar"]}
    for dataset, names in variants.items():
        shard = read_shard(work / f"data/{dataset}/fbank/train-00000.safetensors")
        assert tuple(shard.fbank.shape[1:]) == (1024, 128)
        for v in names:
            run = work / f"results/runs/{dataset}/{v}/seed0"
            metrics = json.loads((run / "metrics.json").read_text())
            assert metrics["n_clips"] == 3 and metrics["demo"] is False
            payload = load_checkpoint(run / "checkpoint.pt")
            assert payload["size"] == "B" and payload["target_length"] == 1024 and payload["num_mel_bins"] == 128
            assert payload["global_step"] == reh["train"]["max_steps"]
            assert isinstance(payload["model"], dict) and all(isinstance(t, torch.Tensor) for t in payload["model"].values())
    status = "".join(p.read_text() for p in (work / "data/vggsound/clips").glob("*.status.csv"))
    assert re.search(r"4kL7jH9gF2d_000090,unavailable,[^\n]*local", status), status
    shards = json.loads((work / "data/kinetics_sounds/shards.json").read_text())
    assert shards["n_filtered"] == 5
    for k in (1, 2, 3, 4):
        for ext in ("md", "tex", "csv", "html"):
            assert (work / f"results/tables/table{k}.{ext}").stat().st_size > 0
        md = (work / f"results/tables/table{k}.md").read_text()
        assert "REHEARSAL" in md and "DEMO" not in md, k
        assert "Top-1 paper" in md or "Verb top-1 paper" in md, k  # the rehearsal's datasets are the paper's
    for ext in ("md", "tex", "csv", "html"):
        assert (work / f"results/tables/claims.{ext}").stat().st_size > 0
    assert (work / "results/report/front.rst").stat().st_size > 0
    assert (work / "results/figures/classes/epic100/datar.png").stat().st_size > 1000
    for name in ("fig1_adaptor.png", "fig1_adaptor.pdf", "deform_points.png"):
        assert (work / "results/figures" / name).stat().st_size > 1000
    for ds in ("kinetics_sounds", "vggsound", "epic100"):
        assert (work / f"results/data/{ds}_availability.md").exists()
        assert (work / f"results/data/{ds}_clips.csv").exists()
        assert (work / f"results/report/{ds}_availability.html").exists()
        assert (work / f"results/figures/curves_{ds}.png").stat().st_size > 1000
        assert (work / f"results/plots/curves_{ds}.csv").exists()
    for t in ("table1", "table2", "table3", "table4", "claims"):
        assert json.loads((work / f"results/metrics/{t}.json").read_text())


def test_claims_table_has_every_claim_with_a_verdict(full_run):
    work, *_ = full_run
    from datar.report.paper import load_paper

    claims = load_paper(REPO / "config" / "paper.yaml").claims
    md = (work / "results/tables/claims.md").read_text(encoding="utf-8")
    assert md.startswith("# REHEARSAL") and "How to read this table" in md
    rows = list(csv.DictReader((work / "results/tables/claims.csv").open(encoding="utf-8")))
    assert [r["claim"] for r in rows] == [c.id for c in claims]
    for r in rows:
        assert r["verdict"] in {"reproduced", "not reproduced", "inconclusive"}, r  # every run exists: none is not run
        assert r["claim"] in md or r["text"] in md
    paired = [r for r in rows if r["test"] == "paired"]
    assert len(paired) == 7 and all(r["ci_low"] and r["p"] for r in paired)
    assert {r["test"] for r in rows if r["baseline"] == "audioslowfast"} == {"unpaired vs cited"}
    assert str(REPO) not in md and "/tmp/" not in md  # no absolute machine path in a shared output


def test_tables_are_built_from_the_runs(full_run):
    work, *_ = full_run
    md = (work / "results/tables/table4.md").read_text()
    metrics = json.loads((work / "results/runs/kinetics_sounds/datar/seed0/metrics.json").read_text())
    assert f"{metrics['metrics']['top1']:.1f} ± —" in md  # the reproduced cell is the run's number (n = 1 seed)
    epic = json.loads((work / "results/runs/epic100/datar/seed0/metrics.json").read_text())
    assert {"verb_top1", "noun_top1", "action_top1"} <= set(epic["metrics"])
    for name in ("table1", "table4", "claims"):
        text = (work / f"results/tables/{name}.md").read_text()
        assert "/tmp/" not in text and str(REPO) not in text, name


def test_broken_clips_are_reported_not_fatal(kinetics_data):
    """The demo corpus's dead, corrupt, silent and short clips (the session's test-config data)."""
    text = (kinetics_data / "results/data/kinetics_sounds_availability.csv").read_text()
    assert "unavailable" in text or "invalid" in text
    statuses = "".join(p.read_text() for p in (kinetics_data / "data/kinetics_sounds/clips").glob("*.status.csv"))
    assert ",unavailable," in statuses  # the dead link
    valid = "".join(p.read_text() for p in (kinetics_data / "data/kinetics_sounds/clips").glob("*.valid.csv"))
    assert ",invalid," in valid  # the silent / short / corrupt clips


def test_second_run_has_nothing_to_do(full_run):
    work, cfg, *_ = full_run
    proc = run_snakemake(work, cfg, "-n", "--cores", "1", "all")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_concurrent_invocation_gets_the_lock_message(kinetics_data, tmp_path):
    """Snakemake locks the files of its DAG: a second run over the same outputs is refused."""
    work_copy(kinetics_data, tmp_path)
    cfg = write_config(tmp_path / "cfg.yaml", one_dataset_config(["datar"]))
    target = DATA_TARGETS[0].replace("version.json", "fbank/stats.json")
    first = subprocess.Popen(
        [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(cfg),
         "--cores", "1", "--forcerun", "fbank", "--", target],
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


def test_report_in_a_real_browser(full_run, report_html):
    """Headless Chromium opens the report: the front page and an opened table are on screen."""
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("DATAR_REQUIRE_BROWSER"):
            pytest.fail("DATAR_REQUIRE_BROWSER is set but no Chromium is installed")
        pytest.skip("no Chromium (apt-get install chromium-headless-shell); CI installs it")
    work, *_ = full_run
    path, _ = report_html
    # the config hash the front page names: the runs' (the resolved config's file name may vary)
    sha = json.loads((work / "results/runs/kinetics_sounds/datar/seed0/metrics.json").read_text())["config_sha256"]
    t0 = time.perf_counter()
    with Browser(chromium) as b:
        b.open(path.resolve().as_uri())
        b.wait_for_text("Regenerate one table")
        for text in ("DATAR reproduction: REHEARSAL run", f"sha256 {sha[:12]}", "Regenerate one table",
                     "--forcerun table"):
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
