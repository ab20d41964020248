"""Named model variants (the names used in configs and tables) and :func:`build_model`."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from torch import nn

from .ast import AST_SIZES, ASTClassifier
from .dat import DAT_SIZES, DATClassifier, resolve_size
from .heads import check_heads


@dataclass(frozen=True)
class VariantSpec:
    """What a variant name means.

    Attributes:
        name: registry key.
        family: ``"ast"`` or ``"dat"``.
        offsets: deformable offsets ``"learned"`` or ``"fixed"`` at 0 (dat only).
        input_transform: ``"none"``, ``"gaussian"``, ``"laplace"`` or ``"adaptor"`` (dat only).
        noise_scale: sigma / b of the input noise.
        adaptor_lambda: lambda of the adaptor.
        description: one line for tables.
    """

    name: str
    family: Literal["ast", "dat"]
    description: str
    offsets: Literal["learned", "fixed"] = "learned"
    input_transform: Literal["none", "gaussian", "laplace", "adaptor"] = "none"
    noise_scale: float = 0.005
    adaptor_lambda: float = 0.005


_SPECS = [
    VariantSpec(name="ast", family="ast", description="AST baseline (ViT, 16x16 patches, stride 10)"),
    VariantSpec(name="dat_fixed", family="dat", offsets="fixed", description="without deformable (offsets fixed at 0)"),
    VariantSpec(name="dat_deform", family="dat", description="with deformable"),
    VariantSpec(name="dat_deform_gauss", family="dat", input_transform="gaussian",
                description="deformable + N(0, 0.005) input noise"),
    VariantSpec(name="dat_deform_laplace", family="dat", input_transform="laplace",
                description="deformable + Laplace(0, 0.005) input noise"),
    VariantSpec(name="datar_l0.2", family="dat", input_transform="adaptor", adaptor_lambda=0.2,
                description="deformable + adaptor, lambda = 0.2"),
    VariantSpec(name="datar", family="dat", input_transform="adaptor", adaptor_lambda=0.005,
                description="DATAR: deformable + adaptor, lambda = 0.005"),
]

VARIANTS: MappingProxyType[str, VariantSpec] = MappingProxyType({s.name: s for s in _SPECS})
SIZES: tuple[str, ...] = ("tiny", "T", "S", "B")

_DAT_OVERRIDES = {
    "offset_scale", "offset_kernel_size", "kv_stride", "drop_path_rate", "adaptor_kernel_size",
    "adaptor_lambda", "noise_scale", "windows",
}
_AST_OVERRIDES = {"dropout", "attention", "patch_size", "stride"}


def describe(variant: str) -> str:
    """One-line human description of a variant, for tables."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: unknown {variant!r}; choose from {sorted(VARIANTS)}")
    return VARIANTS[variant].description


def build_model(
    variant: str,
    *,
    size: str,
    heads: dict[str, int],
    num_mel_bins: int,
    target_length: int,
    **overrides: Any,
) -> nn.Module:
    """Build a registered variant.

    Args:
        variant: a key of :data:`VARIANTS`.
        size: ``"tiny"``, ``"T"``, ``"S"`` or ``"B"``.
        heads: ``{head name: classes}``, e.g. ``{"label": 32}`` or ``{"verb": 97, "noun": 300}``.
        num_mel_bins: M of the (B, T, M) input.
        target_length: T of the (B, T, M) input.
        **overrides: dat: ``offset_scale``, ``offset_kernel_size``, ``kv_stride``,
            ``drop_path_rate``, ``adaptor_kernel_size``, ``adaptor_lambda``, ``noise_scale``,
            ``windows`` (4 ints); ast: ``dropout``, ``attention``, ``patch_size``, ``stride``.

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
    spec = VARIANTS[variant]
    allowed = _AST_OVERRIDES if spec.family == "ast" else _DAT_OVERRIDES
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"overrides: unknown key(s) {unknown} for variant {variant!r}; allowed: {sorted(allowed)}")
    if spec.family == "ast":
        return ASTClassifier(size=AST_SIZES[size], num_mel_bins=num_mel_bins, target_length=target_length,
                             heads=heads, **overrides)
    kwargs = dict(overrides)
    windows = kwargs.pop("windows", None)
    dat_size = resolve_size(size, windows=tuple(windows)) if windows is not None else DAT_SIZES[size]
    kwargs.setdefault("noise_scale", spec.noise_scale)
    kwargs.setdefault("adaptor_lambda", spec.adaptor_lambda)
    return DATClassifier(size=dat_size, num_mel_bins=num_mel_bins, target_length=target_length, heads=heads,
                         offsets=spec.offsets, input_transform=spec.input_transform, **kwargs)
