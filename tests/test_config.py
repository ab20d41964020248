"""The config: both shipped configs load; unknown, mistyped or dangling keys are named."""

from __future__ import annotations

import copy

import pytest
import yaml

from datar.config import config_from_mapping, load_config
from datar.errors import ConfigError

from conftest import REPO


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_shipped_configs_load(name):
    cfg = load_config(REPO / "config" / name)
    assert set(cfg.datasets) == {"kinetics_sounds", "vggsound", "epic100"}
    assert cfg.datasets["epic100"].heads == ("verb", "noun")
    assert set(cfg.tables) == {"table1", "table2", "table3", "table4"}
    assert len(cfg.sha256) == 64


def test_paper_config_states_the_paper_recipe():
    cfg = load_config(REPO / "config" / "config.yaml")
    assert cfg.train.lr == pytest.approx(1e-5)
    assert cfg.train.optimizer == "adamw"
    assert dict(cfg.train.epochs) == {"kinetics_sounds": 300, "epic100": 100, "vggsound": 50}
    assert (cfg.fbank.num_mel_bins, cfg.fbank.target_length) == (128, 1024)
    assert cfg.model.size == "B"
    assert len(cfg.datasets["kinetics_sounds"].classes) == 32


def _raw(name="demo.yaml"):
    return yaml.safe_load((REPO / "config" / name).read_text())


def test_configs_are_frozen():
    cfg = load_config(REPO / "config" / "demo.yaml")
    with pytest.raises(Exception):
        cfg.train.lr = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda r: r["train"].update(lr_sheduler="cosine"), "train"),
        (lambda r: r.update(seedz=[1]), "seedz"),
        (lambda r: r["train"].update(lr="fast"), "train.lr"),
        (lambda r: r["fbank"].update(num_mel_bins=3), "fbank.num_mel_bins"),
        (lambda r: r["datasets"]["vggsound"].update(format="mp3"), "datasets.vggsound.format"),
        (lambda r: r["tables"]["table1"].update(dataset="audioset"), "tables.table1.dataset"),
        (lambda r: r["train"]["epochs"].pop("vggsound"), "train.epochs.vggsound"),
        (lambda r: r["model"].update(size="XL"), "model.size"),
        (lambda r: r["model"].update(offset_kernel=[5, 4]), "model.offset_kernel"),
        (lambda r: r["model"].update(windows=[8, 8, 8]), "model.windows"),
        (lambda r: r["model"].update(offset_range_factor=0), "model.offset_range_factor"),
        (lambda r: r["model"].update(kv_stride=0), "model.kv_stride"),
        (lambda r: r["model"].update(drop_path_rate=1.0), "model.drop_path_rate"),
    ],
)
def test_bad_keys_are_named(mutate, needle):
    raw = copy.deepcopy(_raw())
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, origin="my.yaml")
    assert needle in str(info.value)
    assert "my.yaml" in str(info.value)


def test_unknown_key_message_names_full_path():
    raw = copy.deepcopy(_raw())
    raw["download"]["retriez"] = 3
    with pytest.raises(ConfigError, match=r"download: Additional properties are not allowed \('retriez'"):
        config_from_mapping(raw)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_epic_needs_video_source():
    raw = copy.deepcopy(_raw("config.yaml"))
    del raw["datasets"]["epic100"]["video_source"]
    with pytest.raises(ConfigError, match="datasets.epic100.video_source"):
        config_from_mapping(raw)


def test_model_settings_default_to_dats_values_and_reach_build_model():
    from datar.models import build_model, model_options

    cfg = load_config(REPO / "config" / "config.yaml")
    opts = model_options(cfg.model, "datar")
    assert opts == {"adaptor_kernel": 3, "windows": (8, 8, 8, 4), "offset_range_factor": 2.0,
                    "offset_kernel": (5, 3), "kv_stride": 1, "drop_path_rate": None}
    assert model_options(cfg.model, "ast") == {}
    raw = _raw()
    del raw["model"]["adaptor_kernel"]
    assert load_config_from(raw).model == load_config(REPO / "config" / "demo.yaml").model  # schema defaults
    raw["model"].update(offset_kernel=[3, 3], windows=[4, 4, 4, 2])
    model = build_model("dat_deform", size="tiny", heads={"label": 2}, num_mel_bins=64, target_length=256,
                        **model_options(load_config_from(raw).model, "dat_deform"))
    assert model.stages[2].blocks[1].attn.offset_net.dwconv.kernel_size == (3, 3)
    assert model.stages[0].window == (4, 4)


def load_config_from(raw):
    return config_from_mapping(raw, origin="test.yaml")


def test_a_schedule_that_collapses_before_half_the_run_is_an_error():
    raw = _raw("config.yaml")
    raw["train"].update(schedule="step", lr_decay=0.5, lr_decay_start_epoch=5, lr_decay_every=1)
    with pytest.raises(ConfigError, match=r"train\.schedule.*train\.lr_decay.*kinetics_sounds's 300 epochs"):
        config_from_mapping(raw, origin="config.yaml")
    # Step decay spaced over the run passes: 0.5 x after epochs 100, 200 (0.5 at the midpoint).
    raw["train"].update(lr_decay_start_epoch=100, lr_decay_every=100)
    raw["train"]["epochs"] = {"kinetics_sounds": 300, "vggsound": 300, "epic100": 300}
    config_from_mapping(raw, origin="config.yaml")
    # Halving after every epoch: 4 epochs hold one decay before their midpoint (fine), 30 hold 14.
    raw["train"].update(lr_decay_start_epoch=1, lr_decay_every=1)
    raw["train"]["epochs"]["epic100"] = 4
    raw["train"]["epochs"]["kinetics_sounds"] = raw["train"]["epochs"]["vggsound"] = 4
    config_from_mapping(raw, origin="config.yaml")  # 4 epochs: one decay before the midpoint
    raw["train"]["epochs"]["vggsound"] = 30
    with pytest.raises(ConfigError, match=r"vggsound's 30 epochs \(train\.epochs\.vggsound\)"):
        config_from_mapping(raw, origin="config.yaml")


def test_paper_config_rate_at_half_of_each_run_is_at_least_a_tenth_of_lr():
    """With the paper's dataset sizes and batch, the rate halfway through every run >= 10% of lr."""
    import math

    from datar.train.schedule import lr_at

    cfg = load_config(REPO / "config" / "config.yaml")
    for dataset, epochs in cfg.train.epochs.items():
        per_epoch = math.ceil(cfg.datasets[dataset].paper_counts["train"] / cfg.train.batch_size)
        total = epochs * per_epoch
        rate = lr_at(cfg.train, total // 2, steps_per_epoch=per_epoch, total_steps=total)
        print(f"{dataset}: {epochs} epochs x {per_epoch} steps, lr at half = {rate / cfg.train.lr:.3f} x train.lr")
        assert rate >= 0.1 * cfg.train.lr, (dataset, rate)
