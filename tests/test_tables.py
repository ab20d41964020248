"""Tables: paper numbers beside reproduced mean ± std, cited and missing rows, provenance."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

import pytest
import yaml

from datar.cli import table as table_cli
from datar.config import config_from_mapping
from datar.errors import ConfigError, DataError
from datar.report.metrics import read_all
from datar.report.paper import load_paper, paper_from_mapping
from datar.report.provenance import collect_provenance
from datar.report.render import tex_escape, to_csv, to_latex, to_markdown
from datar.report.tables import DEMO_BANNER, build_table

ROOT = Path(__file__).resolve().parents[1]
PAPER = load_paper(ROOT / "config" / "paper.yaml")
FIXTURES = Path(__file__).parent / "fixtures" / "metrics"


def make_cfg(tmp_path: Path, name: str = "demo.yaml", **changes):
    raw = yaml.safe_load((ROOT / "config" / name).read_text(encoding="utf-8"))
    raw["data_dir"] = str(tmp_path / "data")
    raw["results_dir"] = str(tmp_path / "results")
    raw.update(changes)
    return config_from_mapping(raw, origin=name)


def write_metrics(root: Path, dataset: str, variant: str, seed: int, metrics: dict, **extra) -> Path:
    payload = {"dataset": dataset, "variant": variant, "seed": seed, "split": "test", "n_clips": 60,
               "metrics": metrics, "pretrained": False, "demo": True, "size": "tiny",
               "config_sha256": "a" * 64, "git_commit": "deadbeef", "data_version": "v1"}
    payload.update(extra)
    p = root / "runs" / dataset / variant / f"seed{seed}" / "metrics.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(payload), encoding="utf-8")
    return p


def md_rows(md: str) -> dict[str, list[str]]:
    """Markdown table rows keyed by the Model cell."""
    rows = {}
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| Model") and not line.startswith("| :"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows[cells[0]] = cells
    return rows


def csv_rows(text: str) -> dict[str, dict[str, str]]:
    return {r["row"]: r for r in csv.DictReader(io.StringIO(text))}


def render(cfg, name, paths, measure=False):
    table = build_table(cfg, name, PAPER, read_all(paths))
    prov = collect_provenance(cfg, table, PAPER, measure=measure)
    return table, prov, to_markdown(table, prov), to_latex(table, prov), to_csv(table, prov)


def test_mean_std_and_cells(tmp_path):
    cfg = make_cfg(tmp_path)
    paths = [
        write_metrics(tmp_path, "vggsound", "datar", 0, {"top1": 70.0, "top5": 90.0}),
        write_metrics(tmp_path, "vggsound", "datar", 1, {"top1": 72.0, "top5": 93.0}),
        write_metrics(tmp_path, "vggsound", "ast", 0, {"top1": 33.3, "top5": 66.6}),
    ]
    _, _, md, _, text = render(cfg, "table2", paths)
    rows = md_rows(md)
    assert "Trained from scratch (no pretrained weights): all reproduced rows." in md
    datar = rows["DATAR (deformable + adaptor, λ=0.005)"]
    # Model | T1 paper | T1 repro | T1 CI | T1 Δ | T5 paper | T5 repro | T5 CI | T5 Δ | n | note
    # (no predictions.csv here: no interval, "—")
    assert datar[1:10] == ["55.5", "71.0 ± 1.4", "—", "+15.5", "80.2", "91.5 ± 2.1", "—", "+11.3", "2"]
    assert rows["AST"][1:10] == ["52.3", "33.3 ± —", "—", "-19.0", "78.1", "66.6 ± —", "—", "-11.5", "1"]
    assert "missing 1" in rows["AST"][10]
    c = csv_rows(text)
    assert float(c["datar"]["top1_mean"]) == pytest.approx(71.0)
    assert float(c["datar"]["top1_std"]) == pytest.approx(statistics.stdev([70.0, 72.0]), abs=1e-4)
    assert c["datar"]["top1_n"] == "2" and c["datar"]["seeds"] == "0 1"
    assert float(c["datar"]["top1_diff"]) == pytest.approx(71.0 - 55.5)
    assert c["ast"]["top1_std"] == ""


def test_cited_rows_flagged_and_empty(tmp_path):
    cfg = make_cfg(tmp_path)
    _, _, md, tex, text = render(cfg, "table2", [write_metrics(tmp_path, "vggsound", "datar", 0, {"top1": 1.0, "top5": 2.0})])
    rows = md_rows(md)
    chen = rows["Chen et al."]
    assert chen[1] == "48.8" and chen[5] == "76.5"
    assert chen[2] == chen[3] == chen[4] == chen[6] == chen[7] == chen[8] == chen[9] == ""
    assert "cited, not rerun" in chen[10]
    assert "cited, not rerun" in rows["AudioSlowFast"][10]
    c = csv_rows(text)
    assert c["chen2020"]["status"] == "cited, not rerun"
    assert c["chen2020"]["top1_mean"] == "" and c["chen2020"]["top1_paper"] == "48.8000"
    assert "cited, not rerun" in tex


def test_missing_runs_say_not_run_never_paper(tmp_path):
    cfg = make_cfg(tmp_path)
    _, _, md, tex, text = render(cfg, "table4", [])
    rows = md_rows(md)
    assert len(rows) == 6
    for label, cells in rows.items():
        assert cells[2] == "not run" and cells[6] == "not run", label
        assert cells[3] == cells[4] == "—" and cells[9] == "0"
    for r in csv_rows(text).values():
        assert r["status"] == "not run" and r["top1_mean"] == "" and r["top5_mean"] == "" and r["top1_paper"] != ""
    assert "not run" in tex


def test_every_reproduced_cell_is_computed_from_metrics(tmp_path):
    """Metrics that differ from the paper: every reproduced cell equals their mean, none a paper number."""
    cfg = make_cfg(tmp_path, seeds=[0, 1, 2])
    paper = PAPER.table("table4")
    given: dict[str, dict[str, list[float]]] = {}
    paths = []
    for i, variant in enumerate(cfg.tables["table4"].rows):
        if variant == "dat_deform_laplace":  # one row without runs
            continue
        for seed in range(3 if i % 2 else 1):
            vals = {m: round(paper[variant].values[m] - 7.3 - 2.1 * seed - 0.4 * i, 2) for m in ("top1", "top5")}
            paths.append(write_metrics(tmp_path, "kinetics_sounds", variant, seed, vals))
            for m, v in vals.items():
                given.setdefault(variant, {}).setdefault(m, []).append(v)
    table, _, md, _, text = render(cfg, "table4", paths)
    c = csv_rows(text)
    rows_md = {row.key: md_rows(md)[row.label] for row in table.rows}
    for variant in cfg.tables["table4"].rows:
        for j, m in enumerate(("top1", "top5")):
            cell_md = rows_md[variant][2 + 4 * j]
            pval = paper[variant].values[m]
            assert not cell_md.startswith(f"{pval:.1f}"), (variant, m, cell_md)
            if variant not in given:
                assert cell_md == "not run" and c[variant][f"{m}_mean"] == ""
                continue
            vals = given[variant][m]
            mean = statistics.fmean(vals)
            assert float(c[variant][f"{m}_mean"]) == pytest.approx(mean, abs=1e-4)
            std = f"{statistics.stdev(vals):.1f}" if len(vals) > 1 else "—"
            assert cell_md == f"{mean:.1f} ± {std}"
            assert float(c[variant][f"{m}_diff"]) == pytest.approx(mean - pval, abs=1e-4)
            assert c[variant][f"{m}_n"] == str(len(vals))


def test_epic_columns_verb_noun_action_and_top5_in_csv(tmp_path):
    cfg = make_cfg(tmp_path)
    paths = sorted(str(p) for p in (FIXTURES / "epic100").rglob("metrics.json"))
    _, _, md, _, text = render(cfg, "table3", paths)
    header = next(line for line in md.splitlines() if line.startswith("| Model"))
    assert "Verb top-1 paper" in header and "Noun top-1 reproduced" in header and "Action top-1 Δ" in header
    assert "top-5" not in header.lower()
    datar = md_rows(md)["DATAR (deformable + adaptor, λ=0.005)"]
    assert datar[1:5] == ["48.7", "61.0 ± —", "—", "+12.3"]
    assert datar[5:9] == ["22.9", "33.0 ± —", "—", "+10.1"]
    assert datar[9:13] == ["16.3", "21.0 ± —", "—", "+4.7"]
    c = csv_rows(text)
    assert c["datar"]["action_top5_mean"] == "55.0000" and c["datar"]["action_top5_paper"] == ""
    assert "cited, not rerun" in md_rows(md)["Damen et al."][-1]


def test_demo_title(tmp_path):
    demo = make_cfg(tmp_path)
    _, _, md, tex, text = render(demo, "table1", [])
    assert md.splitlines()[0].startswith(f"# {DEMO_BANNER}") and "DEMO" in tex
    assert csv_rows(text)["datar"]["demo"] == "true"
    paper_cfg = make_cfg(tmp_path, name="config.yaml")
    p = write_metrics(tmp_path, "kinetics_sounds", "datar", 0, {"top1": 60.0, "top5": 80.0}, demo=False)
    _, prov, md, _, _ = render(paper_cfg, "table1", [p])
    assert "DEMO" not in md.splitlines()[0] and md.startswith("# Table 1: Comparison")
    p2 = write_metrics(tmp_path, "kinetics_sounds", "ast", 0, {"top1": 60.0, "top5": 80.0}, demo=True)
    _, prov, md, _, _ = render(paper_cfg, "table1", [p, p2])
    assert DEMO_BANNER in md.splitlines()[0]
    assert any("DEMO" in w for w in prov.warnings)


def test_provenance_lines_and_data_version_mismatch(tmp_path):
    cfg = make_cfg(tmp_path)
    ds = tmp_path / "data" / "kinetics_sounds"
    ds.mkdir(parents=True)
    (ds / "version.json").write_text(json.dumps({"dataset": "kinetics_sounds", "data_version": "v2"}))
    (ds / "classes.json").write_text(json.dumps({"heads": {"label": [f"c{i}" for i in range(8)]}}))
    avail = tmp_path / "results" / "data" / "kinetics_sounds_availability.csv"
    avail.parent.mkdir(parents=True)
    avail.write_text("clip_id,split,status\na,train,ok\nb,train,unavailable\nc,train,ok\nd,test,ok\n")
    paths = [write_metrics(tmp_path, "kinetics_sounds", "datar", 0, {"top1": 50.0, "top5": 70.0}),
             write_metrics(tmp_path, "kinetics_sounds", "ast", 0, {"top1": 40.0, "top5": 60.0},
                           config_sha256="b" * 64, pretrained=True)]
    _, prov, md, tex, _ = render(cfg, "table1", paths, measure=True)
    labels = [label for label, _ in prov.items]
    for needed in ("code", "config sha256", "data version", "clips available", "counting convention", "seeds configured"):
        assert needed in labels, needed
    text = dict(prov.items)
    assert "deadbeef" in text["code"] and cfg.sha256 in text["config sha256"]
    assert "train: 2 usable of 3 listed (paper: 22,914)" in text["clips available"]
    assert "test: 1 usable of 1 listed (paper: 1,585)" in text["clips available"]
    assert text["weights, AST"].startswith("pretrained") and "from scratch" in text["weights, DATAR (deformable + adaptor, λ=0.005)"]
    compute = text["compute, DATAR (deformable + adaptor, λ=0.005)"]
    assert "M parameters" in compute and "GMACs conv+linear" in compute and "paper: 93.3" in compute
    assert "label=8" in text["counting convention"]
    assert any("DATA VERSION MISMATCH" in w and "v2" in w for w in prov.warnings)
    assert any("disagree on the config sha256" in w for w in prov.warnings)
    assert "**WARNING: DATA VERSION MISMATCH" in md
    assert "*Trained from scratch (no pretrained weights): DATAR (deformable + adaptor, λ=0.005)." in md
    assert r"\textbf{WARNING: DATA VERSION MISMATCH" in tex


def test_availability_report_per_split_format(tmp_path):
    """The data stage's csv: one row per split plus a total row."""
    cfg = make_cfg(tmp_path)
    avail = tmp_path / "results" / "data" / "vggsound_availability.csv"
    avail.parent.mkdir(parents=True)
    avail.write_text("split,manifest,downloaded,valid,paper,valid_pct_of_paper,reasons\n"
                     "train,200,190,185,159223,0.1,\"download: unavailable: dead (10)\"\n"
                     "test,60,58,57,12790,0.4,\ntotal,260,248,242,,,\n")
    _, prov, _, _, _ = render(cfg, "table2", [])
    text = dict(prov.items)["clips available"]
    assert "train: 185 usable of 200 listed, 190 downloaded (paper: 159,223)" in text
    assert "test: 57 usable of 60 listed, 58 downloaded (paper: 12,790)" in text
    assert "total" not in text.split("[")[0]


