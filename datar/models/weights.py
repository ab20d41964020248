"""Pretrained weights from local state dicts (nothing is downloaded).

:func:`load_pretrained` is a pure function of the model and a state dict (no file
access): it recognises the source layout, renames and adapts tensors, loads what fits and
returns a :class:`LoadReport` naming every key that was adapted, skipped, left out or not
understood. Supported layouts:

- ``dat``: the official DAT repository (``patch_proj.0.weight``,
  ``stages.{i}.attns.{j}.proj_qkv.weight``, ``...conv_offset.0.weight``, ``...rpe_table``,
  ``down_projs.{i}.0.weight``, ``cls_norm.norm.weight``, ``cls_head.weight``) for the DAT
  family. The RGB stem is summed to one channel; window bias tables
  ``(2w-1)^2 x heads`` and deformable ``rpe_table`` (heads, 2H-1, 2W-1) are interpolated
  (bicubic) to this model's windows and feature maps; offset kernels of another size are
  zero-padded / centre-cropped; the offset network's LayerNorm (``conv_offset.1.norm``)
  and 1x1 conv (``conv_offset.3``) land in ``offset_net.norm`` / ``offset_net.pointwise``.
  Skipped: derived buffers (``relative_position_index``, ``attn_mask``), the ImageNet head
  (unless the model has one head of the same shape) and, for a variant with offsets fixed
  at 0, the offset network.
- ``deit`` (timm ViT/DeiT keys: ``patch_embed.proj.weight``, ``blocks.{i}.attn.qkv.weight``,
  ``pos_embed``, ``cls_token``, ``dist_token``), also with AST's ``module.v.`` prefix and
  ``module.mlp_head.{0,1}`` head, and ``hf_ast`` (``transformers`` AST keys, old
  ``encoder.layer.{i}.attention.attention.query`` or new ``layers.{i}.attention.q_proj``
  naming) for the AST baseline. The RGB patch kernel is summed to one channel; position
  embeddings are resized as AST does (centre-crop an axis that shrinks, bilinear
  interpolation for one that grows).

State dicts wrapped as ``{"model": ...}`` / ``{"state_dict": ...}`` and ``module.`` prefixes
are unwrapped. DAT++ checkpoints (``dat_pp_*``, the files the DAT README serves now: another
architecture) are recognised and refused, naming the CVPR 2022 file to use instead.

:func:`load_weights_file` is the one place a weights file is read: it checks the file's
SHA-256 against ``model.pretrained.<family>.sha256``, loads it with :func:`load_pretrained`,
and refuses a checkpoint that leaves any backbone parameter uninitialised
(:func:`uninitialised_backbone`); it returns the :class:`WeightsRecord` that runs, metrics
and tables carry.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from datar.io import sha256_file

from .ast import ASTClassifier
from .dat import DATClassifier

SourceFormat = Literal["dat", "deit", "hf_ast"]

#: The CVPR 2022 DAT ImageNet-1k files, by model size (``model.size``), linked from the DAT
#: repository's ``CVPR2022`` tag; the README of its default branch lists only DAT++ files.
DAT_FILES: dict[str, str] = {"T": "dat_tiny_in1k_224.pth", "tiny": "dat_tiny_in1k_224.pth",
                             "S": "dat_small_in1k_224.pth", "B": "dat_base_in1k_224.pth"}

#: Model parameters that no ImageNet checkpoint holds: the task heads and the input adaptor.
NOT_BACKBONE = ("heads.", "adaptor.")


class WrongGeneration(ValueError):
    """A DAT++ checkpoint offered to this (CVPR 2022) DAT model."""


@dataclass
class LoadReport:
    """What :func:`load_pretrained` did.

    Attributes:
        source_format: the recognised layout.
        loaded: model keys filled from the source (copied or adapted).
        adapted: model key -> how its tensor was adapted (subset of ``loaded``).
        missing: model keys the source did not provide (they keep their initialisation).
        skipped: source key -> why it was deliberately not used.
        unexpected: source keys with no counterpart in this model.
        mismatched: model key -> "source shape vs model shape" when no adaptation applied.
    """

    source_format: str
    loaded: list[str] = field(default_factory=list)
    adapted: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    mismatched: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for logs."""
        return (
            f"pretrained ({self.source_format}): {len(self.loaded)} loaded ({len(self.adapted)} adapted), "
            f"{len(self.missing)} missing, {len(self.skipped)} skipped, {len(self.unexpected)} unexpected, "
            f"{len(self.mismatched)} mismatched"
        )


