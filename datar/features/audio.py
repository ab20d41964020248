"""Decode audio bytes (a tar member) with ffmpeg into a mono float waveform.

Private to the feature stage until ``datar.data.ffmpeg_audio`` offers the same thing; the
bytes go to ffmpeg's stdin, so no temporary file and no shell is involved.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

import ffmpeg

from datar.errors import DataError


def decode_audio_bytes(data: bytes, *, sample_rate: int, name: str) -> Tensor:
    """Decode one encoded clip (FLAC, WAV, ...) to mono float32 at ``sample_rate``.

    Args:
        data: the encoded file's bytes.
        sample_rate: output rate in Hz (ffmpeg resamples only if the stream differs).
        name: what to call the clip in errors (e.g. ``clips/train-00000.tar:abc.flac``).

    Returns:
        ``(n_samples,)`` float32 waveform.

    Raises:
        DataError: ffmpeg cannot decode the bytes, or they hold no samples.
    """
    try:
        out, _ = (
            ffmpeg.input("pipe:0")
            .output("pipe:1", format="f32le", acodec="pcm_f32le", ac=1, ar=sample_rate)
            .global_args("-hide_banner", "-loglevel", "error")
            .run(input=data, capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as exc:
        msg = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise DataError(f"{name}: ffmpeg cannot decode the audio: {msg[-1] if msg else exc}") from None
    if len(out) < 4:
        raise DataError(f"{name}: decoded audio has no samples")
    return torch.from_numpy(np.frombuffer(out, dtype="<f4").copy())