def test_kinetics_class_list_printed(tmp_path):
    cfg = make_cfg(tmp_path, name="config.yaml")
    _, prov, md, _, _ = render(cfg, "table1", [])
    assert "kinetics_sounds classes (32, config)" in md and "tap dancing" in md


def test_latex_booktabs_and_escaping(tmp_path):
    cfg = make_cfg(tmp_path)
    _, _, _, tex, _ = render(cfg, "table4", [write_metrics(tmp_path, "kinetics_sounds", "datar_l0.2", 0, {"top1": 1.0, "top5": 2.0})])
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"deformable + adaptor, $\lambda$=0.2" in tex
    assert r"1.0 $\pm$ ---" in tex
    assert tex_escape("a_b & 50% #1 {x}") == r"a\_b \& 50\% \#1 \{x\}"
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    assert "_" not in body.replace(r"\_", "")


def test_cli_writes_md_tex_csv_and_html(tmp_path, capsys):
    cfg_path = tmp_path / "c.yaml"
    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    raw["data_dir"], raw["results_dir"] = str(tmp_path / "d"), str(tmp_path / "r")
    cfg_path.write_text(yaml.safe_dump(raw))
    paths = sorted(str(p) for p in FIXTURES.rglob("metrics.json"))  # includes epic100: skipped for table2
    prefix = tmp_path / "tables" / "table2"
    assert table_cli.main(["--config", str(cfg_path), "--table", "table2", "--out-prefix", str(prefix),
                           "--paper", str(ROOT / "config" / "paper.yaml"), "--no-macs", *paths]) == 0
    for suffix in (".md", ".tex", ".csv", ".html"):
        assert (tmp_path / "tables" / f"table2{suffix}").stat().st_size > 0
    assert not list((tmp_path / "tables").glob(".*tmp"))
    assert "skipped" in capsys.readouterr().err
    c = csv_rows((tmp_path / "tables" / "table2.csv").read_text())
    assert list(c) == ["ast", "chen2020", "audioslowfast", "datar"]
    assert c["datar"]["top1_mean"] == "71.0000" and c["ast"]["top5_mean"] == "72.0000"