def _unwrap(state_dict: dict) -> dict[str, torch.Tensor]:
    if not isinstance(state_dict, dict):
        raise ValueError(f"state_dict: expected a dict of tensors, got {type(state_dict).__name__}")
    for key in ("model", "state_dict"):  # training checkpoints: {"model": ..., "optimizer": ..., ...}
        inner = state_dict.get(key)
        if isinstance(inner, dict) and any(isinstance(v, torch.Tensor) for v in inner.values()):
            state_dict = inner
            break
    out = {}
    for k, v in state_dict.items():
        if not isinstance(v, torch.Tensor):
            continue
        out[k[len("module."):] if k.startswith("module.") else k] = v
    if not out:
        raise ValueError("state_dict: contains no tensors")
    return out


def detect_format(state_dict: dict[str, torch.Tensor]) -> SourceFormat:
    """Recognise the layout of an (unwrapped) state dict."""
    keys = set(state_dict)
    if is_dat_pp(keys):
        raise WrongGeneration("state_dict: a DAT++ checkpoint (dat_pp_*: overlapping convolutional stem, DWC-MLP, "
                              "neighbourhood attention; another architecture), not the DAT (CVPR 2022) this model "
                              "implements")
    if "patch_proj.0.weight" in keys or any(k.startswith("stages.") and ".attns." in k for k in keys):
        return "dat"
    if any(k.startswith(("encoder.layer.", "audio_spectrogram_transformer.", "layers.")) for k in keys) or (
        "embeddings.patch_embeddings.projection.weight" in keys
    ):
        return "hf_ast"
    if any(k.startswith(("blocks.", "v.blocks.")) for k in keys) or "patch_embed.proj.weight" in keys:
        return "deit"
    raise ValueError("state_dict: layout not recognised (expected official DAT, timm DeiT or transformers AST keys)")


def is_dat_pp(keys: set[str] | dict) -> bool:
    """Whether the keys are DAT++'s (two-conv stem ``patch_proj.3``, ``mlps.*.dwc``, ``attns.*.rpb``)."""
    keys = set(keys)
    return "patch_proj.3.weight" in keys or any(
        re.fullmatch(r"stages\.\d\.(mlps\.\d+\.dwc|attns\.\d+\.rpb)(\.weight|\.bias)?", k) for k in keys)


# ----------------------------------------------------------------------------- adapters
def _sum_rgb(w: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, str]:
    if w.shape[1] == target.shape[1]:
        return w, ""
    if target.shape[1] == 1:
        return w.sum(dim=1, keepdim=True), f"summed {w.shape[1]} input channels to 1"
    raise ValueError


