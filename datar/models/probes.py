"""Read-outs for figures: deformable sampling points and the adapted input."""

from __future__ import annotations

import torch
from torch import nn

from .deformable_attention import DeformableAttention


@torch.no_grad()
def collect_sampling_points(model: nn.Module, x: torch.Tensor) -> list[dict[str, object]]:
    """Run ``model`` once in eval mode and return every deformable layer's sampling points.

    Args:
        model: a model from :func:`datar.models.build_model`.
        x: fbank batch (B, T, M).

    Returns:
        One dict per deformable attention layer, in forward order, with ``name`` (module
        path), ``points`` (B, G, Hk, Wk, 2) and ``reference`` (Hk, Wk, 2) float tensors of
        (y, x) = (mel, time) in [-1, 1] (-1 = centre of the first row/column of that
        layer's feature map, +1 = centre of the last), and ``fmap_size`` (H, W). To plot
        over a spectrogram of M x T bins: mel = (y + 1) / 2 * (M - 1), frame likewise
        (the stage's feature map spans the whole input). Empty for models without
        deformable layers.
    """
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, DeformableAttention)]
    was_training = model.training
    model.eval()
    try:
        for _, m in layers:
            m.record_points = True
        model(x)
        return [
            {"name": n, "points": m.last_points, "reference": m.last_reference, "fmap_size": m.fmap_size}
            for n, m in layers
        ]
    finally:
        for _, m in layers:
            m.record_points = False
            m.last_points = None
            m.last_reference = None
        model.train(was_training)


@torch.no_grad()
def adapted_input(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The adaptor's output and what it added, in eval mode (Fig. 1).

    Args:
        model: a model from :func:`datar.models.build_model` whose ``adaptor`` is not None.
        x: fbank batch (B, T, M).

    Returns:
        ``(adapted, added)``, both (B, T, M): adapted = x + added, added = lambda (b + W * x),
        what the backbone sees in eval mode (the noise variants add nothing in eval mode).
    """
    adaptor = getattr(model, "adaptor", None)
    if adaptor is None:
        raise ValueError("model: this variant has no input adaptor (model.adaptor is None)")
    added = adaptor.delta(model.to_image(x)).squeeze(1).transpose(1, 2)
    return x + added, added
