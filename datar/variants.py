"""The model variants: names used in configs and tables, and what each means (torch-free).

The Snakefile and the report import this module without torch; :func:`datar.models.build_model`
builds every variant named here. Each paper value (the adaptor's lambda, the noise scale) is
written once, in :data:`VARIANTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal


@dataclass(frozen=True)
class VariantSpec:
    """What a variant name means.

    Attributes:
        name: registry key.
        family: ``"ast"`` or ``"dat"``.
        description: one line for tables.
        offsets: deformable offsets ``"learned"`` or ``"fixed"`` at 0 (dat only).
        input_transform: ``"none"``, ``"gaussian"``, ``"laplace"`` or ``"adaptor"`` (dat only).
        noise_scale: sigma / b of the input noise (noise variants only).
        adaptor_lambda: lambda of the adaptor (adaptor variants only).
    """

    name: str
    family: Literal["ast", "dat"]
    description: str
    offsets: Literal["learned", "fixed"] = "learned"
    input_transform: Literal["none", "gaussian", "laplace", "adaptor"] = "none"
    noise_scale: float | None = None
    adaptor_lambda: float | None = None


_SPECS = (
    VariantSpec(name="ast", family="ast", description="AST baseline (ViT, 16x16 patches, stride 10)"),
    VariantSpec(name="dat_fixed", family="dat", offsets="fixed", description="without deformable (offsets fixed at 0)"),
    VariantSpec(name="dat_deform", family="dat", description="with deformable"),
    VariantSpec(name="dat_deform_gauss", family="dat", input_transform="gaussian", noise_scale=0.005,
                description="deformable + N(0, 0.005) input noise"),
    VariantSpec(name="dat_deform_laplace", family="dat", input_transform="laplace", noise_scale=0.005,
                description="deformable + Laplace(0, 0.005) input noise"),
    VariantSpec(name="datar_l0.2", family="dat", input_transform="adaptor", adaptor_lambda=0.2,
                description="deformable + adaptor, lambda = 0.2"),
    VariantSpec(name="datar", family="dat", input_transform="adaptor", adaptor_lambda=0.005,
                description="DATAR: deformable + adaptor, lambda = 0.005"),
)

VARIANTS: MappingProxyType[str, VariantSpec] = MappingProxyType({s.name: s for s in _SPECS})

#: The variant names in table order.
MODEL_VARIANTS: tuple[str, ...] = tuple(VARIANTS)


def describe(variant: str) -> str:
    """One-line human description of a variant, for tables."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: unknown {variant!r}; choose from {sorted(VARIANTS)}")
    return VARIANTS[variant].description
