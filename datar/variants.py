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
    """What a variant name means; its label and description are derived from the meaning.

    Attributes:
        name: registry key.
        family: ``"ast"`` or ``"dat"``.
        offsets: deformable offsets ``"learned"`` or ``"fixed"`` at 0 (dat only).
        input_transform: ``"none"``, ``"gaussian"``, ``"laplace"`` or ``"adaptor"`` (dat only).
        noise_scale: sigma / b of the input noise (noise variants only).
        adaptor_lambda: lambda of the adaptor (adaptor variants only).
        paper_name: the name the paper gives the model (``DATAR``, ``AST``), if any.
        architecture: what the model is, for descriptions (AST: its patching).
    """

    name: str
    family: Literal["ast", "dat"]
    offsets: Literal["learned", "fixed"] = "learned"
    input_transform: Literal["none", "gaussian", "laplace", "adaptor"] = "none"
    noise_scale: float | None = None
    adaptor_lambda: float | None = None
    paper_name: str | None = None
    architecture: str = ""

    @property
    def meaning(self) -> str:
        """The paper's wording of what differs: ``deformable + N(0, 0.005)``, ``without deformable``."""
        if self.family == "ast":
            return "AST"
        if self.offsets == "fixed":
            return "without deformable"
        if self.input_transform == "gaussian":
            return f"deformable + N(0, {self.noise_scale:g})"
        if self.input_transform == "laplace":
            return f"deformable + Laplace(0, {self.noise_scale:g})"
        if self.input_transform == "adaptor":
            return f"deformable + adaptor, λ={self.adaptor_lambda:g}"
        return "with deformable"

    @property
    def label(self) -> str:
        """The row label of tables and figures: ``DATAR (deformable + adaptor, λ=0.005)``."""
        if self.paper_name and self.paper_name != self.meaning:
            return f"{self.paper_name} ({self.meaning})"
        return self.meaning

    @property
    def description(self) -> str:
        """One line: the label and, where given, the architecture."""
        return f"{self.label}: {self.architecture}" if self.architecture else self.label


_SPECS = (
    VariantSpec(name="ast", family="ast", paper_name="AST", architecture="ViT baseline, 16x16 patches, stride 10"),
    VariantSpec(name="dat_fixed", family="dat", offsets="fixed", architecture="offsets fixed at 0"),
    VariantSpec(name="dat_deform", family="dat"),
    VariantSpec(name="dat_deform_gauss", family="dat", input_transform="gaussian", noise_scale=0.005,
                architecture="input noise during training"),
    VariantSpec(name="dat_deform_laplace", family="dat", input_transform="laplace", noise_scale=0.005,
                architecture="input noise during training"),
    VariantSpec(name="datar_l0.2", family="dat", input_transform="adaptor", adaptor_lambda=0.2),
    VariantSpec(name="datar", family="dat", input_transform="adaptor", adaptor_lambda=0.005, paper_name="DATAR"),
)

VARIANTS: MappingProxyType[str, VariantSpec] = MappingProxyType({s.name: s for s in _SPECS})

#: The variant names in table order.
MODEL_VARIANTS: tuple[str, ...] = tuple(VARIANTS)


def describe(variant: str) -> str:
    """One-line human description of a variant, for tables."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: unknown {variant!r}; choose from {sorted(VARIANTS)}")
    return VARIANTS[variant].description
