"""Intervals, p-values and claim verdicts, against closed forms on constructed per-clip predictions."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from datar.cli import claims as claims_cli
from datar.config import config_from_mapping
from datar.errors import ConfigError
from datar.report.claims import check_claims, verdict_for
from datar.report.intervals import (
    binomial_halfwidth,
    bootstrap_accuracy,
    bootstrap_delta,
    detectable_difference,
    mcnemar_exact,
    signflip_p,
    z_quantile,
)
from datar.report.metrics import read_all
from datar.report.paper import load_paper, paper_from_mapping
from datar.report.predictions import hit_matrix, load_run_predictions, read_predictions
from datar.report.render import to_csv, to_markdown
from datar.report.provenance import collect_provenance
from datar.report.tables import build_table

ROOT = Path(__file__).resolve().parents[1]
PAPER = load_paper(ROOT / "config" / "paper.yaml")
CLASSES = [f"c{i}" for i in range(8)]


def make_cfg(tmp_path: Path, **changes):
    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    raw["data_dir"] = str(tmp_path / "data")
    raw["results_dir"] = str(tmp_path / "results")
    raw.update(changes)
    return config_from_mapping(raw, origin="demo.yaml")


def write_run(root: Path, dataset: str, variant: str, seed: int, hits, *, heads=("label",), noun_hits=None,
              **extra) -> Path:
    """A run directory with predictions.csv built from per-clip hits and the matching metrics.json."""
    hits = [bool(h) for h in hits]
    run = root / "results" / "runs" / dataset / variant / f"seed{seed}"
    run.mkdir(parents=True, exist_ok=True)
    head_hits = {heads[0]: hits}
    if len(heads) == 2:
        head_hits[heads[1]] = [bool(h) for h in (noun_hits if noun_hits is not None else hits)]
    rows = ["clip_id," + ",".join(f"{h}_true,{h}_pred,{h}_top5" for h in heads)]
    for i in range(len(hits)):
        cells = [f"clip{i:04d}"]
        for h in heads:
            true = f"{h[0]}{i % 8}"
            pred = true if head_hits[h][i] else f"{h[0]}{(i + 1) % 8}"
            cells += [true, pred, f"{pred}|{true}" if pred != true else pred]
        rows.append(",".join(cells))
    (run / "predictions.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    n = len(hits)
    if heads == ("label",):
        metrics = {"top1": 100.0 * sum(hits) / n, "top5": 100.0}
    else:
        v, u = head_hits[heads[0]], head_hits[heads[1]]
        metrics = {f"{heads[0]}_top1": 100.0 * sum(v) / n, f"{heads[1]}_top1": 100.0 * sum(u) / n,
                   "action_top1": 100.0 * sum(a and b for a, b in zip(v, u)) / n}
    payload = {"dataset": dataset, "variant": variant, "seed": seed, "split": "test", "n_clips": n,
               "metrics": metrics, "pretrained": False, "demo": True, "size": "tiny",
               "config_sha256": "a" * 64, "git_commit": "deadbeef", "data_version": "v1", **extra}
    (run / "metrics.json").write_text(json.dumps(payload), encoding="utf-8")
    return run / "metrics.json"


def predictions_of(paths):
    preds, _ = load_run_predictions(read_all(paths))
    return preds


def claim_result(results, claim_id):
    return next(r for r in results if r.claim.id == claim_id)


# ---------------------------------------------------------------- closed forms


def test_normal_quantiles_and_binomial_halfwidth_closed_forms():
    assert z_quantile(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert z_quantile(0.8) == pytest.approx(0.841621, abs=1e-6)
    # DESIGN §6: ±2.3 points at Kinetics-Sounds' 1,585 test clips (p = 0.7), ±0.7 at EPIC's 9,668 (p = 0.16)
    assert binomial_halfwidth(70.0, 1585, confidence=0.95) == pytest.approx(100 * 1.959964 * math.sqrt(0.21 / 1585), rel=1e-6)
    assert round(binomial_halfwidth(70.0, 1585, confidence=0.95), 1) == 2.3
    assert round(binomial_halfwidth(16.0, 9668, confidence=0.95), 1) == 0.7
    assert detectable_difference(1.0, confidence=0.95) == pytest.approx(1.959964 + 0.841621, abs=1e-5)


def test_bootstrap_of_one_seed_is_the_binomial_distribution():
    """Resampling n clips with replacement from one seed: the count right is Binomial(n, p̂) exactly."""
    n, k = 400, 280  # p̂ = 0.7
    hits = np.zeros((1, n), dtype=bool)
    hits[0, :k] = True
    ci = bootstrap_accuracy(hits, resamples=20000, seed=3, key="binomial", confidence=0.95)
    assert ci.estimate == pytest.approx(70.0)
    p = k / n
    pmf = [math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(n + 1)]
    cdf = list(itertools.accumulate(pmf))
    lo = 100 * next(j for j, c in enumerate(cdf) if c >= 0.025) / n
    hi = 100 * next(j for j, c in enumerate(cdf) if c >= 0.975) / n
    assert ci.low == pytest.approx(lo, abs=0.5) and ci.high == pytest.approx(hi, abs=0.5)
    assert ci.se == pytest.approx(100 * math.sqrt(p * (1 - p) / n), rel=0.03)


def test_exact_mcnemar_case():
    """One seed each: 7 clips only A gets right, 2 only B, 30 both, 11 neither."""
    a = np.array([1] * 7 + [0] * 2 + [1] * 30 + [0] * 11, dtype=bool)
    b = np.array([0] * 7 + [1] * 2 + [1] * 30 + [0] * 11, dtype=bool)
    closed = 2 * sum(math.comb(9, i) for i in range(3)) / 2**9  # 2 P(X <= 2), X ~ Bin(9, 1/2)
    assert closed == pytest.approx(0.1796875)
    assert mcnemar_exact(7, 2) == pytest.approx(closed, abs=1e-12)
    assert signflip_p(a[None], b[None]) == pytest.approx(closed, abs=1e-12)
    assert signflip_p(b[None], a[None]) == pytest.approx(closed, abs=1e-12)


def test_signflip_with_several_seeds_equals_full_enumeration():
    rng = np.random.default_rng(5)
    for ka, kb, n in ((2, 2, 9), (3, 2, 8), (1, 3, 10)):
        a, b = rng.random((ka, n)) < 0.6, rng.random((kb, n)) < 0.45
        d = a.mean(0) - b.mean(0)
        obs = abs(d.sum())
        hits = sum(abs((np.array(s) * d).sum()) >= obs - 1e-12 for s in itertools.product((-1, 1), repeat=n))
        assert signflip_p(a, b) == pytest.approx(hits / 2**n, abs=1e-9), (ka, kb, n)


def test_identical_models_give_zero_and_p_one():
    rng = np.random.default_rng(0)
    hits = rng.random((2, 64)) < 0.5
    ci = bootstrap_delta(hits, hits.copy(), resamples=500, seed=0, key="same", confidence=0.95)
    # Seeds are drawn independently for the two sides, so the interval is not a point,
    # but the estimate is exactly 0 and the test says no difference.
    assert ci.estimate == 0.0 and ci.low <= 0.0 <= ci.high
    assert signflip_p(hits, hits.copy()) == 1.0
    one = hits[:1]
    ci1 = bootstrap_delta(one, one.copy(), resamples=500, seed=0, key="same", confidence=0.95)
    assert (ci1.estimate, ci1.low, ci1.high, ci1.se) == (0.0, 0.0, 0.0, 0.0)


def test_bootstrap_is_fixed_by_its_seed():
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 80)) < 0.6, rng.random((2, 80)) < 0.5
    one = bootstrap_delta(a, b, resamples=1000, seed=7, key="k", confidence=0.95)
    assert bootstrap_delta(a, b, resamples=1000, seed=7, key="k", confidence=0.95) == one
    assert bootstrap_delta(a, b, resamples=1000, seed=8, key="k", confidence=0.95) != one
    assert bootstrap_delta(a, b, resamples=1000, seed=7, key="other", confidence=0.95) != one


def test_verdict_rules():
    assert verdict_for(1.1, 0.2, 3.0) == "reproduced"
    assert verdict_for(-10.0, -12.0, -1.0) == "reproduced"
    assert verdict_for(1.1, -3.0, -0.5) == "not reproduced"  # wrong side of 0
    assert verdict_for(18.9, -2.0, 4.0) == "not reproduced"  # holds 0, excludes the paper's Δ
    assert verdict_for(1.1, -2.0, 4.0) == "inconclusive"
    assert verdict_for(1.1, 2.0, 4.0) == "reproduced"  # same sign, excludes 0 (larger than claimed)


# ---------------------------------------------------------------- claims from constructed runs


def test_each_verdict_from_constructed_predictions(tmp_path):
    cfg = make_cfg(tmp_path, seeds=[0, 1])
    ks = "kinetics_sounds"
    rng = np.random.default_rng(2)
    paths = []
    n = 200
    for seed in (0, 1):
        # Table 4, deformable vs without: deformable far better -> reproduced
        paths.append(write_run(tmp_path, ks, "dat_deform", seed, rng.random(n) < 0.9))
        paths.append(write_run(tmp_path, ks, "dat_fixed", seed, rng.random(n) < 0.4))
        # adaptor vs Gaussian: adaptor far worse -> not reproduced
        paths.append(write_run(tmp_path, ks, "datar", seed, rng.random(n) < 0.3))
        paths.append(write_run(tmp_path, ks, "dat_deform_gauss", seed, rng.random(n) < 0.85))
    # adaptor vs λ=0.2 and vs Laplace on 20 clips that differ in one: inconclusive; Table 1 AST = DATAR
    # exactly: Δ 0 with a narrow interval that excludes +18.9 -> not reproduced
    for seed in (0, 1):
        datar = np.loadtxt(tmp_path / f"results/runs/{ks}/datar/seed{seed}/predictions.csv", dtype=str,
                           delimiter=",", skiprows=1)
        same = datar[:, 1] == datar[:, 2]
        paths.append(write_run(tmp_path, ks, "ast", seed, same))
        near = same.copy()
        near[0] = not near[0]
        paths.append(write_run(tmp_path, ks, "datar_l0.2", seed, near))
    results = check_claims(cfg, PAPER, predictions_of(paths))
    got = {r.claim.id: r for r in results}
    assert got["table4_deform_vs_fixed"].verdict == "reproduced"
    assert got["table4_deform_vs_fixed"].ci.low > 0 and got["table4_deform_vs_fixed"].test == "paired"
    assert got["table4_adaptor_vs_gauss"].verdict == "not reproduced"
    assert got["table4_adaptor_vs_gauss"].ci.high < 0
    assert got["table4_adaptor_vs_l02"].verdict == "inconclusive"
    assert got["table4_adaptor_vs_l02"].ci.low < 0 < 1.0 < got["table4_adaptor_vs_l02"].ci.high
    t1 = got["table1_datar_vs_ast"]
    assert t1.delta == 0.0 and t1.p == 1.0 and t1.verdict == "not reproduced" and t1.ci.high < 18.9
    # Missing runs say not run, and why
    lap = got["table4_adaptor_vs_laplace"]
    assert lap.verdict == "not run" and lap.delta is None and "dat_deform_laplace" in lap.note
    assert got["table2_datar_vs_ast"].verdict == "not run" and "vggsound" in got["table2_datar_vs_ast"].note
    assert got["compute_datar_vs_ast"].verdict == "not run"  # no MAC counter given


def test_paired_delta_and_p_match_closed_forms_with_one_seed(tmp_path):
    cfg = make_cfg(tmp_path, seeds=[0])
    a = [1] * 7 + [0] * 2 + [1] * 30 + [0] * 11
    b = [0] * 7 + [1] * 2 + [1] * 30 + [0] * 11
    paths = [write_run(tmp_path, "kinetics_sounds", "dat_deform", 0, a),
             write_run(tmp_path, "kinetics_sounds", "dat_fixed", 0, b)]
    r = claim_result(check_claims(cfg, PAPER, predictions_of(paths)), "table4_deform_vs_fixed")
    assert r.delta == pytest.approx(100 * (37 - 32) / 50)
    assert r.p == pytest.approx(2 * sum(math.comb(9, i) for i in range(3)) / 2**9)
    assert r.clips == 50 and r.seeds == ((0,), (0,))
    assert r.mdd == pytest.approx(detectable_difference(r.ci.se, confidence=0.95))
    assert "one seed per side" in r.note
    # the paper's own n: 1,585 Kinetics-Sounds test clips
    assert r.paper_n == 1585
    assert r.paper_halfwidth == pytest.approx(
        100 * 1.959964 * math.sqrt(0.705 * 0.295 / 1585 + 0.694 * 0.306 / 1585), rel=1e-5)


def test_cited_row_claim_is_unpaired_against_the_cited_number(tmp_path):
    cfg = make_cfg(tmp_path, seeds=[0])
    n = 120
    verb = [i % 2 == 0 for i in range(n)]  # 50 %
    noun = [i % 3 == 0 for i in range(n)]  # 33.3 %
    paths = [write_run(tmp_path, "epic100", "datar", 0, verb, heads=("verb", "noun"), noun_hits=noun)]
    results = check_claims(cfg, PAPER, predictions_of(paths))
    action = claim_result(results, "table3_action_vs_audioslowfast")
    both = sum(v and u for v, u in zip(verb, noun)) / n * 100
    assert action.test == "unpaired vs cited" and action.baseline == 15.4
    assert action.delta == pytest.approx(both - 15.4)
    assert "cited" in action.note and "unpaired" in action.note
    assert action.seeds == ((0,), ()) and action.clips == n
    verb_claim = claim_result(results, "table3_verb_vs_audioslowfast")
    assert verb_claim.delta == pytest.approx(50.0 - 46.5)
    assert verb_claim.paper_n == 9668


def test_compute_claim_uses_the_counter(tmp_path):
    cfg = make_cfg(tmp_path)
    fewer = {"datar": 40.0, "ast": 103.0}
    r = claim_result(check_claims(cfg, PAPER, {}, macs=fewer.__getitem__, macs_shape="B at 1024"), "compute_datar_vs_ast")
    assert r.verdict == "reproduced" and r.delta == pytest.approx(-63.0) and r.test == "exact count"
    more = {"datar": 0.03, "ast": 0.01}
    r = claim_result(check_claims(cfg, PAPER, {}, macs=more.__getitem__), "compute_datar_vs_ast")
    assert r.verdict == "not reproduced"


def test_paper_claims_are_checked_against_their_rows():
    assert [c.id for c in PAPER.claims][:2] == ["table1_datar_vs_ast", "table2_datar_vs_ast"]
    assert len(PAPER.claims) == 11
    for c in PAPER.claims:
        assert PAPER.value(c, c.model) - PAPER.value(c, c.baseline) == pytest.approx(c.delta, abs=0.051)
    raw = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text(encoding="utf-8"))
    raw["claims"][0]["delta"] = 19.9
    with pytest.raises(ConfigError, match=r"claims\[0\] \(table1_datar_vs_ast\)\.delta"):
        paper_from_mapping(raw, origin="p.yaml")
    raw["claims"][0].update(delta=18.9, metric="top9")
    with pytest.raises(ConfigError, match="tables.table1.datar.top9"):
        paper_from_mapping(raw, origin="p.yaml")


def test_claims_cli_writes_every_claim_byte_stable(tmp_path):
    cfg_path = tmp_path / "c.yaml"
    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    raw["data_dir"], raw["results_dir"] = str(tmp_path / "data"), str(tmp_path / "results")
    cfg_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    rng = np.random.default_rng(4)
    paths = [str(write_run(tmp_path, "kinetics_sounds", v, s, rng.random(64) < 0.5))
             for v in ("datar", "ast") for s in (0, 1)]
    prefix = tmp_path / "tables" / "claims"
    args = ["--config", str(cfg_path), "--out-prefix", str(prefix), "--paper", str(ROOT / "config" / "paper.yaml"),
            "--no-macs", *paths]
    assert claims_cli.main(args) == 0
    first = {s: (tmp_path / "tables" / f"claims{s}").read_bytes() for s in (".md", ".tex", ".csv", ".html")}
    assert claims_cli.main(args) == 0
    for s, data in first.items():
        assert (tmp_path / "tables" / f"claims{s}").read_bytes() == data, s
    md = first[".md"].decode()
    assert md.startswith("# DEMO") and "How to read this table" in md
    rows = list(csv.DictReader(io.StringIO(first[".csv"].decode())))
    assert [r["claim"] for r in rows] == [c.id for c in PAPER.claims]
    assert all(r["verdict"] in {"reproduced", "not reproduced", "inconclusive", "not run"} for r in rows)
    t1 = rows[0]
    assert t1["test"] == "paired" and t1["seeds_model"] == "0 1" and t1["clips"] == "64" and t1["paper_n"] == "1585"
    assert "<table>" in first[".html"].decode() and "Table 1: DATAR beats AST" in first[".html"].decode()
    assert r"\toprule" in first[".tex"].decode()


# ---------------------------------------------------------------- intervals in the tables


def test_table_cells_carry_the_bootstrap_interval(tmp_path):
    cfg = make_cfg(tmp_path, seeds=[0, 1])
    ds = tmp_path / "data" / "kinetics_sounds"
    ds.mkdir(parents=True)
    (ds / "classes.json").write_text(json.dumps({"heads": {"label": CLASSES}}))
    rng = np.random.default_rng(6)
    hits = {s: rng.random(64) < 0.6 for s in (0, 1)}
    paths = [write_run(tmp_path, "kinetics_sounds", "datar", s, hits[s]) for s in (0, 1)]
    paths.append(write_run(tmp_path, "kinetics_sounds", "ast", 0, rng.random(64) < 0.3, capped_at_step=40))
    runs = read_all(paths)
    preds, _ = load_run_predictions(runs)
    table = build_table(cfg, "table1", PAPER, runs, classes={"label": 8}, predictions=preds)
    md = to_markdown(table, collect_provenance(cfg, table, PAPER, measure=False))
    text = to_csv(table, collect_provenance(cfg, table, PAPER, measure=False))
    expected = bootstrap_accuracy(np.stack([hits[0], hits[1]]), resamples=cfg.report.bootstrap_resamples,
                                  seed=cfg.report.bootstrap_seed, key="table1/datar/top1", confidence=0.95)
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["row"] == "datar")
    assert float(row["top1_ci_low"]) == pytest.approx(expected.low, abs=1e-4)
    assert float(row["top1_ci_high"]) == pytest.approx(expected.high, abs=1e-4)
    assert f"[{expected.low:.1f}, {expected.high:.1f}]" in md
    assert "hierarchical percentile bootstrap" in md
    # top-5 hidden at 8 classes, kept in the csv; chance and majority class stated
    header = next(line for line in md.splitlines() if line.startswith("| Model"))
    assert "Top-5" not in header and "top5_mean" in text.splitlines()[0]
    assert "Top-5 is not shown: with 8 classes" in md
    assert "Top-1: chance 12.5%, majority class 12.5%" in md  # 64 clips, 8 balanced classes
    assert row["top1_chance"] == "12.5000" and row["top1_classes"] == "8"
    # a capped run says so
    assert "AST seed 0 stopped at step 40" in md and "seed 0 capped at step 40" in md
    assert next(r for r in csv.DictReader(io.StringIO(text)) if r["row"] == "ast")["capped_at_step"] == "0:40"


def test_top5_shown_above_ten_classes_and_missing_predictions_noted(tmp_path):
    cfg = make_cfg(tmp_path, seeds=[0])
    p = write_run(tmp_path, "vggsound", "datar", 0, [True, False] * 10)
    (p.parent / "predictions.csv").unlink()
    runs = read_all([p])
    table = build_table(cfg, "table2", PAPER, runs, classes={"label": 309}, predictions={})
    assert table.columns == ("top1", "top5")
    assert any("No per-clip predictions" in n and "seed 0" in n for n in table.notes)
    assert table.rows[-1].cells["top1"].ci is None


def test_hit_matrix_keeps_clips_every_seed_has(tmp_path):
    a = write_run(tmp_path, "vggsound", "datar", 0, [True] * 10)
    b = write_run(tmp_path, "vggsound", "datar", 1, [False] * 12)
    frames = {0: read_predictions(a.with_name("predictions.csv")), 1: read_predictions(b.with_name("predictions.csv"))}
    hm = hit_matrix(frames, "top1")
    assert hm.hits.shape == (2, 10) and hm.dropped == 2 and hm.seeds == (0, 1)
    assert hit_matrix(frames, "action_top1") is None


def test_claims_of_tables_the_config_lacks_are_not_run(tmp_path):
    raw_tables = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))["tables"]
    cfg = make_cfg(tmp_path, tables={"table2": raw_tables["table2"]})
    results = check_claims(cfg, PAPER, {})
    t1 = claim_result(results, "table1_datar_vs_ast")
    assert t1.verdict == "not run" and "table1 is not a table of config 'demo'" in t1.note
    assert claim_result(results, "table2_datar_vs_ast").note.startswith("not run: no runs")


def test_the_confidence_level_is_one_setting_every_output_reads(tmp_path):
    """report.confidence: the tables' and the claims' intervals, headers, legends and detectable Δ follow it."""
    from datar.report.claims_render import to_latex as claims_latex
    from datar.report.claims_render import to_markdown as claims_markdown

    rng = np.random.default_rng(3)
    paths = [write_run(tmp_path, "kinetics_sounds", v, 0, rng.random(80) < p) for v, p in (("datar", 0.7), ("ast", 0.5))]
    preds = predictions_of(paths)
    out = {}
    for level in (0.95, 0.8):
        cfg = make_cfg(tmp_path, report={"confidence": level})
        table = build_table(cfg, "table1", PAPER, read_all(paths), classes={"label": 8}, predictions=preds)
        md = to_markdown(table, collect_provenance(cfg, table, PAPER, measure=False))
        results = check_claims(cfg, PAPER, preds)
        text = claims_markdown("c", results, [], resamples=100, seed=0, confidence=level)
        tex = claims_latex("c", results, [], resamples=100, seed=0, confidence=level)
        out[level] = (table, md, claim_result(results, "table1_datar_vs_ast"), text, tex)
    t95, md95, c95, text95, _ = out[0.95]
    t80, md80, c80, text80, tex80 = out[0.8]
    assert "Top-1 95% CI" in md95 and "95% CI" not in md80 and "Top-1 80% CI" in md80 and "80% CI =" in md80
    w = {lv: out[lv][0].rows[-1].cells["top1"].ci for lv in out}
    assert w[0.8].high - w[0.8].low < w[0.95].high - w[0.95].low
    assert c80.ci.high - c80.ci.low < c95.ci.high - c95.ci.low and c80.mdd < c95.mdd
    assert "| 80% CI |" in text80 and r"80\% CI" in tex80 and "95%" not in text80 and "α = 0.2" in text80