def _resize_2d(t: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """(C, h, w) -> (C, H, W) by interpolation."""
    kw = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    return F.interpolate(t.unsqueeze(0).float(), size=size, mode=mode, **kw).squeeze(0).to(t.dtype)


def _fit_kernel(w: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Zero-pad or centre-crop the spatial dims of a conv kernel (keeps the function for padding)."""
    out = w
    for dim, n in ((2, size[0]), (3, size[1])):
        cur = out.shape[dim]
        if cur < n:
            pad = [0, 0, 0, 0]
            lo = (n - cur) // 2
            pad[(3 - dim) * 2: (3 - dim) * 2 + 2] = [lo, n - cur - lo]
            out = F.pad(out, pad)
        elif cur > n:
            lo = (cur - n) // 2
            out = out.narrow(dim, lo, n)
    return out


def _resize_pos_grid(grid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """AST's rule per axis: centre-crop an axis that shrinks, bilinear for one that grows. grid (D, f0, t0)."""
    d, f0, t0 = grid.shape
    f, t = size
    if t <= t0:
        lo = (t0 - t) // 2
        grid = grid[:, :, lo: lo + t]
    else:
        grid = _resize_2d(grid, (f0, t), "bilinear")
    if f <= f0:
        lo = (f0 - f) // 2
        grid = grid[:, lo: lo + f, :]
    else:
        grid = _resize_2d(grid, (f, t), "bilinear")
    return grid


# ----------------------------------------------------------------------------- DAT
_DAT_RULES: list[tuple[str, str]] = [
    (r"patch_proj\.0\.(weight|bias)", r"stem.proj.\1"),
    (r"patch_proj\.1\.norm\.(weight|bias)", r"stem.norm.\1"),
    (r"down_projs\.(\d)\.0\.(weight|bias)", r"downsamples.\1.proj.\2"),
    (r"down_projs\.(\d)\.1\.norm\.(weight|bias)", r"downsamples.\1.norm.\2"),
    (r"cls_norm\.norm\.(weight|bias)", r"norm.\1"),
    (r"stages\.(\d)\.mlps\.(\d+)\.(?:chunk\.)?linear1\.(weight|bias)", r"stages.\1.blocks.\2.mlp.fc1.\3"),
    (r"stages\.(\d)\.mlps\.(\d+)\.(?:chunk\.)?linear2\.(weight|bias)", r"stages.\1.blocks.\2.mlp.fc2.\3"),
    (r"stages\.(\d)\.attns\.(\d+)\.proj_qkv\.(weight|bias)", r"stages.\1.blocks.\2.attn.qkv.\3"),
    (r"stages\.(\d)\.attns\.(\d+)\.proj_out\.(weight|bias)", r"stages.\1.blocks.\2.attn.proj.\3"),
    (r"stages\.(\d)\.attns\.(\d+)\.proj_([qkv])\.(weight|bias)", r"stages.\1.blocks.\2.attn.\3.\4"),
    (r"stages\.(\d)\.attns\.(\d+)\.relative_position_bias_table", r"stages.\1.blocks.\2.attn.rel_pos_table"),
    (r"stages\.(\d)\.attns\.(\d+)\.rpe_table", r"stages.\1.blocks.\2.attn.rpe_table"),
    (r"stages\.(\d)\.attns\.(\d+)\.conv_offset\.0\.(weight|bias)", r"stages.\1.blocks.\2.attn.offset_net.dwconv.\3"),
    (r"stages\.(\d)\.attns\.(\d+)\.conv_offset\.1\.norm\.(weight|bias)", r"stages.\1.blocks.\2.attn.offset_net.norm.\3"),
    (r"stages\.(\d)\.attns\.(\d+)\.conv_offset\.3\.weight", r"stages.\1.blocks.\2.attn.offset_net.pointwise.weight"),
]
_DAT_SKIP: list[tuple[str, str]] = [
    (r".*relative_position_index$", "derived buffer (recomputed)"),
    (r".*attn_mask$", "derived buffer (recomputed)"),
    (r"cls_head\.(weight|bias)$", "source classifier (class count or number of heads differs)"),
]


def _layernorm_heads_single(model: nn.Module) -> list[str]:
    return list(model.heads.heads.keys())


def _single_head_target(model: nn.Module, key: str, value: torch.Tensor, part: str) -> str | None:
    """Target key of a source classifier tensor if the model has one head of the same shape."""
    heads = _layernorm_heads_single(model)
    if len(heads) != 1:
        return None
    target = f"heads.heads.{heads[0]}.{part}.{key.split('.')[-1]}"
    sd = model.state_dict()
    return target if target in sd and sd[target].shape == value.shape else None


def _dat_pairs(model: DATClassifier, sd: dict[str, torch.Tensor], report: LoadReport):
    fixed = not any(k.endswith(".offset_net.dwconv.weight") for k in model.state_dict())
    for key, value in sd.items():
        if fixed and ".conv_offset." in key:
            report.skipped[key] = "offset network: this variant holds the offsets at 0"
            continue
        if key.startswith("cls_head."):
            target = _single_head_target(model, key, value, "fc")
            if target is not None:
                yield key, target, value
                continue
        m = re.fullmatch(r"stages\.(\d)\.layer_norms\.(\d+)\.norm\.(weight|bias)", key)
        if m:
            d, which = divmod(int(m.group(2)), 2)
            yield key, f"stages.{m.group(1)}.blocks.{d}.norm{which + 1}.{m.group(3)}", value
            continue
        reason = next((r for pat, r in _DAT_SKIP if re.fullmatch(pat, key)), None)
        if reason is not None:
            report.skipped[key] = reason
            continue
        for pat, repl in _DAT_RULES:
            if re.fullmatch(pat, key):
                yield key, re.sub(pat, repl, key), value
                break
        else:
            report.unexpected.append(key)


def _adapt_dat(target_key: str, value: torch.Tensor, target: torch.Tensor, model: nn.Module) -> tuple[torch.Tensor, str]:
    if target_key == "stem.proj.weight":
        return _sum_rgb(value, target)
    if target_key.endswith("rel_pos_table"):
        heads, th, tw = target.shape
        n, h = value.shape if value.ndim == 2 else (None, None)
        if value.ndim != 2 or h != heads:
            raise ValueError
        if n == th * tw:  # same window: DAT's ((2wh-1)(2ww-1), heads) rows are (dy, dx) row-major
            return value.t().reshape(heads, th, tw), ""
        if int(math.isqrt(n)) ** 2 != n:
            raise ValueError
        side = math.isqrt(n)
        table = value.t().reshape(heads, side, side)
        return _resize_2d(table, (th, tw), "bicubic"), f"window bias table {side}x{side} -> {th}x{tw} (bicubic)"
    if target_key.endswith("rpe_table"):
        if value.ndim != 3 or value.shape[0] != target.shape[0]:
            raise ValueError
        return (_resize_2d(value, tuple(target.shape[1:]), "bicubic"),
                f"rpe table {tuple(value.shape[1:])} -> {tuple(target.shape[1:])} (bicubic)")
    if target_key.endswith("offset_net.dwconv.weight"):
        if value.shape[:2] != target.shape[:2]:
            raise ValueError
        return _fit_kernel(value, tuple(target.shape[2:])), f"offset kernel {tuple(value.shape[2:])} -> {tuple(target.shape[2:])}"
    if value.ndim == 4 and target.ndim == 2 and value.shape[2:] == (1, 1):
        out = value.flatten(1)
        if out.shape == target.shape:
            return out, ""
    raise ValueError


# ----------------------------------------------------------------------------- AST / DeiT
_HF_OLD = [
    (r"encoder\.layer\.(\d+)\.attention\.attention\.query\.(weight|bias)", r"layers.\1.attention.q_proj.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.attention\.key\.(weight|bias)", r"layers.\1.attention.k_proj.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.attention\.value\.(weight|bias)", r"layers.\1.attention.v_proj.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)", r"layers.\1.attention.o_proj.\2"),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)", r"layers.\1.mlp.fc1.\2"),
    (r"encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)", r"layers.\1.mlp.fc2.\2"),
    (r"encoder\.layer\.(\d+)\.(layernorm_before|layernorm_after)\.(weight|bias)", r"layers.\1.\2.\3"),
]
_DEIT = [
    (r"blocks\.(\d+)\.norm1\.(weight|bias)", r"layers.\1.layernorm_before.\2"),
    (r"blocks\.(\d+)\.norm2\.(weight|bias)", r"layers.\1.layernorm_after.\2"),
    (r"blocks\.(\d+)\.attn\.proj\.(weight|bias)", r"layers.\1.attention.o_proj.\2"),
    (r"blocks\.(\d+)\.mlp\.fc1\.(weight|bias)", r"layers.\1.mlp.fc1.\2"),
    (r"blocks\.(\d+)\.mlp\.fc2\.(weight|bias)", r"layers.\1.mlp.fc2.\2"),
    (r"norm\.(weight|bias)", r"layernorm.\1"),
    (r"patch_embed\.proj\.(weight|bias)", r"embeddings.patch_embeddings.projection.\1"),
    (r"cls_token", r"embeddings.cls_token"),
    (r"dist_token", r"embeddings.distillation_token"),
    (r"pos_embed", r"embeddings.position_embeddings"),
]
_PREFIX = "audio_spectrogram_transformer."


def _ast_pairs(model: ASTClassifier, sd: dict[str, torch.Tensor], fmt: SourceFormat, report: LoadReport):
    head_map = {
        "classifier.layernorm": "norm", "classifier.dense": "fc", "mlp_head.0": "norm", "mlp_head.1": "fc",
    }
    for key, value in sd.items():
        k = key
        if k.startswith("v."):
            k = k[2:]
        if k.startswith(_PREFIX):
            k = k[len(_PREFIX):]
        head_part = next((hp for hp in head_map if k.startswith(hp + ".")), None)
        if head_part is not None:
            target = _single_head_target(model, k, value, head_map[head_part])
            if target is not None:
                yield key, target, value
            else:
                report.skipped[key] = "source classifier (class count or number of heads differs)"
            continue
        if re.fullmatch(r"head(_dist)?\.(weight|bias)", k):
            report.skipped[key] = "ImageNet classifier (class count differs)"
            continue
        m = re.fullmatch(r"blocks\.(\d+)\.attn\.qkv\.(weight|bias)", k)
        if m:
            for part, name in zip(value.chunk(3, dim=0), ("q", "k", "v")):
                yield key, f"{_PREFIX}layers.{m.group(1)}.attention.{name}_proj.{m.group(2)}", part
            continue
        rules = _HF_OLD if fmt == "hf_ast" else _DEIT
        for pat, repl in rules:
            if re.fullmatch(pat, k):
                k = re.sub(pat, repl, k)
                break
        if k.startswith(("layers.", "layernorm.", "embeddings.")):
            yield key, _PREFIX + k, value
        else:
            report.unexpected.append(key)


def _adapt_ast(target_key: str, value: torch.Tensor, target: torch.Tensor, model: ASTClassifier,
               source_grid: tuple[int, int] | None) -> tuple[torch.Tensor, str]:
    if target_key.endswith("patch_embeddings.projection.weight"):
        return _sum_rgb(value, target)
    if target_key.endswith("position_embeddings"):
        f, t = model.grid
        n_src = value.shape[1]
        for extra in (2, 1):
            grid_n = n_src - extra
            if source_grid is not None and source_grid[0] * source_grid[1] == grid_n:
                f0, t0 = source_grid
            elif math.isqrt(grid_n) ** 2 == grid_n:
                f0 = t0 = math.isqrt(grid_n)
            else:
                continue
            tokens = value[:, :extra]
            if extra == 1:
                tokens = tokens.repeat(1, 2, 1)
            grid = value[0, extra:].t().reshape(-1, f0, t0)
            new = _resize_pos_grid(grid, (f, t)).reshape(value.shape[2], f * t).t().unsqueeze(0)
            return torch.cat([tokens, new], dim=1), f"position grid {f0}x{t0} -> {f}x{t} (AST crop/interpolate)" + (
                "; cls token copied to distillation token" if extra == 1 else "")
        raise ValueError
    raise ValueError


# ----------------------------------------------------------------------------- entry point
def load_pretrained(model: nn.Module, state_dict: dict, *, source_grid: tuple[int, int] | None = None) -> LoadReport:
    """Adapt ``state_dict`` to ``model`` and load it (non-strict); report every key.

    Args:
        model: a :class:`DATClassifier` (DAT checkpoints) or :class:`ASTClassifier`
            (DeiT / AST checkpoints).
        state_dict: the source tensors (already read from a local file by the caller).
        source_grid: (frequency, time) patch grid of an AST source whose position grid is
            not square (e.g. (12, 101) for an AudioSet AST); square grids are inferred.

    Returns:
        A :class:`LoadReport`. Parameters of ``model`` named in ``report.loaded`` are
        overwritten; nothing else changes.
    """
    sd = _unwrap(state_dict)
    fmt = detect_format(sd)
    report = LoadReport(source_format=fmt)
    if isinstance(model, DATClassifier):
        if fmt != "dat":
            raise ValueError(f"state_dict: a {fmt} checkpoint cannot initialise a DAT model")
        pairs = _dat_pairs(model, sd, report)
        adapt = lambda k, v, t: _adapt_dat(k, v, t, model)  # noqa: E731
    elif isinstance(model, ASTClassifier):
        if fmt == "dat":
            raise ValueError("state_dict: a DAT checkpoint cannot initialise the AST baseline")
        pairs = _ast_pairs(model, sd, fmt, report)
        adapt = lambda k, v, t: _adapt_ast(k, v, t, model, source_grid)  # noqa: E731
    else:
        raise ValueError(f"model: expected a DATClassifier or ASTClassifier, got {type(model).__name__}")

    target_sd = model.state_dict()
    new: dict[str, torch.Tensor] = {}
    for src_key, tgt_key, value in pairs:
        if tgt_key not in target_sd:
            report.unexpected.append(src_key)
            continue
        target = target_sd[tgt_key]
        if value.shape != target.shape or tgt_key.endswith(("stem.proj.weight", "projection.weight")):
            try:
                value, how = adapt(tgt_key, value, target)
            except ValueError:
                report.mismatched[tgt_key] = f"source {src_key} {tuple(value.shape)} vs model {tuple(target.shape)}"
                continue
            if value.shape != target.shape:
                report.mismatched[tgt_key] = f"source {src_key} {tuple(value.shape)} vs model {tuple(target.shape)}"
                continue
            if how:
                report.adapted[tgt_key] = how
        new[tgt_key] = value.to(dtype=target.dtype)
    model.load_state_dict(new, strict=False)
    report.loaded = sorted(new)
    report.missing = sorted(k for k in target_sd if k not in new)
    return report


# ----------------------------------------------------------------------------- files
@dataclass(frozen=True)
class WeightsRecord:
    """The pretrained weights a run started from (``metrics.json`` ``weights``, table provenance).

    Attributes:
        key: the config key (``model.pretrained.dat``).
        name: the file's name.
        sha256: the file's SHA-256.
        source_format: the recognised layout.
        summary: :meth:`LoadReport.summary`.
        not_loaded: model keys left at their initialisation (heads and adaptor only).
    """

    key: str
    name: str
    sha256: str
    source_format: str
    summary: str
    not_loaded: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"key": self.key, "name": self.name, "sha256": self.sha256, "source_format": self.source_format,
                "summary": self.summary, "not_loaded": list(self.not_loaded)}

    def label(self) -> str:
        """``name (sha256 <12 hex>)``."""
        return f"{self.name} (sha256 {self.sha256[:12]})"


