"""Models: DATAR (deformable attention + input adaptor), its ablations, and the AST baseline.

Entry points: :func:`build_model`, :data:`VARIANTS`, :func:`describe`,
:func:`model_options` (the ``model:`` config keys as :func:`build_model` keywords),
:func:`collect_sampling_points`, :func:`adapted_input`; weights in
:mod:`datar.models.weights`, MAC counting in :mod:`datar.models.macs`.
"""

from .probes import adapted_input, collect_sampling_points
from .registry import SIZES, VARIANTS, VariantSpec, build_model, describe, model_options

__all__ = [
    "SIZES", "VARIANTS", "VariantSpec", "adapted_input", "build_model", "collect_sampling_points", "describe",
    "model_options",
]
