"""The experiment config: YAML, validated by the JSON schema, turned into frozen dataclasses.

``load_config(path)`` is the one way in (the workflow uses ``config_from_mapping`` on what
Snakemake merged). The schema (``workflow/schemas/config.schema.yaml``, :mod:`datar.schema`)
checks types and ranges, names unknown keys with a did-you-mean, and is the one place the
defaults live: validation fills them into the raw mapping, so ``cfg.raw``, ``cfg.sha256`` and
the resolved config state every value a run used.

Adding a key: a property with its ``default`` in the schema (no default if it is required),
and a field here with the same default (none if required). ``tests/test_config.py`` checks
that the two agree, key by key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from datar.errors import ConfigError
from datar.schema import SCHEMA_PATH, Origin, validate
from datar.train.schedule import check_schedule

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int
    clip_seconds: float


@dataclass(frozen=True)
class FbankConfig:
    num_mel_bins: int
    target_length: int
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
    shard_size: int
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
    max_consecutive_blocked: int = 5


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
    mirrors: tuple[str, ...] = ()


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
class RehearsalCorpusConfig:
    """``datasets.D.rehearsal_corpus``: generate the local media files of the rehearsal.

    Attributes:
        seed: synthesis seed (same seed, same bytes).
        missing: clip ids left out of the local copy (recorded unavailable, not fatal).
    """

    seed: int
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocalSourceConfig:
    """``datasets.D.local_source``: the copy of the clips a reviewer already holds.

    ``template``: one template or a list tried in order (several places, e.g. CVDF's
    ``replacement/`` before ``train/``); with ``archives`` it names a member's file name.
    """

    template: str | tuple[str, ...]
    contains: Literal["clip", "video"] = "clip"
    fallback: Literal["youtube", "none"] = "youtube"
    archives: tuple[str, ...] = ()

    @property
    def templates(self) -> tuple[str, ...]:
        """The templates, in the order they are tried."""
        return (self.template,) if isinstance(self.template, str) else tuple(self.template)


LOCAL_SOURCE_FIELDS: tuple[str, ...] = ("youtube_id", "start", "end", "clip_id")


@dataclass(frozen=True)
class AudioSourceConfig:
    """``datasets.D.audio_source``: the audio of every source video in one HDF5 file (EPIC-100).

    ``key`` names a video's dataset in the file (``{video_id}``, ``{participant_id}``);
    ``sample_rate`` is the rate of the stored waveforms.
    """

    hdf5: str
    sample_rate: int
    key: str = "{video_id}"


@dataclass(frozen=True)
class DatasetConfig:
    format: str  # one of datar.data.formats.FORMATS (the schema's enum; a test ties them)
    sources: tuple[SourceConfig, ...]
    classes: tuple[str, ...] | None = None
    heads: tuple[str, ...] = ("label",)
    video_source: str | None = None
    local_source: LocalSourceConfig | None = None
    paper_dataset: str | None = "auto"
    restrict_to: str | None = None
    audio_source: "AudioSourceConfig | None" = None
    demo_corpus: DemoCorpusConfig | None = None
    rehearsal_corpus: RehearsalCorpusConfig | None = None


@dataclass(frozen=True)
class WeightsConfig:
    """``model.pretrained.<family>``: a local weights file, optionally pinned by its SHA-256."""

    path: str
    sha256: str | None = None


@dataclass(frozen=True)
class PretrainedConfig:
    dat: WeightsConfig | None = None
    ast: WeightsConfig | None = None

    def of(self, family: str) -> WeightsConfig | None:
        """The weights of a model family (``dat`` for every DAT variant, ``ast``)."""
        return self.ast if family == "ast" else self.dat


@dataclass(frozen=True)
class ModelConfig:
    size: Literal["tiny", "T", "S", "B"]
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
class ReportConfig:
    """``report:``: the statistics of the tables and claims (defaults: the schema's, filled in)."""

    bootstrap_resamples: int
    bootstrap_seed: int
    confidence: float


RunKind = Literal["paper", "demo", "rehearsal"]


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
    report: ReportConfig  # no dataclass defaults: the schema's fill report: {} in
    demo: bool = False
    kind: RunKind | None = None
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
    def run_kind(self) -> RunKind:
        """``kind`` if set, else ``demo`` when ``demo: true``, else ``paper``."""
        if self.kind is not None:
            return self.kind
        return "demo" if self.demo else "paper"

    @property
    def sha256(self) -> str:
        """Hash of the resolved config (canonical JSON), recorded in every output's provenance."""
        return config_sha256(self.raw)


def config_sha256(raw: Mapping[str, Any]) -> str:
    """SHA-256 of a config mapping's canonical JSON form."""
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- building


def validate_raw(raw: Any, *, origin: Origin = "config") -> None:
    """Validate a raw config mapping against the schema, filling in defaults (:func:`datar.schema.validate`)."""
    validate(raw, origin=origin)


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
            raise ConfigError(f"{where}: the schema knows this key but {cls.__name__} has no field for it "
                              "(add the field to datar/config.py)")
    kwargs = {}
    for name, f in fields.items():
        where = f"{prefix}.{name}" if prefix else name
        if name in raw:
            kwargs[name] = _convert(hints[name], raw[name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            raise ConfigError(f"{where}: required config key is missing")
    return cls(**kwargs)


def _check_references(cfg: Config, origin: Origin) -> None:
    def fail(path: tuple[str, ...], what: str) -> ConfigError:
        where = origin(path) if callable(origin) else origin
        return ConfigError(f"{'.'.join(path)}: {what.replace('{where}', where)}")

    if cfg.demo and cfg.kind not in (None, "demo"):
        raise fail(("kind",), f"{cfg.kind!r} contradicts demo: true in {{where}}; drop demo, or set kind: demo")
    datasets = ", ".join(sorted(cfg.datasets))
    for tname, table in cfg.tables.items():
        if table.dataset not in cfg.datasets:
            raise fail(("tables", tname, "dataset"), f"unknown dataset {table.dataset!r} in {{where}}; "
                                                     f"use one of the config's datasets: {datasets}")
        if table.dataset not in cfg.train.epochs:
            raise fail(("train", "epochs", table.dataset), f"missing in {{where}} (tables.{tname} needs it); "
                                                           "add the number of epochs for this dataset")
    fig1 = cfg.figures.fig1
    if fig1 is not None and fig1.dataset not in cfg.datasets:
        raise fail(("figures", "fig1", "dataset"), f"unknown dataset {fig1.dataset!r} in {{where}}; "
                                                   f"use one of: {datasets}")
    for dname, ds in cfg.datasets.items():
        key = ("datasets", dname)
        for i, src in enumerate(ds.sources):
            if src.mirrors and src.path is not None:
                raise fail((*key, "sources", str(i), "mirrors"), "only a url source has mirrors (in {where}); "
                                                                  "drop them, or give url: instead of path:")
        if ds.local_source is not None:
            for template in ds.local_source.templates:
                problem = _local_template_problem(template)
                if problem:
                    raise fail((*key, "local_source", "template"), problem + " (in {where})")
        if ds.demo_corpus is not None and set(ds.demo_corpus.classes) != set(ds.heads):
            raise fail((*key, "demo_corpus", "classes"),
                       f"keys {sorted(ds.demo_corpus.classes)} in {{where}} must equal the dataset's heads "
                       f"{list(ds.heads)}")


def _local_template_problem(template: str) -> str | None:
    """What is wrong with a local-source template, or None.

    A template names only the known fields and is a file URL or a path (a relative path is
    taken from the workflow's working directory, as ``video_source`` is).
    """
    import string

    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        return f"{template!r} is not a format string ({exc}); fix its braces"
    unknown = sorted(n for n in names if n.split(".")[0].split("[")[0] not in LOCAL_SOURCE_FIELDS)
    if unknown or "" in names:
        return (f"unknown field(s) {', '.join(repr(n) for n in unknown) or '{}'} in {template!r}; "
                f"use only {', '.join('{' + f + '}' for f in LOCAL_SOURCE_FIELDS)}")
    if "://" in template and not template.startswith("file:///"):
        return f"{template!r} must be a file URL (file:///...) or a path"
    return None


def config_from_mapping(raw: Mapping[str, Any], *, origin: Origin = "config") -> Config:
    """Validate ``raw`` (filling in schema defaults) and build the frozen Config.

    Args:
        raw: the config mapping (not modified).
        origin: the file it came from, or a function naming the file (or ``--config``)
            that set a key (:func:`datar.schema.config_sources`).

    Raises:
        ConfigError: one line per problem, naming key, file and fix.
    """
    raw = json.loads(json.dumps(raw, default=str))  # plain, detached copy
    validate_raw(raw, origin=origin)
    _normalise_weights(raw)
    cfg = _build(Config, raw, "")
    cfg = dataclasses.replace(cfg, raw=raw)
    _check_references(cfg, origin)
    check_schedule(cfg.train, cfg.train.epochs, origin=origin(("train", "schedule")) if callable(origin) else origin)
    return cfg


def _normalise_weights(raw: dict[str, Any]) -> None:
    """``model.pretrained.<family>: PATH`` -> ``{path: PATH, sha256: null}`` (one form in the resolved config)."""
    pretrained = raw.get("model", {}).get("pretrained") or {}
    for family, value in list(pretrained.items()):
        if isinstance(value, str):
            pretrained[family] = {"path": value, "sha256": None}
        elif isinstance(value, dict):
            value.setdefault("sha256", None)
            if value["sha256"]:
                value["sha256"] = value["sha256"].lower()


RESOLVED_DIR = ".datar"
_RESOLVED_NAME = re.compile(r"^config-([0-9a-f]{16})\.yaml$")


def load_config(path: str | os.PathLike[str]) -> Config:
    """Load, validate and build the config at ``path``.

    A resolved config (``.datar/config-<hash>.yaml``, :func:`write_resolved_config`) must
    still hash to its name: a file changed after the workflow wrote it is an error.
    """
    from datar.io import read_yaml

    raw = read_yaml(path, what="config file", error=ConfigError)
    cfg = config_from_mapping(raw, origin=str(Path(path)))
    m = _RESOLVED_NAME.match(Path(path).name)
    if m and cfg.sha256[:16] != m.group(1):
        raise ConfigError(f"{path}: this resolved config was changed after the workflow wrote it (it hashes to "
                          f"{cfg.sha256[:16]}); delete it and rerun snakemake, which writes it again")
    return cfg


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML (the form written beside every run)."""
    return yaml.safe_dump(dict(cfg.raw), sort_keys=True)


def write_resolved_config(cfg: Config, directory: str | os.PathLike[str] = RESOLVED_DIR) -> str:
    """Write ``cfg`` to ``{directory}/config-<first 16 hex of cfg.sha256>.yaml`` unless it is there.

    The name is the content's hash, so the file never changes once written: a workflow
    parsed with another config (``-n``, ``--lint``, ``--report``, another run) writes
    another file, and a job always reads the config of the run that planned it.

    Returns:
        The path (relative to the working directory when ``directory`` is).
    """
    from datar.io import write_text_atomic

    path = Path(directory) / f"config-{cfg.sha256[:16]}.yaml"
    text = dump_config(cfg)
    try:
        same = path.read_text(encoding="utf-8") == text
    except OSError:
        same = False
    if not same:
        write_text_atomic(path, text)
    return path.as_posix()