def read_state_dict(path: str | os.PathLike[str]) -> dict:
    """Read a state dict from a ``.pth`` / ``.pt`` (``torch.load``, weights only) or ``.safetensors`` file."""
    p = Path(path)
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p))
    return torch.load(p, map_location="cpu", weights_only=True)


def uninitialised_backbone(report: LoadReport) -> list[str]:
    """Model keys outside the heads and the adaptor that the checkpoint did not fill."""
    left = set(report.missing) | set(report.mismatched)
    return sorted(k for k in left if not k.startswith(NOT_BACKBONE))


def _refusal(key: str, p: Path, report: LoadReport, left: list[str]) -> str:
    shown = ", ".join(left[:4]) + (f", ... ({len(left)} in all)" if len(left) > 4 else "")
    extra = f"; {len(report.unexpected)} of its keys fit no parameter (e.g. {report.unexpected[0]})" \
        if report.unexpected else ""
    return (f"{key}: {p} leaves {len(left)} backbone parameter(s) of this model uninitialised ({shown}){extra}; "
            f"{report.summary()}. A partly random backbone is not the paper's model: use a checkpoint of the "
            "same architecture and size")


def load_weights_file(model: nn.Module, path: str | os.PathLike[str], *, key: str, sha256: str | None = None,
                      size: str | None = None, source_grid: tuple[int, int] | None = None) -> WeightsRecord:
    """Read, check and load a pretrained weights file into ``model``.

    Args:
        model: the model to initialise.
        path: the local weights file.
        key: the config key named in errors (``model.pretrained.dat``).
        sha256: the expected SHA-256 (``model.pretrained.<family>.sha256``), or None.
        size: the model size (``model.size``), to name the right DAT file in errors.
        source_grid: passed to :func:`load_pretrained`.

    Returns:
        What was loaded, for the run's records.

    Raises:
        ConfigError: the file is missing, unreadable, of another hash, of another generation
            (DAT++) or family, or leaves backbone parameters uninitialised.
    """
    from datar.errors import ConfigError

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{key}: pretrained weights file {p} not found")
    digest = sha256_file(p)
    if sha256 is not None and digest != sha256.lower():
        raise ConfigError(f"{key}: {p} has sha256 {digest} but the config pins {sha256.lower()}; "
                          "point the key at the pinned file, or pin this file's hash")
    try:
        sd: Any = read_state_dict(p)
    except Exception as exc:  # noqa: BLE001 - any read failure is a bad file
        raise ConfigError(f"{key}: cannot read pretrained weights {p}: {exc}") from None
    if not isinstance(sd, dict):
        raise ConfigError(f"{key}: {p} does not hold a state dict")
    try:
        report = load_pretrained(model, sd, source_grid=source_grid)
    except WrongGeneration as exc:
        want = DAT_FILES.get(size or "", "dat_{tiny,small,base}_in1k_224.pth")
        raise ConfigError(f"{key}: {p} is {str(exc).removeprefix('state_dict: ')}; use {want} (the CVPR 2022 "
                          "weights, linked from the README of the DAT repository's CVPR2022 tag)") from None
    except ValueError as exc:
        raise ConfigError(f"{key}: {p}: {exc}") from None
    left = uninitialised_backbone(report)
    if left:
        raise ConfigError(_refusal(key, p, report, left))
    return WeightsRecord(key=key, name=p.name, sha256=digest, source_format=report.source_format,
                         summary=report.summary(), not_loaded=tuple(report.missing))
