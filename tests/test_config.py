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


def test_unknown_key_is_one_line_with_did_you_mean():
    raw = copy.deepcopy(_raw())
    raw["train"]["batchsize"] = 3
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, origin="bad.yaml")
    assert str(info.value) == "train.batchsize: unknown key in bad.yaml; did you mean train.batch_size?"


@pytest.mark.parametrize(
    "mutate, line",
    [
        (lambda r: r["download"].update(retriez=3), "download.retriez: unknown key in bad.yaml; did you mean "
                                                    "download.retries?"),
        (lambda r: r["model"].update(size="b"), "model.size: 'b' is not one of tiny, T, S, B in bad.yaml; did you "
                                                "mean B?"),
        (lambda r: r["fbank"].update(num_mel_bins=3), "fbank.num_mel_bins: 3 is out of range in bad.yaml; use a "
                                                      "value >= 8"),
        (lambda r: r["train"].pop("lr"), "train.lr: required key missing in bad.yaml; add it (config/config.yaml "
                                         "has every key, with comments)"),
        (lambda r: r["tables"]["table1"].update(dataset="audioset"),
         "tables.table1.dataset: unknown dataset 'audioset' in bad.yaml; use one of the config's datasets: "
         "epic100, kinetics_sounds, vggsound"),
    ],
)
def test_config_errors_say_what_and_how_to_fix(mutate, line):
    raw = copy.deepcopy(_raw())
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, origin="bad.yaml")
    assert str(info.value) == line


def test_a_list_from_the_command_line_is_explained(tmp_path):
    """Snakemake's --config 'seeds=[0,1]' arrives as strings: the error says what to do instead."""
    from datar.schema import config_sources

    path = tmp_path / "demo.yaml"
    path.write_text((REPO / "config" / "demo.yaml").read_text())
    raw = {**_raw(), "seeds": ["0", "1"]}
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, origin=config_sources([path], {"seeds": ["0", "1"]}))
    first = str(info.value).splitlines()[0]
    assert first.startswith("seeds[0]: expected an integer, got '0' in --config; --config passes every value as a "
                            "string") and "another --configfile" in first
    raw = copy.deepcopy(_raw())
    raw["train"]["batchsize"] = 3
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"^train\.batchsize: unknown key in \S*demo\.yaml;"):
        config_from_mapping(raw, origin=config_sources([path], {}))


def _schema_node(node, schema):
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _dataclass_for(tp):
    import dataclasses
    import typing

    for t in (tp, *typing.get_args(tp)):
        if dataclasses.is_dataclass(t):
            return t
        for a in typing.get_args(t):
            if dataclasses.is_dataclass(a):
                return a
    return None


def _check_defaults(cls, node, schema, prefix, problems):
    import dataclasses
    import typing

    node = _schema_node(node, schema)
    props, required = node.get("properties", {}), set(node.get("required", []))
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "raw"}
    for name in sorted(set(props) | set(fields)):
        key = f"{prefix}{name}"
        if name not in fields or name not in props:
            problems.append(f"{key}: in {'the schema' if name in props else cls.__name__} only")
            continue
        f, sub = fields[name], _schema_node(props[name], schema)
        has = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if name in required or "default" not in props[name]:
            if has and name in required:
                problems.append(f"{key}: required by the schema, so the dataclass default can never be used")
            elif has and f.default is not None:
                problems.append(f"{key}: dataclass default {f.default!r} but the schema has none")
            elif not has and name not in required:
                problems.append(f"{key}: optional in the schema but the dataclass field has no default")
        elif not has:
            pass  # the schema's default is the only one: validation fills it in before the build
        else:
            want = props[name]["default"]
            got = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            sub_cls = _dataclass_for(hints[name])
            if sub_cls is not None and isinstance(want, dict):
                ok = got == config_from_mapping_part(sub_cls, want)
            else:
                ok = got == (tuple(want) if isinstance(want, list) else want)
            if not ok:
                problems.append(f"{key}: dataclass default {got!r} differs from the schema's {want!r}")
        sub_cls = _dataclass_for(hints[name])
        if sub_cls is not None and "properties" in sub:
            _check_defaults(sub_cls, sub, schema, f"{key}.", problems)
        elif sub_cls is not None and isinstance(sub.get("additionalProperties"), dict):
            _check_defaults(sub_cls, sub["additionalProperties"], schema, f"{key}.<name>.", problems)


def config_from_mapping_part(cls, raw):
    from datar.config import _build

    return _build(cls, raw, "")


def test_defaults_live_in_the_schema_and_the_dataclasses_agree():
    """Every key: the dataclass default equals the schema default; a required key has none (no dead default)."""
    from datar.config import Config
    from datar.schema import schema

    problems: list[str] = []
    _check_defaults(Config, schema(), schema(), "", problems)
    assert not problems, "\n".join(problems)


def test_loading_fills_in_the_schema_defaults():
    raw = copy.deepcopy(_raw())
    del raw["train"]["warmup_steps"], raw["manifest"], raw["download"]["workers"]
    cfg = config_from_mapping(raw)
    assert cfg.train.warmup_steps == 1000 and cfg.raw["train"]["warmup_steps"] == 1000
    assert cfg.raw["manifest"] == {"on_bad_row": "error", "val_fraction": 0.0}
    assert cfg.download.workers == 4 and cfg.raw["download"]["workers"] == 4
    # the resolved form round-trips to the same config and hash
    again = config_from_mapping(yaml.safe_load(yaml.safe_dump(dict(cfg.raw))))
    assert again == cfg and again.sha256 == cfg.sha256


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_each_format_checks_what_it_needs_of_the_config():
    """The format modules' own rules (datar.data.formats), run where the workflow loads."""
    from datar.data.formats import check_datasets

    raw = copy.deepcopy(_raw("config.yaml"))
    del raw["datasets"]["epic100"]["video_source"]
    with pytest.raises(ConfigError, match="datasets.epic100.video_source: required for format epic100"):
        check_datasets(config_from_mapping(raw))
    raw = copy.deepcopy(_raw("config.yaml"))
    raw["datasets"]["kinetics_sounds"].pop("classes")
    with pytest.raises(ConfigError, match="datasets.kinetics_sounds.classes: required for format kinetics400"):
        check_datasets(config_from_mapping(raw))
    raw = copy.deepcopy(_raw("config.yaml"))
    raw["datasets"]["epic100"]["heads"] = ["verb"]
    with pytest.raises(ConfigError, match=r"datasets.epic100.heads: format epic100 has heads \[verb, noun\]"):
        check_datasets(config_from_mapping(raw))


def test_the_schema_lists_exactly_the_registered_formats():
    from datar.data.formats import FORMATS
    from datar.schema import schema

    assert schema()["$defs"]["dataset"]["properties"]["format"]["enum"] == list(FORMATS)


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

    from datar.report.paper import paper_counts
    from datar.train.schedule import lr_at

    cfg = load_config(REPO / "config" / "config.yaml")
    for dataset, epochs in cfg.train.epochs.items():
        per_epoch = math.ceil(paper_counts(cfg, dataset)["train"] / cfg.train.batch_size)
        total = epochs * per_epoch
        rate = lr_at(cfg.train, total // 2, steps_per_epoch=per_epoch, total_steps=total)
        print(f"{dataset}: {epochs} epochs x {per_epoch} steps, lr at half = {rate / cfg.train.lr:.3f} x train.lr")
        assert rate >= 0.1 * cfg.train.lr, (dataset, rate)
