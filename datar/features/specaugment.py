"""SpecAugment as AST applies it: one frequency mask, then one time mask, set to zero.

The widths follow ``torchaudio.transforms.FrequencyMasking`` / ``TimeMasking`` (a width
drawn uniformly below the limit, a start drawn uniformly where it fits); written here so a
``torch.Generator`` can make it deterministic in tests.
"""

from __future__ import annotations

import torch
from torch import Tensor


def mask_along(fb: Tensor, *, max_width: int, dim: int, generator: torch.Generator | None = None) -> Tensor:
    """Zero one band of at most ``max_width`` positions along ``dim`` of ``fb``.

    Args:
        fb: ``(T, M)`` fbank (not modified).
        max_width: the mask parameter; 0 disables the mask.
        dim: 0 masks time frames, 1 masks mel bins.
        generator: random source (torch's global one if None).

    Returns:
        A masked copy of ``fb``.
    """
    size = fb.shape[dim]
    if max_width <= 0 or size == 0:
        return fb
    width = float(torch.rand(1, generator=generator)) * min(max_width, size)
    start = float(torch.rand(1, generator=generator)) * (size - width)
    lo, hi = int(start), int(start + width)
    out = fb.clone()
    out.narrow(dim, lo, hi - lo).zero_()
    return out


def spec_augment(
    fb: Tensor, *, freq_mask: int, time_mask: int, generator: torch.Generator | None = None
) -> Tensor:
    """AST's order: frequency mask, then time mask, on the unnormalised fbank.

    Args:
        fb: ``(T, M)`` unnormalised log-mel.
        freq_mask: largest mel-bin band to zero (AST: 48).
        time_mask: largest frame band to zero (AST: 192).
        generator: random source (torch's global one if None).

    Returns:
        ``(T, M)`` masked copy.
    """
    fb = mask_along(fb, max_width=freq_mask, dim=1, generator=generator)
    return mask_along(fb, max_width=time_mask, dim=0, generator=generator)
