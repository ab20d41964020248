"""Real media in the layouts reviewers hold, made with ffmpeg (h264 + aac mp4), for the data tests.

- :func:`vggsound_archive`: VGGSound's Hugging Face layout: members
  ``{youtube_id}_{start:06d}.mp4`` under the seven-folder prefix
  ``scratch/shared/beegfs/hchen/train_data/VGGSound_final/video/`` in a tar.gz, with the
  headerless ``vggsound.csv`` (youtube id, start, label, split) listing them;
- :func:`truncate_gzip`: the same archive cut short in the middle (a broken download);
- :func:`cvdf_tree`: CVDF's extracted Kinetics-400 folders ``train/``, ``val/``, ``test/`` and
  ``replacement/`` of ``{youtube_id}_{start:06d}_{end:06d}.mp4``;
- :func:`epic_hdf5`: the EPIC audio HDF5 file (one dataset per video id, the mono waveform).
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import numpy as np

VGG_PREFIX = "scratch/shared/beegfs/hchen/train_data/VGGSound_final/video/"


def mp4(path: Path, *, seconds: float, freq: float, rate: int = 44100, size: str = "32x32") -> Path:
    """An h264 + aac mp4 of ``seconds`` with a tone of ``freq`` Hz (and a little noise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = f"sine=frequency={freq}:sample_rate={rate}:duration={seconds}"
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
           f"testsrc=size={size}:rate=5:duration={seconds}", "-f", "lavfi", "-i", audio,
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
           "-shortest", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def vgg_ids(n: int) -> list[str]:
    """``n`` distinct 11-character YouTube-like ids."""
    return [f"vid{i:04d}AbC_"[:11] if i < 10000 else f"v{i:010d}" for i in range(n)]


def vggsound_archive(root: Path, *, n: int, classes: int = 4, seconds: float = 1.0, test_every: int = 4,
                     name: str = "vggsound_00.tar.gz", extra: int = 0, broken: int = 0) -> tuple[Path, Path, list[str]]:
    """A VGGSound archive of ``n`` + ``extra`` clips (the ``extra`` ones not in the csv) and its csv.

    The first ``broken`` listed members hold garbage instead of an mp4 (undecodable).

    Returns:
        ``(archive, csv, ids)`` with ``ids`` the listed clips' YouTube ids.
    """
    media = root / "media"
    ids = vgg_ids(n + extra)
    rows = []
    for i, yid in enumerate(ids):
        start = 10 * (i % 7)
        member = media / VGG_PREFIX / f"{yid}_{start:06d}.mp4"
        if i < broken:
            member.parent.mkdir(parents=True, exist_ok=True)
            member.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
        else:
            mp4(member, seconds=seconds, freq=220 + 110 * (i % classes))
        if i < n:
            split = "test" if i % test_every == 0 else "train"
            rows.append(f"{yid},{start},\"class {i % classes}, a label\",{split}")
    csv = root / "vggsound.csv"
    csv.write_text("\n".join(rows) + "\n")
    archive = root / name
    with tarfile.open(archive, "w:gz") as tar:
        for folder in ("scratch",):
            tar.add(media / folder, arcname=folder)
    return archive, csv, ids[:n]


def truncate_gzip(archive: Path, fraction: float = 0.5) -> Path:
    """Cut ``archive`` to ``fraction`` of its bytes (a download broken in the middle)."""
    data = archive.read_bytes()
    archive.write_bytes(data[: int(len(data) * fraction)])
    return archive


def cvdf_tree(root: Path, rows: list[tuple[str, int, int, str, str]], *, seconds: float = 1.0) -> Path:
    """CVDF's extracted Kinetics folders: ``rows`` of (youtube_id, start, end, folder, label)."""
    for i, (yid, start, end, folder, _label) in enumerate(rows):
        mp4(root / folder / f"{yid}_{start:06d}_{end:06d}.mp4", seconds=seconds, freq=300 + 50 * i)
    return root


def epic_hdf5(path: Path, videos: dict[str, float], *, rate: int = 24000) -> Path:
    """EPIC's audio HDF5: one float32 dataset per video id, a tone whose pitch changes every second."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for k, (video, seconds) in enumerate(videos.items()):
            t = np.arange(int(seconds * rate)) / rate
            freq = 200.0 + 40.0 * np.floor(t) + 10 * k
            f.create_dataset(video, data=(0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32))
    return path
