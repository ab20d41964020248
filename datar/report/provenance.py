"""Provenance printed under every table: code, config, data, clips, weights and compute.

Everything here is read or measured when the table is rendered (nothing is cached in git):
the commits and config hashes recorded in the runs' metrics files, the data version of the
runs against ``{data_dir}/{D}/version.json``, the clips available per split against the
paper's counts, pretrained vs from scratch, and the MACs and parameters of each model at
the config's input size (measured with :func:`datar.models.macs.count_macs`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

from datar.config import Config
from datar.gitinfo import CodeState, code_state, git_commit
from datar.errors import DataError
from datar.report.availability import read_availability
from datar.report.metrics import RunMetrics
from datar.report.paper import PaperNumbers, paper_counts
from datar.report.tables import Table, row_label
from datar.runs import availability_file, classes_json, version_json

_VERSION_KEYS = ("data_version", "version", "sha256", "digest", "hash")


@dataclass(frozen=True)
class Provenance:
    """Provenance of one table.

    Attributes:
        items: ``(label, text)`` lines, in print order.
        warnings: problems a reader must see (printed first, loudly).
    """

    items: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _uniq(values: Sequence[str | None]) -> list[str]:
    return sorted({v for v in values if v})


def current_commit() -> str:
    """The commit of the code rendering the table (``unknown`` outside a git checkout)."""
    return git_commit() or "unknown"


def run_code(run: RunMetrics) -> CodeState:
    """The code a run was trained with (``metrics.json`` ``code.train``; the bare commit of older files)."""
    code = run.extra.get("code")
    state = CodeState.from_dict(code.get("train")) if isinstance(code, dict) else None
    return state or CodeState(commit=run.git_commit)


def code_provenance(runs: Sequence[RunMetrics], *, what: str = "table") -> tuple[str, list[str]]:
    """The ``code`` provenance line of a table (or the claims) and its warnings.

    Names every distinct training code state (commit, uncommitted changes and their diff
    hash) with the runs made with it, the train code fingerprints, and the code rendering
    now. Warns when rows come from different commits, diffs or fingerprints, and when any run
    was trained with uncommitted changes.
    """
    states: dict[str, list[RunMetrics]] = {}
    prints: dict[str, list[RunMetrics]] = {}
    for r in runs:
        st = run_code(r)
        key = st.label() if st.commit else "not recorded"
        states.setdefault(key, []).append(r)
        if st.fingerprint:
            prints.setdefault(st.fingerprint, []).append(r)
    now = code_state()
    parts = [f"{k} ({len(v)} run{'s' if len(v) != 1 else ''})" for k, v in sorted(states.items())]
    text = f"runs trained at {'; '.join(parts) or 'no runs'}"
    if prints:
        text += f"; train code fingerprint {', '.join(sorted(prints))}"
    text += f"; {what} rendered at {now.label()}"
    warnings: list[str] = []
    if len(states) > 1:
        detail = "; ".join(f"{k}: {', '.join(f'{r.variant} seed {r.seed}' for r in v)}" for k, v in sorted(states.items()))
        warnings.append(f"rows come from different code: {detail}")
    elif len(prints) > 1:
        detail = "; ".join(f"{k}: {', '.join(f'{r.variant} seed {r.seed}' for r in v)}" for k, v in sorted(prints.items()))
        warnings.append(f"rows come from different code fingerprints: {detail}")
    dirty = [r for r in runs if run_code(r).dirty]
    if dirty:
        warnings.append(f"{len(dirty)} run(s) were trained with uncommitted changes "
                        f"({', '.join(sorted({run_code(r).label() for r in dirty}))}): their commit alone does not "
                        "reproduce them")
    return text, warnings


def weights_provenance(row_runs: Sequence[RunMetrics]) -> tuple[str, list[str]]:
    """What a row's runs started from: the weights file (name, sha256, load summary) or scratch."""
    records = {}
    for r in row_runs:
        w = r.extra.get("weights")
        key = (f"{w.get('name')} (sha256 {str(w.get('sha256'))[:12]}; {w.get('summary')})" if isinstance(w, dict)
               else "pretrained (file not recorded)" if r.pretrained
               else "trained from scratch (no pretrained weights)" if r.pretrained is False else "not recorded")
        records.setdefault(key, []).append(r.seed)
    if len(records) == 1:
        return next(iter(records)), []
    text = "MIXED: " + "; ".join(f"seeds {', '.join(map(str, s))}: {k}" for k, s in records.items())
    return text, ["runs of one row started from different weights: " + text]


