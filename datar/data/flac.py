"""In-process FLAC decoding of download-shard members (libsndfile through soundfile).

The members of ``data/{D}/clips/{S}.tar`` are FLAC files that the download stage wrote
(mono, ``audio.sample_rate``) and the validate stage decoded in full with ffmpeg. Reading
them back for features needs no resampling, so an ffmpeg process per clip (~100 ms of
start-up) is replaced by libsndfile in-process (about a millisecond for a 10-s clip). The
samples are the same: both scale 16-bit PCM by 1/32768 (tests/test_fbank.py checks it). A
member libsndfile cannot stream (a FLAC written to a pipe carries no length) goes to ffmpeg.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile

from datar.data.ffmpeg_audio import decode_bytes_mono
from datar.errors import DataError


_CHUNK = 1 << 18  # frames per read


def _read_all(data: bytes) -> tuple[np.ndarray, int]:
    """All frames as float32 ``(n, channels)`` and the rate, read in chunks until a short read."""
    with soundfile.SoundFile(io.BytesIO(data)) as fh:
        chunks = []
        while True:
            block = fh.read(_CHUNK, dtype="float32", always_2d=True)
            chunks.append(block)
            if block.shape[0] < _CHUNK:
                break
        return np.concatenate(chunks, axis=0), fh.samplerate


def decode_flac_mono(data: bytes, *, sample_rate: int, name: str) -> np.ndarray:
    """Decode one FLAC member to a mono float32 waveform.

    Args:
        data: the FLAC file's bytes.
        sample_rate: the rate the member must have (``audio.sample_rate``).
        name: what to call the clip in errors (``clips/train-00000.tar:abc.flac``).

    Returns:
        ``(n_samples,)`` float32 waveform in [-1, 1).

    Raises:
        DataError: the bytes are not a FLAC file libsndfile can read, the member is not mono
            at ``sample_rate`` (the download stage writes exactly that), or it holds no samples.
    """
    try:
        pcm, rate = _read_all(data)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        # Not a FLAC libsndfile can stream (e.g. one written to a pipe, without its length):
        # ffmpeg decodes anything, or raises DataError naming the member.
        pcm = decode_bytes_mono(data, sample_rate=sample_rate, name=name)[:, None]
        rate = sample_rate
    if rate != sample_rate or pcm.shape[1] != 1:
        raise DataError(
            f"{name}: member is {pcm.shape[1]} channel(s) at {rate} Hz, expected mono at {sample_rate} Hz "
            "(audio.sample_rate changed since the download? rerun download and validate)"
        )
    if pcm.shape[0] == 0:
        raise DataError(f"{name}: decoded audio has no samples")
    return np.ascontiguousarray(pcm[:, 0])
