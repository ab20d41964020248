"""The experiment config: YAML, validated by the JSON schema, turned into frozen dataclasses.

``load_config(path)`` is the one way in. The schema (``workflow/schemas/config.schema.yaml``,
also used by the Snakefile's ``validate()``) checks types and ranges; the dataclass builder
then rejects any key it does not know, naming the full key path (``train.lr_sheduler``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from datar.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 16000
    clip_seconds: float = 10.0


@dataclass(frozen=True)
class FbankConfig:
    num_mel_bins: int = 128
    target_length: int = 1024
    frame_shift_ms: float = 10.0
    frame_length_ms: float = 25.0
    freq_mask: int = 48
    time_mask: int = 192


@dataclass(frozen=True)
class ManifestConfig:
    on_bad_row: Literal["error", "skip"] = "error"
    val_fraction: float = 0.0


@dataclass(frozen=True)
class DownloadConfig:
    shard_size: int = 300
    local: bool = True
    workers: int = 4
    retries: int = 3
    backoff_seconds: float = 2.0
    socket_timeout: float = 30.0
    rate_limit: int | None = None
    sleep_interval: float = 0.0
    cookies: str | None = None
    js_runtime: str | None = None
    allowed_schemes: tuple[str, ...] = ("youtube", "https", "http")


@dataclass(frozen=True)
class ValidateConfig:
    min_duration_fraction: float = 0.9
    silence_dbfs: float = -60.0


@dataclass(frozen=True)
class SourceConfig:
    split: Split | None = None
    url: str | None = None
    path: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class BrokenConfig:
    dead: int = 1
    corrupt: int = 1
    silent: int = 1
    short: int = 1


@dataclass(frozen=True)
class DemoCorpusConfig:
    seed: int
    classes: Mapping[str, int]
    train_clips: int
    test_clips: int
    broken: BrokenConfig = field(default_factory=BrokenConfig)


@dataclass(frozen=True)
class DatasetConfig:
    format: Literal["vggsound", "kinetics400", "epic100", "csv"]
    sources: tuple[SourceConfig, ...]
    classes: tuple[str, ...] | None = None
    heads: tuple[str, ...] = ("label",)
    video_source: str | None = None
    paper_counts: Mapping[str, int] = field(default_factory=dict)
    demo_corpus: DemoCorpusConfig | None = None


@dataclass(frozen=True)
class PretrainedConfig:
    dat: str | None = None
    ast: str | None = None


@dataclass(frozen=True)
class ModelConfig:
    size: Literal["tiny", "T", "S", "B"] = "B"
    adaptor_kernel: int = 3
    windows: tuple[int, ...] = (8, 8, 8, 4)
    offset_range_factor: float = 2.0
    offset_kernel: tuple[int, ...] = (5, 3)
    kv_stride: int = 1
    drop_path_rate: float | None = None
    pretrained: PretrainedConfig = field(default_factory=PretrainedConfig)


@dataclass(frozen=True)
class TrainConfig:
    lr: float
    batch_size: int
    epochs: Mapping[str, int]
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    weight_decay: float = 5e-7
    warmup_steps: int = 1000
    schedule: Literal["step", "cosine", "constant"] = "step"
    lr_decay: float = 0.5
    lr_decay_start_epoch: int = 5
    lr_decay_every: int = 1
    mixup: float = 0.0
    specaugment: bool = True
    grad_clip: float | None = None
    num_workers: int | Literal["auto"] = "auto"
    max_steps: int | None = None
    compile: bool = False


@dataclass(frozen=True)
class TableConfig:
    title: str
    dataset: str
    rows: tuple[str, ...]


@dataclass(frozen=True)
class Fig1Config:
    dataset: str
    variant: str
    clips: int = 3


@dataclass(frozen=True)
class FiguresConfig:
    fig1: Fig1Config | None = None


@dataclass(frozen=True)
class Config:
    name: str
    data_dir: str
    results_dir: str
    seeds: tuple[int, ...]
    audio: AudioConfig
    fbank: FbankConfig
    download: DownloadConfig
    validate: ValidateConfig
    datasets: Mapping[str, DatasetConfig]
    model: ModelConfig
    train: TrainConfig
    tables: Mapping[str, TableConfig]
    demo: bool = False
    manifest: ManifestConfig = field(default_factory=ManifestConfig)
    figures: FiguresConfig = field(default_factory=FiguresConfig)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def dataset(self, name: str) -> DatasetConfig:
        """Return the dataset config named ``name`` or raise a ConfigError naming it."""
        try:
            return self.datasets[name]
        except KeyError:
            raise ConfigError(
                f"datasets.{name}: no such dataset in config {self.name!r}; "
                f"known: {', '.join(sorted(self.datasets))}"
            ) from None

    def epochs_for(self, dataset: str) -> int:
        """Epochs for ``dataset`` (``train.epochs.<dataset>``)."""
        try:
            return self.train.epochs[dataset]
        except KeyError:
            raise ConfigError(f"train.epochs.{dataset}: missing epoch count for dataset {dataset!r}") from None

    @property
    def sha256(self) -> str:
        """Hash of the resolved config (canonical JSON), recorded in every output's provenance."""
        return config_sha256(self.raw)


