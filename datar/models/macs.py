"""Multiply-accumulate (MAC) counting for one forward pass.

Two conventions are reported, both for batch 1:

- ``conv_linear``: MACs of every ``nn.Conv2d`` and ``nn.Linear`` (output elements x
  input features per output, i.e. ``Cin / groups * kh * kw`` for convs). This is the
  convention of the paper's 103.4 GMACs for AST (and of fvcore / ptflops style counters
  that skip matmuls between activations). Biases, norms, activations, softmax and
  ``grid_sample`` are not counted.
- ``total``: ``conv_linear`` plus every matrix product between activations (the
  attention products q k^T and attn v), measured with ``torch.utils.flop_counter``
  (FLOPs / 2, fused scaled-dot-product attention included).

``attention = total - conv_linear``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from .deformable_attention import plain_coordinates

CONVENTION = (
    "conv_linear: MACs of Conv2d and Linear layers only (biases, norms, softmax, grid_sample not counted); "
    "total: conv_linear + matrix products between activations (attention q.k^T and attn.v); batch 1"
)


def _sdpa_cpu_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query.shape if hasattr(query, "shape") else query,
                           key.shape if hasattr(key, "shape") else key,
                           value.shape if hasattr(value, "shape") else value)


def _custom_mapping() -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is not None:
        mapping[op] = _sdpa_cpu_flops  # the registry is keyed by op packet
    return mapping


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Count MACs of one forward pass of ``model`` on a zero input.

    Args:
        model: any module; run in eval mode under ``torch.no_grad`` (its mode is restored).
        input_shape: shape of the input including the batch, e.g. ``(1, 1024, 128)`` for
            a (B, T, M) fbank batch. Counts scale with the batch; use batch 1.

    Returns:
        ``{"conv_linear": int, "attention": int, "total": int, "params": int,
        "convention": str}`` (MACs, not GMACs).
    """
    if not input_shape or any((not isinstance(d, int)) or d < 1 for d in input_shape):
        raise ValueError(f"input_shape: expected positive integers, got {input_shape!r}")
    counted = {"conv_linear": 0}

    def hook(module: nn.Module, inputs, output) -> None:
        if isinstance(module, nn.Linear):
            counted["conv_linear"] += output.numel() * module.in_features
        else:
            kh, kw = module.kernel_size
            counted["conv_linear"] += output.numel() * (module.in_channels // module.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    param = next(model.parameters(), None)
    x = torch.zeros(input_shape, device=param.device if param is not None else "cpu")
    was_training = model.training
    model.eval()
    try:
        # plain_coordinates: the CPU's matrix-product form of the deformable layers' coordinate
        # grid is a subtraction, not MACs of the model
        with torch.no_grad(), plain_coordinates(), \
                FlopCounterMode(display=False, custom_mapping=_custom_mapping()) as fc:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    total = max(fc.get_total_flops() // 2, counted["conv_linear"])
    return {
        "conv_linear": counted["conv_linear"],
        "attention": total - counted["conv_linear"],
        "total": total,
        "params": sum(p.numel() for p in model.parameters()),
        "convention": CONVENTION,
    }
