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