def test_bad_inputs_name_the_file(tmp_path):
    cfg = make_cfg(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": "vggsound", "variant": "datar", "seed": 0}))
    with pytest.raises(DataError, match="bad.json.*metrics"):
        read_all([bad])
    a = write_metrics(tmp_path / "a", "vggsound", "datar", 0, {"top1": 1.0})
    b = write_metrics(tmp_path / "b", "vggsound", "datar", 0, {"top1": 2.0})
    with pytest.raises(DataError, match="same dataset/variant/seed"):
        read_all([a, b])
    with pytest.raises(ConfigError, match="table9"):
        build_table(cfg, "table9", PAPER, [])
    with pytest.raises(ConfigError, match="tables.table2.rows.datar.top1"):
        paper_from_mapping({"datasets": {"vggsound": {"name": "VGGSound", "format": "vggsound"}},
                            "tables": {"table2": {"dataset": "vggsound", "rows": {"datar": {"top1": "high"}}}}},
                           origin="p.yaml")
    val = write_metrics(tmp_path / "v", "vggsound", "ast", 0, {"top1": 1.0}, split="val")
    with pytest.raises(DataError, match="split 'val'"):
        build_table(cfg, "table2", PAPER, read_all([val]))


def test_html_page_of_a_markdown_output_is_self_contained(tmp_path):
    from datar.cli import html as html_cli

    md = tmp_path / "vggsound_availability.md"
    md.write_text("# Availability: vggsound\n\n| split | valid |\n| :--- | ---: |\n| test | 57 |\n\n"
                  "*note* <script>alert(1)</script>\n", encoding="utf-8")
    out = tmp_path / "page" / "vggsound_availability.html"
    assert html_cli.main([str(md), str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<title>Availability: vggsound</title>" in page
    assert "<table>" in page and '<td style="text-align:right">57</td>' in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # raw HTML in the md is shown, not run
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from anywhere
    with pytest.raises(DataError, match="missing.md"):
        html_cli.main([str(tmp_path / "missing.md"), str(out)])


def test_rehearsal_kind_titles_and_demo_flag_still_works(tmp_path):
    from datar.report.kind import BANNERS

    rehearsal = make_cfg(tmp_path, name="config.yaml", kind="rehearsal")
    assert rehearsal.run_kind == "rehearsal"
    table, _, md, tex, text = render(rehearsal, "table1", [])
    assert md.startswith(f"# {BANNERS['rehearsal']}") and "REHEARSAL" in tex
    assert csv_rows(text)["datar"]["kind"] == "rehearsal" and csv_rows(text)["datar"]["demo"] == "false"
    assert make_cfg(tmp_path).run_kind == "demo"  # demo: true, no kind
    assert make_cfg(tmp_path, name="config.yaml").run_kind == "paper"
    assert make_cfg(tmp_path, kind="demo").run_kind == "demo"
    with pytest.raises(ConfigError, match="kind: 'rehearsal' contradicts demo: true"):
        make_cfg(tmp_path, kind="rehearsal")
