""":func:`build_model`: a registered variant (:mod:`datar.variants`) as a torch module."""

from __future__ import annotations

from typing import Any

from torch import nn

from datar.variants import VARIANTS, VariantSpec, describe

from .ast import AST_SIZES, ASTClassifier
from .dat import DAT_SIZES, DATClassifier
from .heads import check_heads

SIZES: tuple[str, ...] = ("tiny", "T", "S", "B")

#: The DAT-family settings of the ``model:`` config section that :func:`build_model` takes
#: (config key = keyword), for :func:`model_options`.
DAT_OPTIONS: tuple[str, ...] = (
    "adaptor_kernel", "windows", "offset_range_factor", "offset_kernel", "kv_stride", "drop_path_rate",
)


def model_options(model_cfg: Any, variant: str) -> dict[str, Any]:
    """The :func:`build_model` keywords a ``model:`` config section sets for ``variant``.

    Args:
        model_cfg: a :class:`datar.config.ModelConfig` (anything with the attributes of
            :data:`DAT_OPTIONS`).
        variant: a key of :data:`VARIANTS`.

    Returns:
        ``{keyword: value}`` for the DAT family (lists as tuples), ``{}`` for AST.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: unknown {variant!r}; choose from {sorted(VARIANTS)}")
    if VARIANTS[variant].family != "dat":
        return {}
    out = {}
    for key in DAT_OPTIONS:
        value = getattr(model_cfg, key)
        out[key] = tuple(value) if isinstance(value, (list, tuple)) else value
    return out


def build_model(
    variant: str,
    *,
    size: str,
    heads: dict[str, int],
    num_mel_bins: int,
    target_length: int,
    adaptor_kernel: int | None = None,
    windows: tuple[int, int, int, int] | None = None,
    offset_range_factor: float | None = None,
    offset_kernel: tuple[int, int] | None = None,
    kv_stride: int | None = None,
    drop_path_rate: float | None = None,
) -> nn.Module:
    """Build a registered variant.

    Args:
        variant: a key of :data:`VARIANTS`.
        size: ``"tiny"``, ``"T"``, ``"S"`` or ``"B"``.
        heads: ``{head name: classes}``, e.g. ``{"label": 32}`` or ``{"verb": 97, "noun": 300}``.
        num_mel_bins: M of the (B, T, M) input.
        target_length: T of the (B, T, M) input.
        adaptor_kernel: DAT family: kernel of the adaptor's W (default 3).
        windows: DAT family: window per stage (default 8, 8, 8, 4).
        offset_range_factor: DAT family: f (default DAT's 2).
        offset_kernel: DAT family: offset-network kernels of stages 3, 4 (default DAT's 5, 3).
        kv_stride: DAT family: r (default DAT's 1).
        drop_path_rate: DAT family: stochastic depth (default: DAT's value for the size).

        The DAT-family keywords are the ``model:`` config keys of the same names
        (:func:`model_options`); None means the default. Setting one for ``ast`` is an error.

    Returns:
        A module whose ``forward(x: (B, T, M))`` returns ``{head: logits (B, n_classes)}``;
        it has an ``adaptor`` attribute (None unless the variant has one).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: unknown {variant!r}; choose from {sorted(VARIANTS)}")
    if size not in SIZES:
        raise ValueError(f"size: unknown {size!r}; choose from {list(SIZES)}")
    for name, value in (("num_mel_bins", num_mel_bins), ("target_length", target_length)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    heads = check_heads(heads)
    spec: VariantSpec = VARIANTS[variant]
    options = {"adaptor_kernel_size": adaptor_kernel, "windows": windows, "offset_range_factor": offset_range_factor,
               "offset_kernel": offset_kernel, "kv_stride": kv_stride, "drop_path_rate": drop_path_rate}
    given = {k: v for k, v in options.items() if v is not None}
    if spec.family == "ast":
        if given:
            names = sorted("adaptor_kernel" if k == "adaptor_kernel_size" else k for k in given)
            raise ValueError(f"{', '.join(names)}: DAT-family setting(s), not applicable to variant {variant!r}")
        return ASTClassifier(size=AST_SIZES[size], num_mel_bins=num_mel_bins, target_length=target_length, heads=heads)
    for key in ("windows", "offset_kernel"):
        if key in given:
            given[key] = tuple(int(v) for v in given[key])
    return DATClassifier(size=DAT_SIZES[size], num_mel_bins=num_mel_bins, target_length=target_length, heads=heads,
                         offsets=spec.offsets, input_transform=spec.input_transform, noise_scale=spec.noise_scale,
                         adaptor_lambda=spec.adaptor_lambda, **given)


__all__ = ["DAT_OPTIONS", "SIZES", "VARIANTS", "VariantSpec", "build_model", "describe", "model_options"]