def read_version_file(path: Path) -> str | None:
    """The version string in a ``version.json`` (None if the file is absent).

    Raises:
        DataError: the file is not JSON or holds no version key.
    """
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON: {exc}") from None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        for key in _VERSION_KEYS:
            if isinstance(raw.get(key), str):
                return raw[key]
    raise DataError(f"{path}: no version key (one of {', '.join(_VERSION_KEYS)})")


def known_head_sizes(cfg: Config, dataset: str) -> dict[str, int | None]:
    """Classes per head from ``classes.json`` or the config's class list; None where unknown."""
    sizes, src = head_sizes(cfg, dataset)
    if src.startswith("unknown"):
        return {h: None for h in sizes}
    return dict(sizes)


def head_sizes(cfg: Config, dataset: str) -> tuple[dict[str, int], str]:
    """Classes per head for ``dataset`` and where the numbers come from.

    ``{data_dir}/{D}/classes.json`` if present, else the config's class list, else the
    paper's counts (EPIC-100 verbs / nouns), else 1 per head.
    """
    ds = cfg.dataset(dataset)
    path = Path(classes_json(cfg.data_dir, dataset))
    if path.is_file():
        try:
            heads = json.loads(path.read_text(encoding="utf-8"))["heads"]
            return {h: len(heads[h]) for h in ds.heads}, str(path)
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    if ds.classes and tuple(ds.heads) == ("label",):
        return {"label": len(ds.classes)}, f"config datasets.{dataset}.classes"
    return {h: 1 for h in ds.heads}, "unknown (classes.json absent): 1 class per head, parameters exclude the head"


def measure_model(cfg: Config, variant: str, size: str, heads: Mapping[str, int]) -> dict:
    """Parameters and MACs of ``variant`` at size ``size``, built with the config's ``model:``
    options, at batch 1 x ``fbank.target_length`` x ``fbank.num_mel_bins`` (cached per process)."""
    from datar.models import model_options

    options = tuple(sorted(model_options(cfg.model, variant).items()))
    return _measure(variant, size, tuple(sorted(heads.items())), cfg.fbank.num_mel_bins,
                    cfg.fbank.target_length, options)


@functools.lru_cache(maxsize=32)
def _measure(variant: str, size: str, heads: tuple[tuple[str, int], ...], mel: int, frames: int,
             options: tuple[tuple[str, Any], ...]) -> dict:
    import torch

    from datar.models import build_model
    from datar.models.macs import count_macs

    # on the meta device: shapes only, no weights initialised and no arithmetic done; the
    # counts are the CPU forward pass's exactly (tests/test_macs.py), in a fraction of its time
    with torch.device("meta"):
        model = build_model(variant, size=size, heads=dict(heads), num_mel_bins=mel, target_length=frames,
                            **dict(options))
    return count_macs(model, (1, frames, mel))


def _fmt_count(n: int) -> str:
    return f"{n:,}"


