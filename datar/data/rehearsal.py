"""The rehearsal's local copies: media files named and laid out as the real datasets ship them.

``write_rehearsal_corpus(cfg, dataset)`` reads the dataset's source csvs through the
manifest parsers (so the Kinetics-Sounds class filter applies) and writes, for every clip
the manifest keeps, the file a reviewer's local copy would hold:

- ``vggsound`` / ``kinetics400``: one mp4 per clip (H.264 video + AAC stereo audio at
  44.1 kHz, as YouTube-derived clips are), ``end - start`` seconds long, at the path that
  ``datasets.D.local_source.template`` gives (VGGSound's own layout
  ``{youtube_id}_{start:06d}.mp4``, Kinetics mirrors' ``{youtube_id}_{start:06d}_{end:06d}.mp4``);
- ``epic100``: one long ``.MP4`` per video (H.264 + AAC stereo 48 kHz, as the EPIC
  head-mounted recordings are) at the path ``datasets.D.video_source`` gives
  (``{participant_id}/videos/{video_id}.MP4``), holding all its segments at their timestamps
  over a background, so that clips are cut from a long file as with the real videos.

Sounds are the demo corpus's sound sources (:mod:`datar.data.demo`): class -> sound
source (EPIC: noun -> source, verb -> temporal pattern), so the labels are learnable. The
video stream is a small constant picture. ``rehearsal_corpus.missing`` clip ids (VGGSound,
Kinetics) get no file: a hole in the local copy. Everything is deterministic from ``rehearsal_corpus.seed``:
ffmpeg runs single-threaded with bit-exact flags and no metadata, so a rerun writes the same
bytes. ``{data_dir}/rehearsal/{D}/files.json`` (written last) lists every file with its
duration and SHA-256; its presence means the corpus is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datar.config import Config, DatasetConfig
from datar.data.demo import (CONTENT_FRACTION, FFMPEG, PATTERNS, SOURCES, background, pattern_events, raw_input,
                             render_source, run_ffmpeg)
from datar.data.local_source import fill_template, template_path
from datar.data.manifest import Manifest, build_manifest
from datar.data.rows import Entry
from datar.data.shard_rows import ClipRow
from datar.data.sources import resolve_source
from datar.errors import ConfigError
from datar.io import atomic_write, sha256_file, write_json_atomic
from datar.runs import rehearsal_listing, sources_dir

CLIP_RATE = 44100   # AAC rate of YouTube-derived clips (VGGSound, Kinetics)
VIDEO_RATE = 48000  # AAC rate of the EPIC-KITCHENS recordings
CHANNELS = 2
VIDEO_TAIL_S = 2.0  # seconds of background after an EPIC video's last segment
VIDEO_ARGS = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50")
VIDEO_SIZE, VIDEO_FPS = "64x48", 10
ENCODE_BATCH = 6    # files per ffmpeg process


@dataclass(frozen=True)
class Event:
    """One labelled segment inside a media file (seconds from the file's start)."""

    start: float
    end: float
    source: str
    pattern: str
    seed: int


@dataclass(frozen=True)
class MediaFile:
    """One file of the local copy.

    Attributes:
        path: where it is written.
        seconds: its duration.
        events: the labelled segments it holds.
        sample_rate: audio rate of the file.
        seed: seed of its background and colour.
        clip_ids: the manifest clips it holds.
    """

    path: Path
    seconds: float
    events: tuple[Event, ...]
    sample_rate: int
    seed: int
    clip_ids: tuple[str, ...]


def file_path(filled: str) -> Path:
    """A filled template (a ``file://`` URL or a path, relative to the working directory) as a path.

    The download stage's reading of it (:func:`datar.data.local_source.template_path`), so the
    files are written where it looks; other URL schemes are refused here.
    """
    if "://" in filled and urllib.parse.urlsplit(filled).scheme != "file":
        raise ConfigError(f"{filled}: the rehearsal writes local files; expected a file:// URL or a path")
    return template_path(filled)


def fill_clip_template(template: str, entry: Entry, *, dataset: str) -> str:
    """``local_source.template`` filled for one VGGSound / Kinetics clip, as the download stage fills it.

    :func:`datar.data.local_source.fill_template` on the row the download stage reads for this
    entry (fields ``{youtube_id}``, ``{start}``, ``{end}``, ``{clip_id}``).
    """
    row = ClipRow(clip_id=entry.clip_id, source=entry.source, start=entry.start, end=entry.end, line=entry.line)
    return fill_template(template, row, where=f"datasets.{dataset}.local_source.template")


def _class_index(manifest: Manifest, head: str, label: str) -> int:
    names = manifest.classes[head]
    return int(label) if label.isdigit() and head in ("verb", "noun") else names.index(label)


def _event(manifest: Manifest, ds: DatasetConfig, entry: Entry, rng: np.random.Generator,
           start: float, end: float) -> Event:
    heads = tuple(ds.heads)
    if heads == ("verb", "noun"):
        source = SOURCES[_class_index(manifest, "noun", entry.labels[1]) % len(SOURCES)].name
        pattern = PATTERNS[_class_index(manifest, "verb", entry.labels[0]) % len(PATTERNS)]
    else:
        source = SOURCES[_class_index(manifest, heads[0], entry.labels[0]) % len(SOURCES)].name
        pattern = PATTERNS[int(rng.integers(len(PATTERNS)))]  # a nuisance, not a class
    return Event(start, end, source, pattern, int(rng.integers(2**63)))


def _local_template(ds: DatasetConfig, dataset: str) -> str:
    local = getattr(ds, "local_source", None)  # datasets.D.local_source (the local-copy interface)
    template = local.templates[0] if local is not None else None  # the first place
    if not template:
        raise ConfigError(f"datasets.{dataset}.local_source.template: needed to name the rehearsal's clip files "
                          f"(format {ds.format})")
    return str(template)


def plan_media(cfg: Config, dataset: str, manifest: Manifest, *, clip_template: str | None = None) -> list[MediaFile]:
    """The files of the local copy of ``dataset``, deterministic from ``rehearsal_corpus.seed``.

    Args:
        cfg: the config.
        dataset: dataset name.
        manifest: its manifest (:func:`source_manifest`).
        clip_template: how clip files are named (VGGSound, Kinetics); default
            ``datasets.D.local_source.template``. EPIC's videos follow ``video_source``.

    Raises:
        ConfigError: no ``rehearsal_corpus``, an unsupported format, a ``missing`` id that is
            not in the manifest, or no template to name the files.
    """
    ds = cfg.dataset(dataset)
    rc = ds.rehearsal_corpus
    if rc is None:
        raise ConfigError(f"datasets.{dataset}.rehearsal_corpus: not set; this dataset has no rehearsal corpus")
    ids = {e.clip_id for e in manifest.entries}
    unknown = sorted(set(rc.missing) - ids)
    if unknown:
        raise ConfigError(f"datasets.{dataset}.rehearsal_corpus.missing: {unknown} are not clips of the manifest")
    rng = np.random.default_rng(rc.seed)
    entries = sorted(manifest.entries, key=lambda e: e.clip_id)
    if ds.format in ("vggsound", "kinetics400"):
        template = clip_template or _local_template(ds, dataset)
        files = []
        for e in entries:
            ev = _event(manifest, ds, e, rng, 0.0, float(e.end) - e.start)  # type: ignore[arg-type]
            seed = int(rng.integers(2**63))
            if e.clip_id in rc.missing:
                continue
            files.append(MediaFile(file_path(fill_clip_template(template, e, dataset=dataset)), ev.end, (ev,), CLIP_RATE, seed,
                                   (e.clip_id,)))
        return files
    if ds.format == "epic100":
        if rc.missing:
            raise ConfigError(f"datasets.{dataset}.rehearsal_corpus.missing: applies to clip files "
                              "(vggsound, kinetics400), not to EPIC's long videos")
        by_video: dict[str, list[Entry]] = {}
        for e in entries:
            by_video.setdefault(e.source, []).append(e)
        files = []
        for url in sorted(by_video):
            segs = sorted(by_video[url], key=lambda e: (e.start, e.clip_id))
            events = tuple(_event(manifest, ds, e, rng, e.start, float(e.end)) for e in segs)  # type: ignore[arg-type]
            seconds = float(np.ceil(max(ev.end for ev in events) + VIDEO_TAIL_S))
            files.append(MediaFile(file_path(url), seconds, events, VIDEO_RATE, int(rng.integers(2**63)),
                                   tuple(e.clip_id for e in segs)))
        return files
    raise ConfigError(f"datasets.{dataset}.rehearsal_corpus: format {ds.format!r} has no local-copy layout "
                      "(vggsound, kinetics400 and epic100 do)")


def render_media(media: MediaFile, *, content_rate: int) -> np.ndarray:
    """The waveform of ``media``: background plus each event's sound source in its span.

    Args:
        media: the planned file.
        content_rate: the pipeline's rate (``audio.sample_rate``); content stays below
            ``CONTENT_FRACTION`` of it and of the file's rate.

    Returns:
        ``(n_samples, CHANNELS)`` float32 in [-1, 1] at ``media.sample_rate``.
    """
    rate = media.sample_rate
    n = int(round(media.seconds * rate))
    rng = np.random.default_rng(media.seed)
    cap = CONTENT_FRACTION * min(rate, content_rate)
    x = np.zeros(n)
    for ev in media.events:
        erng = np.random.default_rng(ev.seed)
        a, b = int(round(ev.start * rate)), min(int(round(ev.end * rate)), n)
        src = next(s for s in SOURCES if s.name == ev.source)
        seg = render_source(src, pattern_events(ev.pattern, erng, ev.end - ev.start), erng, n=b - a, rate=rate,
                            cap=cap)
        x[a:b] += seg * 10 ** (erng.uniform(-6.0, 0.0) / 20)
    floor = 10 ** (rng.uniform(-30.0, -20.0) / 20)
    chans = [x * rng.uniform(0.7, 1.0) + floor * background(rng, n) for _ in range(CHANNELS)]
    y = np.stack(chans, axis=1)
    y *= 10 ** (rng.uniform(-12.0, -3.0) / 20) / max(float(np.abs(y).max()), 1e-12)
    return y.astype(np.float32)


def encode_media(items: Sequence[tuple[MediaFile, np.ndarray, Path]], *, scratch: Path) -> None:
    """Encode several files with one ffmpeg process: AAC stereo audio + a small H.264 picture, mp4.

    Args:
        items: ``(media, wave (n, CHANNELS) float32 at media.sample_rate, destination)``.
        scratch: a directory for the raw float inputs.

    Raises:
        DataError: ffmpeg failed (its message and the file names are included).
    """
    cmd = list(FFMPEG)
    for k, (media, wave, _) in enumerate(items):
        colour = f"0x{media.seed % 0xFFFFFF:06x}"
        cmd += raw_input(wave, rate=media.sample_rate, path=scratch / f"{k}.f32")
        cmd += ["-f", "lavfi", "-i", f"color=c={colour}:s={VIDEO_SIZE}:r={VIDEO_FPS}:d={media.seconds}"]
    for k, (media, _, dest) in enumerate(items):
        cmd += ["-map", f"{2 * k}:a", "-map", f"{2 * k + 1}:v", "-map_metadata", "-1", "-fflags", "+bitexact",
                "-flags:a", "+bitexact", "-flags:v", "+bitexact", "-threads", "1", *VIDEO_ARGS,
                "-c:a", "aac", "-b:a", "128k", "-ar", str(media.sample_rate), "-ac", str(CHANNELS),
                "-t", f"{media.seconds}", "-f", "mp4", str(dest)]
    run_ffmpeg(cmd, what="rehearsal files " + ", ".join(m.path.name for m, _, _ in items))


def write_media(files: Sequence[MediaFile], *, content_rate: int) -> None:
    """Write ``files`` atomically with one ffmpeg run (directories are created)."""
    with contextlib.ExitStack() as stack:
        items = []
        for media in files:
            media.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = stack.enter_context(atomic_write(media.path))
            items.append((media, render_media(media, content_rate=content_rate), tmp))
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=".raw-", dir=files[0].path.parent)))
        encode_media(items, scratch=scratch)


