"""AST's front end: Kaldi-compatible log-mel filterbank, padded or cropped to a fixed length.

The settings are AST's (Gong et al. 2021), which the DATAR paper says it follows: the
waveform is mean-centred, then ``torchaudio.compliance.kaldi.fbank`` with
``htk_compat=True``, ``use_energy=False``, a Hanning window, no dither, 25 ms frames every
10 ms. Only the numbers (sample rate, mel bins, frame timing) come from the config.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torchaudio.compliance.kaldi as kaldi
from torch import Tensor

from datar.config import FbankConfig


def compute_fbank(waveform: Tensor, *, sample_rate: int, cfg: FbankConfig) -> Tensor:
    """Log-mel filterbank of one mono clip, exactly as AST computes it.

    Args:
        waveform: ``(n_samples,)`` float mono waveform in [-1, 1].
        sample_rate: the waveform's sample rate in Hz.
        cfg: fbank settings (``num_mel_bins``, ``frame_shift_ms``, ``frame_length_ms``).

    Returns:
        ``(n_frames, num_mel_bins)`` float32 log-mel energies (not padded, not normalised).
        ``n_frames = 1 + (n_samples - frame_length) // frame_shift`` (Kaldi's ``snip_edges``).
    """
    assert waveform.dim() == 1, f"expected a (n_samples,) waveform, got {tuple(waveform.shape)}"
    wav = waveform.to(torch.float32)
    wav = wav - wav.mean()
    return kaldi.fbank(
        wav.unsqueeze(0),
        htk_compat=True,
        sample_frequency=float(sample_rate),
        use_energy=False,
        window_type="hanning",
        num_mel_bins=cfg.num_mel_bins,
        dither=0.0,
        frame_shift=cfg.frame_shift_ms,
        frame_length=cfg.frame_length_ms,
    )


def pad_or_crop(fb: Tensor, target_length: int) -> Tensor:
    """Zero-pad at the end, or crop the end, along time to ``target_length`` frames (AST).

    Args:
        fb: ``(n_frames, M)`` fbank.
        target_length: number of frames wanted.

    Returns:
        ``(target_length, M)``; the first ``min(n_frames, target_length)`` frames are ``fb``'s.
    """
    n = fb.shape[0]
    if n < target_length:
        return torch.nn.functional.pad(fb, (0, 0, 0, target_length - n))
    return fb[:target_length]


def fbank_config_dict(cfg: FbankConfig, *, sample_rate: int) -> dict[str, Any]:
    """The settings that decide a shard's values, stored in its metadata.

    Everything that changes the numbers is here, including AST's fixed choices, so that a
    shard computed with other settings can be recognised.
    """
    out: dict[str, Any] = {
        k: v for k, v in dataclasses.asdict(cfg).items() if k not in {"freq_mask", "time_mask"}
    }
    out.update(
        sample_rate=sample_rate,
        htk_compat=True,
        use_energy=False,
        window_type="hanning",
        dither=0.0,
        centre="mean",
        pad="zero_end",
    )
    return out
