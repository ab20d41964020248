"""Training: end to end on synthetic shards, resume equality, SIGTERM, NaN loss, no-op rerun.

Everything runs the real model (tiny), real feature shards (written with the feature stage's
writer) and the real verbs, at 32 mel x 64 frames, 16 training clips, batch 8, 2 epochs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from datar.checkpoint import load_checkpoint
from datar.cli import evaluate as evaluate_cli
from datar.cli import train as train_cli
from datar.config import TrainConfig, load_config
from datar.errors import TrainingError
from datar.features.shards import read_shard, write_shard
from datar.features.version import write_data_version
from datar.train.faults import oom_guard
from datar.train.loop import RunSpec, train_run
from datar.train.progress import Progress
from datar.train.sampler import EpochSampler
from datar.train.schedule import lr_at
from datar.train.seeding import rng_state, set_rng_state
from synthetic_data import write_synthetic_dataset

REPO = Path(__file__).resolve().parent.parent
MEL, FRAMES = 32, 64
DATASET = "kinetics_sounds"


def write_config(root: Path, data_dir: Path, **train: object) -> Path:
    """The demo config pointed at ``data_dir``, shrunk to the test's input size."""
    raw = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    raw["data_dir"] = str(data_dir)
    raw["results_dir"] = str(root / "results")
    raw["fbank"].update(num_mel_bins=MEL, target_length=FRAMES, freq_mask=4, time_mask=8)
    raw["train"].update({"epochs": {k: 2 for k in raw["train"]["epochs"]}, "batch_size": 8, "warmup_steps": 2,
                         "num_workers": 0, **train})
    path = root / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("data")
    write_synthetic_dataset(d, DATASET, heads={"label": 2}, splits={"train": 16, "val": 4, "test": 8},
                            frames=FRAMES, mel=MEL, shard_size=8)
    return d


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, Path]:
    """An uninterrupted 2-epoch run through the CLI: (config path, run dir)."""
    root = tmp_path_factory.mktemp("straight")
    cfg = write_config(root, data_dir)
    out = root / "run"
    rc = train_cli.main(["--config", str(cfg), "--dataset", DATASET, "--variant", "datar", "--seed", "0",
                         "--out", str(out), "--device", "cpu", "--progress", "off"])
    assert rc == 0
    return cfg, out