def source_manifest(cfg: Config, dataset: str) -> Manifest:
    """The dataset's manifest as the manifest stage builds it (not written)."""
    ds = cfg.dataset(dataset)
    sources = [resolve_source(s, cache_dir=Path(sources_dir(cfg.data_dir, dataset)),
                              timeout=cfg.download.socket_timeout, where=f"datasets.{dataset}.sources[{i}]")
               for i, s in enumerate(ds.sources)]
    return build_manifest(cfg, dataset, sources)


def write_rehearsal_corpus(cfg: Config, dataset: str, *, clip_template: str | None = None,
                           workers: int | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """Generate the local copy of ``dataset`` and (last) ``{data_dir}/rehearsal/{dataset}/files.json``.

    Args:
        cfg: the config; ``datasets.<dataset>.rehearsal_corpus`` must be set.
        dataset: dataset name.
        clip_template: see :func:`plan_media` (default ``datasets.D.local_source.template``).
        workers: parallel ffmpeg processes (default: the CPU count).
        progress: called with one line of summary at the end.

    Returns:
        The path of ``files.json``.

    Raises:
        ConfigError: see :func:`plan_media`.
        DataError: ffmpeg failed.
    """
    files = plan_media(cfg, dataset, source_manifest(cfg, dataset), clip_template=clip_template)
    batches = [files[i:i + ENCODE_BATCH] for i in range(0, len(files), ENCODE_BATCH)]
    rate = cfg.audio.sample_rate
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        list(pool.map(lambda b: write_media(b, content_rate=rate), batches))
    listing = [{"path": str(m.path), "seconds": m.seconds, "sha256": sha256_file(m.path),
                "clip_ids": list(m.clip_ids)} for m in files]
    digest = hashlib.sha256("".join(f["sha256"] for f in listing).encode()).hexdigest()
    out = Path(rehearsal_listing(cfg.data_dir, dataset))
    write_json_atomic(out, {"dataset": dataset, "seed": cfg.dataset(dataset).rehearsal_corpus.seed,  # type: ignore[union-attr]
                            "missing": list(cfg.dataset(dataset).rehearsal_corpus.missing),  # type: ignore[union-attr]
                            "n_files": len(listing), "sha256": digest, "files": listing})
    if progress is not None:
        clips = sum(len(m.clip_ids) for m in files)
        progress(f"{dataset}: {len(files)} files holding {clips} clips ({sum(m.seconds for m in files):.0f} s); "
                 f"wrote {out}")
    return out
