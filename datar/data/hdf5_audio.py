"""Segments of EPIC-KITCHENS-100's audio from the single HDF5 file (``datasets.D.audio_source``).

The auditory-slow-fast and EPIC-SOUNDS code bases read EPIC's audio from one HDF5 file: one
dataset per video id holding that video's mono waveform (24 kHz in their configs). Only a
segment's samples are read (h5py slicing reads just the chunks that hold them); they are
resampled to ``audio.sample_rate`` and written as 16-bit FLAC like every other clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile


@dataclass(frozen=True)
class H5Clip:
    """One segment to read from the audio HDF5 file.

    Attributes:
        path: the HDF5 file.
        key: the dataset (``audio_source.key`` filled, e.g. ``P01_11``).
        start: seconds into the video.
        end: seconds into the video (None = to its end).
        rate: the stored waveforms' sample rate (``audio_source.sample_rate``).
        place: the file's name, for the availability report.
    """

    path: Path
    key: str
    start: float
    end: float | None
    rate: int
    place: str


def epic_ids(clip_id: str) -> dict[str, str]:
    """``video_id`` and ``participant_id`` of an EPIC narration id (``P01_11_0`` -> ``P01_11``, ``P01``)."""
    video = clip_id.rsplit("_", 1)[0]
    return {"video_id": video, "participant_id": video.split("_", 1)[0]}


def read_segment(clip: H5Clip, *, sample_rate: int) -> tuple[np.ndarray, float]:
    """The segment's samples (float32, mono, resampled to ``sample_rate``) and the video's length in seconds.

    Raises:
        KeyError: the file has no dataset ``clip.key``.
        OSError: the file cannot be read.
    """
    import h5py

    with h5py.File(clip.path, "r") as f:
        ds = f[clip.key]
        n = ds.shape[0]
        a = min(max(0, int(math.floor(clip.start * clip.rate))), n)
        b = n if clip.end is None else min(n, int(math.ceil(clip.end * clip.rate)))
        x = np.asarray(ds[a:b], dtype=np.float32)
    if x.ndim > 1:
        x = x.mean(axis=tuple(range(1, x.ndim)))
    if clip.rate != sample_rate and x.size:
        import torch
        import torchaudio.functional as AF

        x = AF.resample(torch.from_numpy(x), clip.rate, sample_rate).numpy()
    return x, n / clip.rate


def write_flac(x: np.ndarray, out: Path, *, sample_rate: int) -> None:
    """Write float samples as 16-bit FLAC, atomically."""
    tmp = out.with_name(f".{out.name}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(tmp, np.clip(x, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    tmp.replace(out)