def collect_provenance(cfg: Config, table: Table, paper: PaperNumbers, *, measure: bool = True) -> Provenance:
    """Gather the provenance lines of ``table``.

    Args:
        cfg: the config the table is rendered with.
        table: the assembled table (its rows carry the runs).
        paper: the paper's numbers (for GMACs and counts beside ours).
        measure: count MACs and parameters (False prints that they were not measured).

    Returns:
        The provenance; warnings name the files that disagree.
    """
    runs: list[RunMetrics] = [r for row in table.rows for r in row.runs]
    items: list[tuple[str, str]] = []
    warnings: list[str] = []
    ds = cfg.dataset(table.dataset)

    # code
    text, code_warnings = code_provenance(runs)
    items.append(("code", text))
    warnings.extend(code_warnings)

    # config
    hashes = _uniq([r.config_sha256 for r in runs])
    items.append(("config sha256", f"runs: {', '.join(hashes) or 'not recorded'}; table config: {cfg.sha256}"))
    if len(hashes) > 1:
        by_hash = {h: [r.path for r in runs if r.config_sha256 == h] for h in hashes}
        detail = "; ".join(f"{h[:12]}: {', '.join(p)}" for h, p in by_hash.items())
        warnings.append(f"runs disagree on the config sha256 ({detail})")

    # data version
    versions = _uniq([r.data_version for r in runs])
    vpath = Path(version_json(cfg.data_dir, table.dataset))
    try:
        current = read_version_file(vpath)
    except DataError as exc:
        current = None
        warnings.append(str(exc))
    items.append(("data version", f"runs: {', '.join(versions) or 'not recorded'}; "
                                  f"{vpath}: {current or 'absent'}"))
    if len(versions) > 1:
        warnings.append(f"DATA VERSION MISMATCH: runs used {len(versions)} different data versions: {', '.join(versions)}")
    if current is not None and versions and any(v != current for v in versions):
        stale = [r.path for r in runs if r.data_version and r.data_version != current]
        warnings.append(
            f"DATA VERSION MISMATCH: {vpath} says {current}, but {len(stale)} run(s) used other data "
            f"({', '.join(stale)}): rerun them or restore that data version"
        )

    # clips available
    apath = Path(availability_file(cfg.results_dir, table.dataset, "csv"))
    try:
        avail = read_availability(apath)
    except DataError as exc:
        avail = None
        warnings.append(str(exc))
    counts = {k: v for k, v in paper_counts(cfg, table.dataset, paper).items() if k in ("train", "val", "test")}
    splits = sorted(set(counts) | set(avail.available if avail else {}))
    parts = []
    for split in splits:
        paper_n = counts.get(split)
        ours = avail.available.get(split) if avail else None
        listed = avail.listed.get(split) if avail else None
        text = f"{split}: {_fmt_count(ours) if ours is not None else 'unknown'} usable"
        if listed is not None:
            text += f" of {_fmt_count(listed)} listed"
        got = avail.downloaded.get(split) if avail else None
        if got is not None:
            text += f", {_fmt_count(got)} downloaded"
        held = avail.blocked.get(split) if avail else None
        if held:
            text += f", {_fmt_count(held)} blocked by YouTube (not known yet)"
        text += f" (paper: {_fmt_count(paper_n) if paper_n is not None else '—'})"
        parts.append(text)
    src = str(apath) if avail else f"{apath} absent"
    items.append(("clips available", f"{'; '.join(parts) or 'unknown'} [{src}]"))
    evaluated = _uniq([str(r.n_clips) for r in runs if r.n_clips is not None])
    if evaluated:
        items.append(("test clips evaluated", ", ".join(evaluated)))

    # weights
    for row in table.rows:
        if row.kind != "run" or not row.runs:
            continue
        text, weight_warnings = weights_provenance(row.runs)
        warnings.extend(f"{row.label}: {w}" for w in weight_warnings)
        items.append((f"weights, {row.label}", text))

    # compute
    mel, frames = cfg.fbank.num_mel_bins, cfg.fbank.target_length
    heads, head_src = head_sizes(cfg, table.dataset)
    convention = None
    for row in table.rows:
        if row.kind != "run":
            continue
        sizes = _uniq([r.size for r in row.runs]) or [cfg.model.size]
        for size in sizes:
            if not measure:
                items.append((f"compute, {row.label}", "not measured"))
                continue
            m = measure_model(cfg, row.key, size, heads)
            convention = m["convention"]
            text = (f"size {size}, input 1 x {frames} frames x {mel} mel: {m['params'] / 1e6:.2f} M parameters, "
                    f"{m['conv_linear'] / 1e9:.2f} GMACs conv+linear, {m['total'] / 1e9:.2f} GMACs with attention products")
            if row.key in paper.compute_gmacs:
                text += f" (paper: {paper.compute_gmacs[row.key]:.1f} GMACs on VGGSound at 1024 x 128)"
            items.append((f"compute, {row_label(row.key)}", text))
    if convention:
        items.append(("counting convention", f"{convention}; classes per head: "
                      f"{', '.join(f'{h}={n}' for h, n in heads.items())} ({head_src}). "
                      "The paper does not state its convention for its GMACs figures."))

    # classes (Kinetics-Sounds)
    if ds.classes:
        items.append((f"{table.dataset} classes ({len(ds.classes)}, config)", ", ".join(ds.classes)))

    seeds = tuple(table.configured_seeds)
    items.append(("seeds configured", ", ".join(map(str, seeds))))
    if table.demo and not cfg.demo:
        warnings.append("some metrics files are from the synthetic DEMO while the config is not the demo")
    return Provenance(items=tuple(items), warnings=tuple(warnings))
