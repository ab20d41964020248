"""Provenance a reviewer can trust (issue 21): edited code reruns what it affects and nothing else,
uncommitted changes are named, pretrained weights are identified (or refused), and paper numbers
stay with the paper's datasets.

The workflow scenarios run the real Snakemake CLI on a git copy of this repository
(:func:`conftest.code_copy`) that the tests edit, with one pretrained DAT run on the test
config's Kinetics-Sounds stand-in, made with an uncommitted change in the copy.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from conftest import REPO, code_copy, one_dataset_config, planned_rules, run_snakemake, work_copy, write_config
from datar import fingerprint as fp
from datar.errors import ConfigError
from datar.io import sha256_file

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checkpoints"
DATA_RULES = {"demo_corpus", "manifest", "download", "validate", "fbank", "stats", "data_version", "availability"}


# ----------------------------------------------------------------------------- fingerprints


def test_fingerprint_ignores_docstrings_comments_and_layout_but_not_code():
    src = 'def f(x):\n    """Doubles."""\n    return 2 * x  # twice\n'
    reworded = '"""Module text."""\n\n\ndef f(x):\n    """Twice x, reworded."""\n    # a comment\n    return 2*x\n'
    changed = 'def f(x):\n    """Doubles."""\n    return 3 * x\n'
    assert fp.source_hash(src) == fp.source_hash(reworded)
    assert fp.source_hash(src) != fp.source_hash(changed)


def test_closures_follow_imports_and_keep_data_verbs_off_the_models():
    train = set(fp.verb_modules("train"))
    assert {"datar.models.adaptor", "datar.variants", "datar.io", "datar.schema", "datar.train.loop"} <= train
    for verb in ("download", "validate", "fbank", "manifest", "stats"):
        mods = fp.verb_modules(verb)
        assert not [m for m in mods if m.startswith(("datar.models", "datar.report"))], (verb, mods)
    assert "datar.data.download" in fp.verb_modules("download")
    assert not fp.DISPATCH & set(train), "the verb table must not be part of a fingerprint"


def test_dvc_yaml_code_dependencies_are_the_generated_ones(tmp_path):
    from datar.cli import code_deps

    assert code_deps.main(["--check", str(REPO / "dvc.yaml")]) == 0
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    runs = set(stages["runs"]["do"]["deps"])
    assert {"datar/variants.py", "datar/io.py", "datar/schema.py", "datar/models/adaptor.py"} <= runs
    # a stale list is named
    stale = tmp_path / "dvc.yaml"
    stale.write_text((REPO / "dvc.yaml").read_text().replace("        - datar/variants.py\n", "", 1))
    for smk in ("Snakefile",):
        (tmp_path / smk).write_text((REPO / smk).read_text())
    (tmp_path / "workflow").symlink_to(REPO / "workflow")
    assert code_deps.main(["--check", str(stale)]) == 1


# ----------------------------------------------------------------------------- a real run in a code copy


def _tiny_dat_weights(path: Path, seed: int = 0) -> Path:
    from test_weights import official_dat_state_dict

    sd = official_dat_state_dict("tiny")
    if seed:
        sd = {k: v + seed for k, v in sd.items()}
    torch.save({"model": sd}, path)
    return path


@pytest.fixture(scope="module")
def clone_run(tmp_path_factory, kinetics_data):
    """One pretrained run of DATAR + its Table 4, made in a code copy with an uncommitted change
    (on a copy of the session's built data: the code copy computes the same data jobs)."""
    root = tmp_path_factory.mktemp("provenance")
    code = code_copy(root / "code")
    render = code / "datar" / "report" / "render.py"
    render.write_text(render.read_text() + "\n# a local edit: this tree is not its commit\n")
    weights = _tiny_dat_weights(root / "dat_tiny_in1k_224.pth")
    raw = one_dataset_config(["datar"])
    raw["model"]["pretrained"] = {"dat": str(weights), "ast": None}
    work = work_copy(kinetics_data, root / "work")
    cfg = write_config(work / "cfg.yaml", raw)
    proc = run_snakemake(work, cfg, "--cores", "2", "results/tables/table4.md", code=code, timeout=900)
    assert "rule download" not in proc.stdout + proc.stderr, "the copied data was rebuilt"
    return root, code, work, cfg, weights


def _plan(clone_run) -> set[str]:
    root, code, work, cfg, _ = clone_run
    proc = run_snakemake(work, cfg, "-n", "results/tables/table4.md", code=code)
    return planned_rules(proc)


def _edited(path: Path, old: str, new: str):
    class Edit:
        def __enter__(self):
            self.text = path.read_text()
            assert old in self.text, f"{path}: {old!r} not found"
            path.write_text(self.text.replace(old, new, 1))

        def __exit__(self, *exc):
            path.write_text(self.text)

    return Edit()


@pytest.mark.slow
def test_model_edit_reruns_training_and_after_but_no_data_stage(clone_run):
    _, code, *_ = clone_run
    assert _plan(clone_run) == set(), "the finished run plans jobs before any edit"
    adaptor = code / "datar" / "models" / "adaptor.py"
    with _edited(adaptor, "return self.lam * self.conv(x)", "return 2 * self.lam * self.conv(x)"):
        planned = _plan(clone_run)
    assert {"train", "evaluate", "table"} <= planned, planned
    assert not planned & DATA_RULES, planned
    with _edited(adaptor, '"""What the adaptor adds:', '"""The term the adaptor adds (reworded):'):
        assert _plan(clone_run) == set(), "a docstring-only edit must not cost a retraining"


@pytest.mark.slow
def test_download_edit_reruns_downloads_and_what_follows(clone_run):
    _, code, *_ = clone_run
    with _edited(code / "datar" / "data" / "fetch_clip.py", "DURATION_TOLERANCE_S = 0.15",
                 "DURATION_TOLERANCE_S = 0.25"):
        planned = _plan(clone_run)
    assert {"download", "validate", "fbank", "train", "evaluate", "table"} <= planned, planned


@pytest.mark.slow
def test_uncommitted_changes_are_recorded_and_the_table_says_so(clone_run):
    root, code, work, *_ = clone_run
    metrics = json.loads((work / "results/runs/kinetics_sounds/datar/seed0/metrics.json").read_text())
    train = metrics["code"]["train"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=code, capture_output=True, text=True).stdout.strip()
    assert train["commit"] == head and train["dirty"] is True and len(train["diff_sha256"]) == 64
    assert "datar/report/render.py" in train["changed"]
    assert train["fingerprint"] == metrics["code"]["evaluate"]["fingerprint"] or train["fingerprint"]
    table = (work / "results/tables/table4.md").read_text()
    assert f"{head} + uncommitted changes (diff {train['diff_sha256'][:12]})" in table
    assert "WARNING: 1 run(s) were trained with uncommitted changes" in table
    env = json.loads((work / "results/runs/kinetics_sounds/datar/seed0/env.json").read_text())
    assert env["code"]["dirty"] is True


@pytest.mark.slow
def test_weights_file_is_recorded_and_replacing_it_retrains(clone_run):
    root, code, work, cfg, weights = clone_run
    metrics = json.loads((work / "results/runs/kinetics_sounds/datar/seed0/metrics.json").read_text())
    record = metrics["weights"]
    assert record["name"] == weights.name and record["sha256"] == sha256_file(weights)
    assert record["source_format"] == "dat" and set(record["not_loaded"]) <= {
        "adaptor.conv.weight", "adaptor.conv.bias", "heads.heads.label.norm.weight", "heads.heads.label.norm.bias",
        "heads.heads.label.fc.weight", "heads.heads.label.fc.bias"}
    table = (work / "results/tables/table4.md").read_text()
    assert f"{weights.name} (sha256 {record['sha256'][:12]}" in table
    original = weights.read_bytes()
    try:
        _tiny_dat_weights(weights, seed=1)
        assert {"train", "evaluate", "table"} <= _plan(clone_run)
    finally:
        weights.write_bytes(original)


# ----------------------------------------------------------------------------- weights files


def _fixture_state_dict(name: str) -> dict[str, torch.Tensor]:
    """Zero tensors with the official keys and shapes (expanded views: a tiny file)."""
    keys = json.loads((FIXTURES / f"{name}.keys.json").read_text())["keys"]
    return {k: torch.zeros(()).expand(*s) if s else torch.zeros(()) for k, s in keys.items()}


@pytest.fixture(scope="module")
def dat_b():
    from datar.models import build_model

    return build_model("datar", size="B", heads={"label": 32}, num_mel_bins=128, target_length=1024)


def test_dat_pp_layout_is_refused_naming_the_cvpr2022_file(tmp_path, dat_b):
    from datar.models.weights import load_weights_file

    path = tmp_path / "dat_pp_base_in1k_224.pth"
    torch.save({"model": _fixture_state_dict("dat_pp_base_in1k_224")}, path)
    with pytest.raises(ConfigError) as err:
        load_weights_file(dat_b, path, key="model.pretrained.dat", size="B")
    msg = str(err.value)
    assert "model.pretrained.dat" in msg and "DAT++" in msg and "dat_base_in1k_224.pth" in msg
    assert "CVPR2022" in msg


def test_cvpr2022_layout_loads_whole_and_a_wrong_hash_is_refused(tmp_path, dat_b):
    from datar.models.weights import load_weights_file

    path = tmp_path / "dat_base_in1k_224.pth"
    torch.save({"model": _fixture_state_dict("dat_base_in1k_224")}, path)
    record = load_weights_file(dat_b, path, key="model.pretrained.dat", size="B")
    assert set(record.not_loaded) == {"adaptor.conv.weight", "adaptor.conv.bias"} | {
        f"heads.heads.label.fc.{w}" for w in ("weight", "bias")}, record.not_loaded
    assert record.sha256 == sha256_file(path)
    wrong = "0" * 64
    with pytest.raises(ConfigError, match=f"model.pretrained.dat: {path} has sha256 {record.sha256} but the "
                                          f"config pins {wrong}"):
        load_weights_file(dat_b, path, key="model.pretrained.dat", sha256=wrong, size="B")


def test_a_checkpoint_leaving_backbone_parameters_random_is_refused(tmp_path):
    from datar.models import build_model
    from datar.models.weights import load_weights_file
    from test_weights import official_dat_state_dict

    sd = official_dat_state_dict("tiny")
    for k in [k for k in sd if k.startswith("stages.3.")]:
        del sd[k]
    path = tmp_path / "partial.pth"
    torch.save(sd, path)
    model = build_model("datar", size="tiny", heads={"label": 5}, num_mel_bins=64, target_length=256)
    with pytest.raises(ConfigError, match=r"leaves \d+ backbone parameter\(s\) of this model uninitialised"):
        load_weights_file(model, path, key="model.pretrained.dat", size="tiny")


def test_pretrained_takes_a_path_or_a_pinned_file():
    from datar.config import config_from_mapping

    raw = one_dataset_config(["datar"])
    raw["model"]["pretrained"] = {"dat": "/w/dat.pth", "ast": {"path": "/w/deit.pth", "sha256": "AB" * 32}}
    cfg = config_from_mapping(raw)
    assert cfg.model.pretrained.dat.path == "/w/dat.pth" and cfg.model.pretrained.dat.sha256 is None
    assert cfg.model.pretrained.ast.sha256 == "ab" * 32
    raw["model"]["pretrained"]["dat"] = {"path": "/w/dat.pth", "sha256": "xyz"}
    with pytest.raises(ConfigError, match="model.pretrained.dat"):
        config_from_mapping(raw)


# ----------------------------------------------------------------------------- paper numbers stay with the paper's data


def test_table_and_claims_on_a_user_dataset_show_no_paper_numbers_and_no_verdict(tmp_path):
    from datar.config import config_from_mapping
    from datar.report.claims import check_claims
    from datar.report.claims_render import to_markdown as claims_markdown
    from datar.report.paper import load_paper
    from datar.report.provenance import collect_provenance
    from datar.report.render import to_csv, to_markdown
    from datar.report.tables import build_table
    from test_claims import predictions_of, write_run

    raw = one_dataset_config(["datar"])
    ds = raw["datasets"].pop("kinetics_sounds")
    ds.pop("paper_dataset")
    raw["datasets"]["drums"] = ds
    raw["train"]["epochs"] = {"drums": 1}
    raw["tables"] = {"table1": {"title": "Drums", "dataset": "drums", "rows": ["ast", "datar"]},
                     "table4": {"title": "Drums ablation", "dataset": "drums", "rows": ["dat_deform", "datar"]}}
    raw["data_dir"], raw["results_dir"] = str(tmp_path / "data"), str(tmp_path / "results")
    cfg = config_from_mapping(raw)
    paper = load_paper(REPO / "config" / "paper.yaml")
    paths = [write_run(tmp_path, "drums", v, 0, [i % 3 != 0 for i in range(60)] if v == "datar" else
                       [i % 2 == 0 for i in range(60)]) for v in ("ast", "datar", "dat_deform")]
    preds = predictions_of(paths)
    from datar.report.metrics import read_all

    table = build_table(cfg, "table1", paper, read_all(paths), predictions=preds)
    md = to_markdown(table, collect_provenance(cfg, table, paper, measure=False))
    assert "Top-1 paper" not in md and "Δ |" not in md and "52.6" not in md and "71.5" not in md
    assert "Not comparable with the paper: table1 is on drums; the paper's Table 1 is about Kinetics-Sounds" in md
    assert "66.7 ± —" in md  # the reproduced number is still there
    csv_text = to_csv(table, collect_provenance(cfg, table, paper, measure=False))
    assert ",false," in csv_text.splitlines()[1] and "52.6" not in csv_text
    results = check_claims(cfg, paper, preds)
    by_id = {r.claim.id: r for r in results}
    t1 = by_id["table1_datar_vs_ast"]
    assert t1.verdict_text == "not comparable (table1 is on drums; the claim is about Kinetics-Sounds)"
    assert t1.delta is not None and t1.ci is not None  # DATAR vs AST on drums: still measured, paired
    assert by_id["table4_adaptor_vs_deform"].verdict == "not comparable"
    text = claims_markdown("Claims", results, [], resamples=100, seed=0, confidence=0.95)
    rows = [line for line in text.splitlines() if line.startswith("| Table ")]
    ours = [line for line in rows if line.startswith(("| Table 1:", "| Table 4:"))]
    assert len(ours) == 6 and all("**not comparable (table" in line for line in ours), ours
    assert all("**not run**" in line for line in rows if line not in ours)  # tables 2, 3: not in this config
    assert not [line for line in rows if "+18.9" in line or "+1.1 |" in line]  # no paper Δ beside drums
