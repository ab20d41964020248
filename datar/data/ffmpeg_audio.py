"""ffmpeg through ffmpeg-python (argument lists, never a shell): probe, convert, decode.

The download stage converts what yt-dlp fetched into mono FLAC at the configured rate; the
validate stage decodes every FLAC in full; the feature stage reads tar members with
:func:`read_tar_member_audio`.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import ffmpeg

from datar.errors import DataError

_QUIET = ("-hide_banner", "-nostdin", "-loglevel", "error")


class FfmpegFailure(Exception):
    """ffmpeg or ffprobe failed; ``message`` is the last line of its stderr."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StreamInfo:
    """The first audio stream of a file, as ffprobe reports it.

    Attributes:
        sample_rate: Hz.
        channels: channel count.
        duration: seconds from the container or stream header (None if unknown).
        codec: codec name (``flac``, ``aac``, ...).
    """

    sample_rate: int
    channels: int
    duration: float | None
    codec: str


def _last_line(exc: ffmpeg.Error) -> str:
    lines = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
    return lines[-1].strip() if lines else str(exc)


def probe_audio(src: str | os.PathLike[str], *, timeout_s: float | None = None) -> StreamInfo:
    """ffprobe ``src`` (a path or URL) and describe its first audio stream.

    Args:
        src: a local path or a URL ffprobe can read.
        timeout_s: network read timeout for URLs (ffmpeg's ``rw_timeout``); None = ffmpeg's.

    Raises:
        FfmpegFailure: ffprobe cannot read ``src`` or it has no audio stream.
    """
    kwargs = {"rw_timeout": int(timeout_s * 1e6)} if timeout_s and "://" in str(src) else {}
    try:
        meta = ffmpeg.probe(str(src), v="error", **kwargs)
    except ffmpeg.Error as exc:
        raise FfmpegFailure(_last_line(exc)) from None
    streams = [s for s in meta.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise FfmpegFailure("no audio stream")
    s = streams[0]
    dur = s.get("duration") or meta.get("format", {}).get("duration")
    return StreamInfo(
        sample_rate=int(s.get("sample_rate") or 0),
        channels=int(s.get("channels") or 0),
        duration=float(dur) if dur not in (None, "N/A") else None,
        codec=str(s.get("codec_name", "")),
    )


def convert_to_flac(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, sample_rate: int,
                    start: float | None = None, duration: float | None = None) -> None:
    """Extract the first audio stream of ``src`` into mono FLAC at ``sample_rate``.

    Args:
        src: input media file (any container ffmpeg reads; video streams are dropped).
        dst: output ``.flac`` path (overwritten).
        sample_rate: output rate in Hz.
        start: cut from this second (accurate seek: ``-ss`` after the input is opened).
        duration: keep at most this many seconds.

    Raises:
        FfmpegFailure: ffmpeg cannot read or convert ``src``.
    """
    in_kwargs: dict[str, float] = {}
    if start:
        in_kwargs["ss"] = float(start)
    if duration is not None:
        in_kwargs["t"] = float(duration)
    stream = ffmpeg.input(str(src), **in_kwargs).audio
    try:
        (
            ffmpeg.output(stream, str(dst), ac=1, ar=int(sample_rate), acodec="flac", format="flac")
            .global_args(*_QUIET)
            .overwrite_output()
            .run(capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as exc:
        raise FfmpegFailure(_last_line(exc)) from None


def decode_pcm(src: str | os.PathLike[str] | bytes, *, sample_rate: int | None = None,
               mono: bool = False, channels: int | None = None) -> np.ndarray:
    """Decode audio fully to float32 PCM in memory.

    Args:
        src: a path, or the encoded bytes (fed to ffmpeg's stdin).
        sample_rate: resample to this rate; None keeps the stream's rate.
        mono: downmix to one channel; otherwise the stream's channels are kept.
        channels: the stream's channel count if already known (saves an ffprobe call).

    Returns:
        ``(n_samples, channels)`` float32 array (``channels`` = 1 when ``mono``).

    Raises:
        FfmpegFailure: ffmpeg cannot decode ``src``.
        ValueError: ``src`` is bytes and ``mono`` is False (the channel count is unknown).
    """
    out_kwargs: dict[str, int | str] = {"format": "f32le", "acodec": "pcm_f32le"}
    if sample_rate is not None:
        out_kwargs["ar"] = int(sample_rate)
    if mono:
        out_kwargs["ac"] = 1
    from_bytes = isinstance(src, (bytes, bytearray))
    if from_bytes and not mono:
        raise ValueError("decode_pcm: encoded bytes can only be decoded with mono=True")
    stream = ffmpeg.input("pipe:0" if from_bytes else str(src)).audio
    try:
        out, _ = (
            ffmpeg.output(stream, "pipe:1", **out_kwargs)
            .global_args(*_QUIET)
            .run(input=bytes(src) if from_bytes else None, capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as exc:
        raise FfmpegFailure(_last_line(exc)) from None
    n_ch = 1 if mono else channels or probe_channels(src)  # type: ignore[arg-type]
    pcm = np.frombuffer(out, dtype="<f4")
    usable = len(pcm) - len(pcm) % n_ch
    return pcm[:usable].reshape(-1, n_ch).copy()


def probe_channels(src: str | os.PathLike[str]) -> int:
    """Channel count of the first audio stream of the file ``src``."""
    return max(probe_audio(src).channels, 1)


def read_tar_member_audio(tar_path: str | os.PathLike[str], clip_id: str, sample_rate: int) -> np.ndarray:
    """Decode ``{clip_id}.flac`` from a download shard tar to mono float32 at ``sample_rate``.

    Args:
        tar_path: ``data/{D}/clips/{S}.tar``.
        clip_id: the clip (member ``{clip_id}.flac``).
        sample_rate: output rate in Hz (the member is already at ``audio.sample_rate``).

    Returns:
        ``(n_samples,)`` float32 waveform in [-1, 1].

    Raises:
        DataError: the tar or member is missing, or the member cannot be decoded.
    """
    name = f"{clip_id}.flac"
    try:
        with tarfile.open(tar_path, "r:") as tar:
            member = tar.getmember(name)
            fh = tar.extractfile(member)
            if fh is None:
                raise KeyError(name)
            data = fh.read()
    except FileNotFoundError:
        raise DataError(f"{tar_path}: shard tar not found") from None
    except KeyError:
        raise DataError(f"{tar_path}: no member {name}") from None
    except tarfile.TarError as exc:
        raise DataError(f"{tar_path}: not a readable tar ({exc})") from None
    return decode_bytes_mono(data, sample_rate=sample_rate, name=f"{tar_path}:{name}")


def decode_bytes_mono(data: bytes, *, sample_rate: int, name: str) -> np.ndarray:
    """Decode one encoded clip's bytes (FLAC, WAV, ...) to mono float32 at ``sample_rate``.

    Args:
        data: the encoded file's bytes (fed to ffmpeg's stdin: no temporary file, no shell).
        sample_rate: output rate in Hz (ffmpeg resamples only if the stream differs).
        name: what to call the clip in errors (e.g. ``clips/train-00000.tar:abc.flac``).

    Returns:
        ``(n_samples,)`` float32 waveform.

    Raises:
        DataError: ffmpeg cannot decode the bytes, or they hold no samples.
    """
    try:
        pcm = decode_pcm(data, sample_rate=sample_rate, mono=True)
    except FfmpegFailure as exc:
        raise DataError(f"{name}: ffmpeg cannot decode the audio: {exc.message}") from None
    if pcm.shape[0] == 0:
        raise DataError(f"{name}: decoded audio has no samples")
    return pcm[:, 0]


def flac_duration(path: str | os.PathLike[str], sample_rate: int) -> float:
    """Seconds of audio in ``path`` after decoding it in full (mono, at ``sample_rate``).

    Raises:
        FfmpegFailure: ffmpeg cannot decode ``path``.
    """
    return len(decode_pcm(Path(path), sample_rate=sample_rate, mono=True)) / float(sample_rate)