def config_sha256(raw: Mapping[str, Any]) -> str:
    """SHA-256 of a config mapping's canonical JSON form."""
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- building


def _schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def validate_raw(raw: Any, *, origin: str = "config") -> None:
    """Validate a raw config mapping against the JSON schema; raise ConfigError naming the key."""
    import jsonschema

    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the config must be a mapping, got {type(raw).__name__}")
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = []
        for err in errors[:10]:
            key = ".".join(str(p) for p in err.absolute_path) or "<top level>"
            lines.append(f"{origin}: {key}: {err.message}")
        raise ConfigError("invalid config:\n  " + "\n  ".join(lines))


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _build(tp, value, key)
    if origin is typing.Union or origin is getattr(__import__("types"), "UnionType", None):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        for a in non_none:
            if dataclasses.is_dataclass(a):
                return _convert(a, value, key)
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return tuple(_convert(inner, v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) or tp is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(vt, v, f"{key}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _build(cls: type, raw: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "raw"}
    for k in raw:
        if k not in fields:
            where = f"{prefix}.{k}" if prefix else str(k)
            raise ConfigError(f"{where}: unknown config key (known here: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, f in fields.items():
        where = f"{prefix}.{name}" if prefix else name
        if name in raw:
            kwargs[name] = _convert(hints[name], raw[name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            raise ConfigError(f"{where}: required config key is missing")
    return cls(**kwargs)


def _check_references(cfg: Config, origin: str) -> None:
    for tname, table in cfg.tables.items():
        if table.dataset not in cfg.datasets:
            raise ConfigError(f"{origin}: tables.{tname}.dataset: unknown dataset {table.dataset!r}")
        if table.dataset not in cfg.train.epochs:
            raise ConfigError(f"{origin}: train.epochs.{table.dataset}: missing (needed by tables.{tname})")
    if cfg.figures.fig1 is not None and cfg.figures.fig1.dataset not in cfg.datasets:
        raise ConfigError(f"{origin}: figures.fig1.dataset: unknown dataset {cfg.figures.fig1.dataset!r}")
    for dname, ds in cfg.datasets.items():
        if ds.format == "epic100" and not ds.video_source:
            raise ConfigError(f"{origin}: datasets.{dname}.video_source: required for format epic100")
        if ds.format == "kinetics400" and not ds.classes:
            raise ConfigError(f"{origin}: datasets.{dname}.classes: required for format kinetics400 (the Kinetics-Sounds list)")
        if ds.format == "epic100" and tuple(ds.heads) != ("verb", "noun"):
            raise ConfigError(f"{origin}: datasets.{dname}.heads: format epic100 has heads [verb, noun]")
        if ds.demo_corpus is not None and set(ds.demo_corpus.classes) != set(ds.heads):
            raise ConfigError(
                f"{origin}: datasets.{dname}.demo_corpus.classes: keys {sorted(ds.demo_corpus.classes)} "
                f"must equal the dataset's heads {list(ds.heads)}"
            )


def config_from_mapping(raw: Mapping[str, Any], *, origin: str = "config") -> Config:
    """Validate ``raw`` and build the frozen Config; errors name ``origin`` and the key."""
    raw = json.loads(json.dumps(raw, default=str))  # plain, detached copy
    validate_raw(raw, origin=origin)
    cfg = _build(Config, raw, "")
    cfg = dataclasses.replace(cfg, raw=raw)
    _check_references(cfg, origin)
    from datar.train.schedule import check_schedule  # here: schedule.py imports this module

    check_schedule(cfg.train, cfg.train.epochs, origin=origin)
    return cfg


def load_config(path: str | os.PathLike[str]) -> Config:
    """Load, validate and build the config at ``path``."""
    from datar.io import read_yaml

    raw = read_yaml(path, what="config file", error=ConfigError)
    return config_from_mapping(raw, origin=str(Path(path)))


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML (the form written beside every run)."""
    return yaml.safe_dump(dict(cfg.raw), sort_keys=True)