def test_train_writes_every_file_and_evaluate_reads_it(straight):
    cfg, out = straight
    for name in ("checkpoint.pt", "checkpoint.pt.sha256", "last.ckpt", "last.ckpt.sha256", "log.csv",
                 "config.yaml", "env.json"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader(io.StringIO((out / "log.csv").read_text())))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert [r["step"] for r in rows] == ["2", "4"]
    assert set(rows[0]) == {"epoch", "step", "train_loss", "lr", "val_top1", "samples_per_s", "seconds",
                            "capped_at_step"}
    assert all(r["capped_at_step"] == "" for r in rows)  # not capped
    assert all(0.0 <= float(r["val_top1"]) <= 100.0 and float(r["samples_per_s"]) > 0 for r in rows)
    env = json.loads((out / "env.json").read_text())
    assert env["torch"] == torch.__version__ and "train" in env["argv"] and env["start_time"]
    assert load_config(out / "config.yaml").fbank.num_mel_bins == MEL
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert (ckpt["variant"], ckpt["size"], ckpt["heads"], ckpt["epoch"]) == ("datar", "tiny", {"label": 2}, 2)
    assert ckpt["pretrained"] is False
    last = load_checkpoint(out / "last.ckpt")
    # finished: the model and the log stay, the optimizer state goes (nothing resumes a finished run)
    assert last["finished"] and last["global_step"] == 4 and "optimizer" not in last and "rng" in last

    assert evaluate_cli.main(["--config", str(cfg), "--run", str(out), "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_clips"] == 8 and set(metrics["metrics"]) == {"top1", "top5"}
    assert metrics["capped_at_step"] is None
    assert metrics["metrics"]["top5"] == 100.0  # 2 classes: the true one is always in the top 5
    assert (metrics["dataset"], metrics["variant"], metrics["seed"], metrics["demo"]) == (DATASET, "datar", 0, True)
    preds = list(csv.DictReader(io.StringIO((out / "predictions.csv").read_text())))
    assert len(preds) == 8 and preds[0]["label_true"] in {"label_0", "label_1"}


def test_completed_run_rerun_is_a_noop(straight):
    cfg, out = straight
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    t0 = time.perf_counter()
    rc = train_cli.main(["--config", str(cfg), "--dataset", DATASET, "--variant", "datar", "--seed", "0",
                         "--out", str(out), "--device", "cpu", "--progress", "off"])
    assert rc == 0 and time.perf_counter() - t0 < 10
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert before == after


def test_resume_mid_epoch_and_at_boundary_matches_straight_run(straight, tmp_path):
    cfg_path, ref = straight
    cfg = load_config(cfg_path)
    spec = RunSpec(dataset=DATASET, variant="datar", seed=0, out=tmp_path / "run", device="cpu")
    first = train_run(cfg, spec, progress_mode="off", stop_after_steps=1)  # inside epoch 1
    assert first.status == "interrupted" and first.exit_code == 75 and first.step == 1
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    torch.manual_seed(1234)  # disturb every global RNG: the resume must restore them
    np.random.seed(99)
    random.seed(7)
    second = train_run(cfg, spec, progress_mode="off", stop_after_steps=2)  # at the end of epoch 1
    assert second.status == "interrupted" and second.step == 2
    third = train_run(cfg, spec, progress_mode="off")
    assert third.status == "completed" and third.step == 4
    a = load_checkpoint(ref / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["model"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the straight run"
    rows_a = list(csv.DictReader(io.StringIO((ref / "log.csv").read_text())))
    rows_b = list(csv.DictReader(io.StringIO((tmp_path / "run" / "log.csv").read_text())))
    assert [(r["train_loss"], r["val_top1"], r["lr"]) for r in rows_a] == \
        [(r["train_loss"], r["val_top1"], r["lr"]) for r in rows_b]


def test_sigterm_saves_exits_75_then_resume_completes(data_dir, tmp_path):
    cfg = write_config(tmp_path, data_dir)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "datar", "train", "--config", str(cfg), "--dataset", DATASET, "--variant", "ast",
           "--seed", "1", "--out", str(out), "--device", "cpu", "--progress", "lines"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # the handler is installed before this message is printed
        seen.append(line)
        if "training from scratch" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest, _ = proc.communicate(timeout=300)
    assert proc.returncode == 75, "".join(seen) + (rest or "")
    assert (out / "last.ckpt").is_file() and not (out / "checkpoint.pt").exists()
    state = load_checkpoint(out / "last.ckpt")
    assert not state["finished"] and state["global_step"] >= 1
    rc = train_cli.main(["--config", str(cfg), "--dataset", DATASET, "--variant", "ast", "--seed", "1",
                         "--out", str(out), "--device", "cpu", "--progress", "off"])
    assert rc == 0 and (out / "checkpoint.pt").is_file()
    assert [r["epoch"] for r in csv.DictReader(io.StringIO((out / "log.csv").read_text()))] == ["1", "2"]
    env = json.loads((out / "env.json").read_text())
    assert len(env["previous_invocations"]) == 1  # the interrupted start is kept


def test_nan_fbank_stops_with_step_and_clip_ids(tmp_path):
    data = tmp_path / "data"
    write_synthetic_dataset(data, DATASET, heads={"label": 2}, splits={"train": 8, "test": 4},
                            frames=FRAMES, mel=MEL, shard_size=8)
    shard = data / DATASET / "fbank" / "train-00000.safetensors"
    sd = read_shard(shard)
    fb = sd.fbank.clone()
    fb[3] = float("nan")  # one clip; stats.json stays as computed from clean data
    write_shard(shard, type(sd)(fbank=fb, labels=sd.labels, n_frames=sd.n_frames, clip_ids=sd.clip_ids,
                                dataset=sd.dataset, shard=sd.shard, fbank_config=sd.fbank_config))
    write_data_version(data, DATASET)  # what the workflow does after a feature job
    cfg = load_config(write_config(tmp_path, data))
    spec = RunSpec(dataset=DATASET, variant="ast", seed=0, out=tmp_path / "run", device="cpu")
    with pytest.raises(TrainingError, match=r"non-finite training loss .* epoch 1, step 1; .*") as err:
        train_run(cfg, spec, progress_mode="off")
    assert sd.clip_ids[3] in str(err.value)


def test_nan_in_a_later_step_is_named_at_the_next_loss_check(tmp_path):
    """Losses are read back every few steps / at epoch end, not per step; the first bad step is named."""
    data = tmp_path / "data"
    write_synthetic_dataset(data, DATASET, heads={"label": 2}, splits={"train": 16, "test": 4},
                            frames=FRAMES, mel=MEL, shard_size=16)
    cfg = load_config(write_config(tmp_path, data, batch_size=4))
    from datar.train.sampler import EpochSampler as _S

    third_batch = _S(16, seed=0, epoch=0).order()[8:12]  # the clips of step 3 in epoch 1
    shard = data / DATASET / "fbank" / "train-00000.safetensors"
    sd = read_shard(shard)
    fb = sd.fbank.clone()
    fb[third_batch[1]] = float("nan")
    write_shard(shard, type(sd)(fbank=fb, labels=sd.labels, n_frames=sd.n_frames, clip_ids=sd.clip_ids,
                                dataset=sd.dataset, shard=sd.shard, fbank_config=sd.fbank_config))
    write_data_version(data, DATASET)  # what the workflow does after a feature job
    spec = RunSpec(dataset=DATASET, variant="dat_deform", seed=0, out=tmp_path / "run", device="cpu")
    with pytest.raises(TrainingError, match=r"non-finite training loss .* epoch 1, step 3; ") as err:
        train_run(cfg, spec, progress_mode="off")
    assert sd.clip_ids[third_batch[1]] in str(err.value)
    assert not (tmp_path / "run" / "last.ckpt").exists()  # checked before any checkpoint


def test_loss_ledger_reads_back_in_one_go_and_names_the_first_bad_step():
    from datar.train.faults import LossLedger

    ledger = LossLedger(capacity=4, device=torch.device("cpu"), where="run")
    for step, value in enumerate([1.0, 2.0], start=1):
        ledger.add(torch.tensor(value), epoch=1, step=step, clip_ids=[f"c{step}"], n=2)
    assert ledger.flush() == (6.0, 2.0) and ledger.flush() == (0.0, None)
    for step, value in enumerate([1.0, float("inf"), float("nan"), 1.0], start=3):
        ledger.add(torch.tensor(value), epoch=2, step=step, clip_ids=[f"c{step}"], n=1)
    assert ledger.full
    with pytest.raises(TrainingError, match=r"run: non-finite training loss \(inf\) at epoch 2, step 4; batch clip ids: c4"):
        ledger.flush()


def test_max_steps_caps_the_run_but_keeps_the_full_schedule(data_dir, tmp_path):
    cfg = load_config(write_config(tmp_path, data_dir, max_steps=3, warmup_steps=0, schedule="cosine"))
    spec = RunSpec(dataset=DATASET, variant="ast", seed=0, out=tmp_path / "run", device="cpu")
    result = train_run(cfg, spec, progress_mode="off")
    assert result.status == "completed" and result.step == 3
    rows = list(csv.DictReader(io.StringIO((tmp_path / "run" / "log.csv").read_text())))
    assert [(r["epoch"], r["step"], r["capped_at_step"]) for r in rows] == [("1", "2", ""), ("2", "3", "3")]
    # The rate of step 3 is the uncapped 4-step run's, not a schedule squeezed into 3 steps.
    assert float(rows[-1]["lr"]) == pytest.approx(lr_at(cfg.train, 2, steps_per_epoch=2, total_steps=4))
    assert float(rows[-1]["lr"]) != pytest.approx(lr_at(cfg.train, 2, steps_per_epoch=2, total_steps=3))
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["capped_at_step"] == 3
    assert evaluate_cli.main(["--config", str(tmp_path / "cfg.yaml"), "--run", str(tmp_path / "run"),
                              "--device", "cpu"]) == 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["capped_at_step"] == 3
    # A rerun is a no-op; a cap at or above the run's length is no cap.
    assert train_run(cfg, spec, progress_mode="off").status == "already_complete"
    cfg8 = load_config(write_config(tmp_path, data_dir, max_steps=8))
    train_run(cfg8, RunSpec(dataset=DATASET, variant="ast", seed=0, out=tmp_path / "run8", device="cpu"),
              progress_mode="off")
    assert load_checkpoint(tmp_path / "run8" / "checkpoint.pt")["capped_at_step"] is None


def test_dataloader_workers_give_the_same_run_as_none(straight, tmp_path):
    """SpecAugment masks are seeded per (seed, epoch, clip): persistent workers change nothing."""
    cfg_path, ref = straight
    raw = yaml.safe_load(Path(cfg_path).read_text())
    cfg = load_config(write_config(tmp_path, Path(raw["data_dir"]), num_workers=2))
    out = tmp_path / "run"
    train_run(cfg, RunSpec(dataset=DATASET, variant="datar", seed=0, out=out, device="cpu"), progress_mode="off")
    a, b = load_checkpoint(ref / "checkpoint.pt")["model"], load_checkpoint(out / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # evaluate with workers: the same predictions as without
    from datar.train.evaluate import evaluate_run

    ours = evaluate_run(cfg, out, device="cpu")
    theirs = evaluate_run(load_config(cfg_path), ref, device="cpu")
    assert ours["metrics"] == theirs["metrics"] and (out / "predictions.csv").read_text() == (
        ref / "predictions.csv").read_text()


@pytest.mark.slow
def test_train_compile_trains_through_torch_compile(data_dir, tmp_path, monkeypatch):
    """train.compile: the training forward goes through torch.compile (here its "eager" backend:
    dynamo's graph capture without a C++ build, to stay fast); checkpoints hold the plain model."""
    real = torch.compile
    calls = []

    def compile_eager(model, **kw):
        calls.append(type(model).__name__)
        return real(model, backend="eager", **kw)

    monkeypatch.setattr(torch, "compile", compile_eager)
    cfg = load_config(write_config(tmp_path, data_dir, compile=True, max_steps=2))
    spec = RunSpec(dataset=DATASET, variant="dat_deform", seed=0, out=tmp_path / "run", device="cpu")
    assert train_run(cfg, spec, progress_mode="off").status == "completed"
    assert calls == ["DATClassifier"]
    keys = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["model"].keys()
    assert keys and not any(k.startswith("_orig_mod") for k in keys)
    torch._dynamo.reset()


def test_fused_adamw_on_cuda_only():
    from datar.train.loop import _make_optimizer

    cfg = load_config(REPO / "config" / "demo.yaml")
    model = torch.nn.Linear(2, 2)
    assert _make_optimizer(cfg, model, torch.device("cuda")).defaults["fused"] is True
    assert not _make_optimizer(cfg, model, torch.device("cpu")).defaults.get("fused")


def test_oom_names_the_setting_to_lower():
    with pytest.raises(TrainingError, match=r"lower train\.batch_size.*model\.size or fbank\.target_length"):
        with oom_guard(batch_size=12, size="B", target_length=1024, phase="epoch 1, step 3"):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    with pytest.raises(ValueError):
        with oom_guard(batch_size=12, size="B", target_length=1024, phase="x"):
            raise ValueError("not memory")


def _train_cfg(**kw: object) -> TrainConfig:
    base = dict(lr=1.0, batch_size=4, epochs={"d": 10}, warmup_steps=0, schedule="step", lr_decay=0.5,
                lr_decay_start_epoch=2, lr_decay_every=2)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_step_schedule_follows_ast_milestones_and_warmup():
    t = _train_cfg()
    # 10 steps per epoch; milestones after epochs 2, 4, 6 ...
    got = [lr_at(t, e * 10, steps_per_epoch=10, total_steps=100) for e in range(7)]
    assert got == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    w = _train_cfg(warmup_steps=4, schedule="constant")
    assert [lr_at(w, s, steps_per_epoch=10, total_steps=100) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    c = _train_cfg(schedule="cosine")
    assert lr_at(c, 0, steps_per_epoch=10, total_steps=100) == 1.0
    assert lr_at(c, 50, steps_per_epoch=10, total_steps=100) == pytest.approx(0.5)
    assert lr_at(c, 100, steps_per_epoch=10, total_steps=100) == pytest.approx(0.0)


def test_sampler_resume_and_ranks():
    full = EpochSampler(10, seed=3, epoch=1).order()
    assert sorted(full) == list(range(10)) and full != EpochSampler(10, seed=3, epoch=2).order()
    assert list(EpochSampler(10, seed=3, epoch=1, start=4)) == full[4:]
    shares = [EpochSampler(10, seed=3, epoch=1, rank=r, world_size=3).order() for r in range(3)]
    assert all(len(s) == 4 for s in shares) and set(sum(shares, [])) == set(range(10))


def test_rng_state_round_trips_through_weights_only_load(tmp_path):
    state = rng_state()
    expect = (torch.rand(3), np.random.rand(3), random.random())
    path = tmp_path / "rng.pt"
    torch.save(state, path)
    set_rng_state(torch.load(path, weights_only=True))
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expect[0], got[0]) and np.array_equal(expect[1], got[1]) and expect[2] == got[2]
    pickle.dumps(state)  # plain data


def test_progress_bar_on_tty_and_lines_in_logs():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    row = {"epoch": 1, "step": 2, "train_loss": 0.5, "lr": 1e-3, "val_top1": None, "samples_per_s": 10.0,
           "seconds": 1.0}
    tty = Tty()
    bar = Progress(4, stream=tty)
    bar.start(0)
    bar.update(4, 1, 2, 0.5)
    bar.epoch_end(row, 2, 4)
    bar.close()
    text = tty.getvalue()
    assert "\r" in text and "4/4" in text and "loss=0.5000" in text and "epoch 1/2 step 2 loss 0.5000" in text
    log = io.StringIO()
    plain = Progress(4, stream=log)
    plain.start(0)
    plain.update(2, 1, 2, 0.5)
    assert log.getvalue() == ""  # no bar, no carriage returns in a log file
    plain.epoch_end(row, 2, 2)
    plain.message("resuming")
    plain.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2 step 2") and lines[1] == "resuming"
    assert "\r" not in log.getvalue()


def test_complete_run_rewrites_missing_outputs_without_training(straight, tmp_path):
    """Snakemake deletes a job's outputs before rerunning it: a complete run writes them back."""
    import shutil

    cfg, ref = straight
    out = tmp_path / "run"
    shutil.copytree(ref, out)
    expect = (out / "log.csv").read_text()
    weights = load_checkpoint(out / "checkpoint.pt")["model"]
    for name in ("checkpoint.pt", "checkpoint.pt.sha256", "log.csv"):
        (out / name).unlink()
    result = train_run(load_config(cfg), RunSpec(dataset=DATASET, variant="datar", seed=0, out=out, device="cpu"),
                       progress_mode="off")
    assert result.status == "already_complete"
    assert (out / "log.csv").read_text() == expect
    again = load_checkpoint(out / "checkpoint.pt")
    assert all(torch.equal(again["model"][k], weights[k]) for k in weights)
    assert again["data_version"] == json.loads((Path(load_config(cfg).data_dir) / DATASET / "version.json")
                                               .read_text())["data_version"]


def test_other_data_version_moves_the_run_aside_and_starts_over(data_dir, tmp_path, capsys):
    """The data changed (another version.json): last.ckpt is not resumed, not deleted, and it says so."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    cfg = load_config(write_config(tmp_path, data, epochs={"kinetics_sounds": 1, "vggsound": 1, "epic100": 1}))
    spec = RunSpec(dataset=DATASET, variant="ast", seed=0, out=tmp_path / "run", device="cpu")
    assert train_run(cfg, spec, progress_mode="off").status == "completed"
    old = load_checkpoint(spec.out / "last.ckpt")["recipe"]["data_version"]
    write_synthetic_dataset(data, DATASET, heads={"label": 2}, splits={"train": 16, "val": 4, "test": 8},
                            frames=FRAMES, mel=MEL, shard_size=8, seed=1)  # new clips: a new data version
    new = write_data_version(data, DATASET)["data_version"]
    assert new != old
    capsys.readouterr()
    assert train_run(cfg, spec, progress_mode="lines").status == "completed"
    said = capsys.readouterr().err
    assert f"data version {old[:12]} (the data is now {new[:12]})" in said and "moved aside" in said
    stale = [p for p in spec.out.glob("last.ckpt.stale-*") if p.suffix != ".sha256"]
    assert len(stale) == 1 and load_checkpoint(stale[0])["recipe"]["data_version"] == old
    assert list(spec.out.glob("checkpoint.pt.stale-*"))
    assert load_checkpoint(spec.out / "checkpoint.pt")["data_version"] == new
    assert [r["epoch"] for r in csv.DictReader(io.StringIO((spec.out / "log.csv").read_text()))] == ["1"]


@pytest.mark.slow
def test_torchrun_two_cpu_processes_train_and_only_rank0_writes(data_dir, tmp_path):
    cfg = write_config(tmp_path, data_dir)
    out = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "datar", "train", "--config", str(cfg),
           "--dataset", DATASET, "--variant", "ast", "--seed", "0", "--out", str(out), "--device", "cpu",
           "--progress", "lines"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "env.json").read_text())["world_size"] == 2
    rows = list(csv.DictReader(io.StringIO((out / "log.csv").read_text())))
    assert [r["step"] for r in rows] == ["1", "2"]  # 16 clips / 2 ranks / batch 8
    assert proc.stderr.count("epoch 1/2 step 1") == 1  # rank 1 prints nothing
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        ["checkpoint.pt", "checkpoint.pt.sha256", "last.ckpt", "last.ckpt.sha256", "log.csv", "config.yaml",
         "env.json"])
