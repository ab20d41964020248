"""The embedded demo corpus: synthetic audio events, deterministic from a seed, no network.

``write_demo_corpus(cfg, dataset)`` reads ``datasets.D.demo_corpus`` and writes
``{data_dir}/demo/{D}/audio/*`` and (last) ``{data_dir}/demo/{D}/source.csv`` in the user
csv format (``clip_id,source,start,end,label,split``; sources are ``file://`` URLs).

Classes are sound sources (harmonic tones of different timbres, bells, plucks, band-limited
noise, sirens, click trains, chirps, ...) with randomised pitch, timing, loudness and
background noise. A dataset with two heads (the EPIC slot) has temporal patterns as verbs
(single hit, repeated, rising, falling, sustained, swelling) and sound sources as nouns; a
single-head dataset draws the pattern at random, as a nuisance. All content stays below
0.45 x the lowest container rate, so every class survives every file rate.

Files come in mixed containers (wav, flac, ogg/vorbis, mp4/aac), rates (8-48 kHz) and
channel counts, encoded by ffmpeg with bit-exact flags and no metadata, so a rerun with the
same seed writes identical bytes. A few entries are broken on purpose (``broken``): dead (a
file URL to a missing file), corrupt (random bytes), silent (digital silence) and short
(1/6 of a clip, listed as a full clip).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from datar.config import Config, DemoCorpusConfig
from datar.errors import ConfigError, DataError
from datar.io import atomic_write
from datar.runs import demo_source_csv

ClipKind = Literal["ok", "dead", "corrupt", "silent", "short"]
Container = Literal["wav", "flac", "ogg", "mp4"]
CONTAINERS: tuple[Container, ...] = ("wav", "flac", "ogg", "mp4")
FILE_RATES: tuple[int, ...] = (8000, 11025, 16000, 22050, 32000, 44100, 48000)
# Everything a class is made of lies below this fraction of the lowest file rate.
CONTENT_FRACTION = 0.45
SHORT_FRACTION = 1.0 / 6.0
# Names this module writes under audio/ (anything else there is left alone).
STALE_NAME = re.compile(r"^(train|test)_\d{4}\.(wav|flac|ogg|mp4)$")
# Clips per ffmpeg process: its start-up costs more CPU than encoding one short clip.
ENCODE_BATCH = 8
# ffmpeg arguments per container: codec and muxer (bit-exact, no metadata: byte-identical reruns).
CODEC_ARGS: dict[Container, tuple[str, ...]] = {
    "wav": ("-c:a", "pcm_s16le", "-f", "wav"),
    "flac": ("-c:a", "flac", "-compression_level", "5", "-f", "flac"),
    "ogg": ("-c:a", "libvorbis", "-q:a", "4", "-f", "ogg"),
    "mp4": ("-c:a", "aac", "-b:a", "96k", "-f", "mp4"),
}


# --------------------------------------------------------------------------- sound sources


@dataclass(frozen=True)
class SoundSource:
    """A class of the demo: how one sound source is synthesised.

    Attributes:
        name: readable class name.
        kind: synthesis method.
        f0: range of the base frequency (Hz; for ``band``, the band centre; for
            ``clicks``, clicks per second).
        partials: frequency ratios of the partials (``harmonic``).
        amps: their amplitudes.
        tau: decay time constant in seconds for percussive sources, None = sustained.
        width: relative band width (``band``), modulation depth (``siren``, ``tremolo``).
        rate: modulation rate range in Hz (``siren``, ``tremolo``, ``chirps``).
    """

    name: str
    kind: Literal["harmonic", "band", "siren", "clicks", "chirps", "tremolo"]
    f0: tuple[float, float]
    partials: tuple[float, ...] = (1.0,)
    amps: tuple[float, ...] = (1.0,)
    tau: tuple[float, float] | None = None
    width: float = 0.0
    rate: tuple[float, float] = (0.0, 0.0)


def _harm(n: int, power: float, odd: bool = False) -> tuple[tuple[float, ...], tuple[float, ...]]:
    ks = [k for k in range(1, 2 * n + 1) if not odd or k % 2][:n]
    return tuple(float(k) for k in ks), tuple(1.0 / k**power for k in ks)


SOURCES: tuple[SoundSource, ...] = (
    SoundSource("flute", "harmonic", (350, 900), (1, 2, 3, 4), (1, 0.3, 0.12, 0.05), width=0.012, rate=(4.5, 6.0)),
    SoundSource("bell", "harmonic", (300, 800), (1, 2.0, 2.76, 4.07, 5.4), (1, 0.6, 0.5, 0.3, 0.2), tau=(0.35, 0.7)),
    SoundSource("hiss", "band", (1800, 2900), width=0.35),
    SoundSource("click train", "clicks", (12, 40)),
    SoundSource("brass horn", "harmonic", (110, 330), *_harm(24, 1.0)),
    SoundSource("plucked string", "harmonic", (150, 500), *_harm(16, 1.3), tau=(0.12, 0.3)),
    SoundSource("siren", "siren", (500, 1100), width=0.25, rate=(1.5, 4.0)),
    SoundSource("rumble", "band", (90, 220), width=0.8),
    SoundSource("tremolo organ", "tremolo", (200, 500), (1, 2, 3, 4), (1, 0.5, 0.3, 0.2), width=0.9, rate=(6, 11)),
    SoundSource("whistle", "harmonic", (1200, 2600)),
    SoundSource("wooden drum", "harmonic", (80, 200), (1, 1.59, 2.14, 2.65), (1, 0.5, 0.3, 0.2), tau=(0.07, 0.16)),
    SoundSource("buzzer", "harmonic", (70, 140), *_harm(40, 0.2)),
    SoundSource("clarinet", "harmonic", (150, 450), *_harm(12, 1.0, odd=True)),
    SoundSource("bird chirps", "chirps", (1500, 2600), width=0.4, rate=(6, 12)),
)

PATTERNS: tuple[str, ...] = ("single hit", "repeated", "rising", "falling", "sustained", "swelling")


@dataclass(frozen=True)
class Events:
    """Temporal pattern of one clip: event (onset, duration) pairs in seconds, pitch glide."""

    spans: tuple[tuple[float, float], ...]
    glide: tuple[float, float] = (1.0, 1.0)
    swell: bool = False


def pattern_events(pattern: str, rng: np.random.Generator, seconds: float) -> Events:
    """Draw the events of ``pattern`` within a clip of ``seconds``."""
    if pattern == "single hit":
        dur = rng.uniform(0.15, 0.4)
        return Events(((rng.uniform(0.05, max(0.06, seconds - dur - 0.05)), dur),))
    if pattern == "repeated":
        n = int(rng.integers(3, 7))
        period = min(rng.uniform(0.2, 0.45), 0.9 * seconds / n)
        dur = min(rng.uniform(0.06, 0.18), 0.7 * period)
        first = rng.uniform(0.05, max(0.06, seconds - n * period))
        return Events(tuple((first + k * period + rng.uniform(-0.1, 0.1) * period, dur) for k in range(n)))
    dur = rng.uniform(0.6, 0.9) * seconds
    span = ((rng.uniform(0.02, seconds - dur), dur),)
    if pattern == "rising":
        return Events(span, glide=(rng.uniform(0.6, 0.8), rng.uniform(1.3, 1.6)))
    if pattern == "falling":
        return Events(span, glide=(rng.uniform(1.3, 1.6), rng.uniform(0.6, 0.8)))
    if pattern == "swelling":
        return Events(span, swell=True)
    assert pattern == "sustained", pattern
    return Events(span)


def _envelope(t: np.ndarray, ev: Events, tau: float | None) -> np.ndarray:
    env = np.zeros_like(t)
    for onset, dur in ev.spans:
        rel = t - onset
        if tau is not None:
            body = np.exp(-np.maximum(rel, 0.0) / max(tau, 0.35 * dur)) * np.clip(rel / 0.004, 0.0, 1.0)
        else:
            body = np.clip(rel / 0.04, 0.0, 1.0) * np.clip((dur - rel) / 0.05, 0.0, 1.0)
        if ev.swell:
            body = body * np.clip(rel / dur, 0.05, 1.0)
        env = np.maximum(env, body)
    return env


def _glide(t: np.ndarray, ev: Events) -> np.ndarray:
    a, b = ev.glide
    if a == b:
        return np.ones_like(t)
    onset, dur = ev.spans[0]
    return a * (b / a) ** np.clip((t - onset) / dur, 0.0, 1.0)


def render_source(src: SoundSource, ev: Events, rng: np.random.Generator, *, n: int, rate: int, cap: float) -> np.ndarray:
    """Synthesise ``n`` samples at ``rate`` Hz of ``src`` playing the events ``ev``.

    Returns:
        ``(n,)`` float64, peak about 1 (before loudness scaling).
    """
    t = np.arange(n) / rate
    mult = _glide(t, ev)
    f0 = rng.uniform(*src.f0)
    if src.kind in ("harmonic", "tremolo", "siren"):
        if src.kind == "harmonic" and src.width:
            mult = mult * (1 + src.width * np.sin(2 * np.pi * rng.uniform(*src.rate) * t))
        if src.kind == "siren":
            mult = mult * (1 + src.width * np.sin(2 * np.pi * rng.uniform(*src.rate) * t + rng.uniform(0, 2 * np.pi)))
        phase = 2 * np.pi * f0 * np.cumsum(mult) / rate
        top = f0 * float(mult.max())
        x = np.zeros(n)
        for ratio, amp in zip(src.partials, src.amps):
            if ratio * top < cap:
                x += amp * np.sin(ratio * phase + rng.uniform(0, 2 * np.pi))
        if src.kind == "tremolo":
            x *= 1 - src.width * 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(*src.rate) * t))
    elif src.kind == "band":
        freqs = f0 * (1 + src.width * (rng.random(48) - 0.5))
        freqs = freqs[freqs * float(mult.max()) < cap]
        m = np.cumsum(mult) / rate
        x = (rng.rayleigh(1.0, len(freqs))[:, None] * np.sin(2 * np.pi * freqs[:, None] * m[None, :] + rng.uniform(0, 2 * np.pi, (len(freqs), 1)))).sum(0)
    elif src.kind == "clicks":
        count = np.floor(np.cumsum(f0 * mult) / rate)
        impulses = np.diff(count, prepend=0.0) * rng.uniform(0.6, 1.0, n)
        k = max(4, int(0.004 * rate))
        kernel = rng.standard_normal(k) * np.exp(-np.arange(k) / (k / 4))
        x = np.convolve(impulses, kernel)[:n]
    else:  # chirps: repeated upward sweeps, gated
        r = rng.uniform(*src.rate)
        saw = (r * t) % 1.0
        inst = np.minimum(f0 * mult * (1 + src.width * saw), cap)
        x = np.sin(2 * np.pi * np.cumsum(inst) / rate) * (saw < 0.6)
    tau = None if src.tau is None else rng.uniform(*src.tau)
    x = x * _envelope(t, ev, tau)
    peak = float(np.abs(x).max())
    return x / peak if peak > 0 else x


def background(rng: np.random.Generator, n: int) -> np.ndarray:
    """Coloured noise (white through a random one-pole low-pass), unit RMS."""
    a = rng.uniform(0.0, 0.97)
    w = rng.standard_normal(n)
    # one-pole IIR y[i] = a*y[i-1] + w[i], via its closed form on a short decay kernel
    k = int(min(n, max(1, np.ceil(np.log(1e-4) / np.log(a)) if a > 0 else 1)))
    y = np.convolve(w, a ** np.arange(k))[:n]
    return y / max(float(np.sqrt(np.mean(y**2))), 1e-12)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class DemoClip:
    """One planned entry of the demo corpus.

    Attributes:
        clip_id: ``{split}_{k:04d}``.
        split: ``train`` or ``test``.
        labels: class name per head (config head order).
        kind: ``ok`` or the way it is broken.
        source: sound source name; pattern: temporal pattern name.
        container, sample_rate, channels: how the file is encoded.
        lead_in: seconds of background before the clip segment starts.
        seed: the clip's own random seed.
    """

    clip_id: str
    split: str
    labels: tuple[str, ...]
    kind: ClipKind
    source: str
    pattern: str
    container: Container
    sample_rate: int
    channels: int
    lead_in: float
    seed: int

    @property
    def file_name(self) -> str:
        """Name of the audio file under ``audio/``."""
        return f"{self.clip_id}.{self.container}"


def _roles(heads: tuple[str, ...], dataset: str) -> tuple[str | None, str]:
    """(pattern head or None, source head)."""
    if len(heads) == 1:
        return None, heads[0]
    if len(heads) == 2:
        verb = "verb" if "verb" in heads else heads[0]
        return verb, next(h for h in heads if h != verb)
    raise ConfigError(f"datasets.{dataset}.heads: the demo corpus supports one or two heads, got {list(heads)}")


def plan_corpus(demo: DemoCorpusConfig, heads: tuple[str, ...], *, dataset: str) -> list[DemoClip]:
    """Every entry of the corpus, deterministic from ``demo.seed``.

    Raises:
        ConfigError: more classes asked for than the demo has (names the key and the limit).
    """
    pattern_head, source_head = _roles(heads, dataset)
    n_src = demo.classes[source_head]
    n_pat = demo.classes[pattern_head] if pattern_head else len(PATTERNS)
    if n_src > len(SOURCES):
        raise ConfigError(f"datasets.{dataset}.demo_corpus.classes.{source_head}: at most {len(SOURCES)} sound sources, got {n_src}")
    if n_pat > len(PATTERNS):
        raise ConfigError(f"datasets.{dataset}.demo_corpus.classes.{pattern_head}: at most {len(PATTERNS)} patterns, got {n_pat}")
    rng = np.random.default_rng(demo.seed)
    combos = [(p, s) for p in range(n_pat) for s in range(n_src)] if pattern_head else [(-1, s) for s in range(n_src)]
    broken: list[ClipKind] = (["dead"] * demo.broken.dead + ["corrupt"] * demo.broken.corrupt
                              + ["silent"] * demo.broken.silent + ["short"] * demo.broken.short)
    plan: list[DemoClip] = []
    jobs = [("train", "ok")] * demo.train_clips + [("test", "ok")] * demo.test_clips
    jobs += [("train" if i % 2 == 0 else "test", kind) for i, kind in enumerate(broken)]
    counters = {"train": 0, "test": 0}
    for j, (split, kind) in enumerate(jobs):
        p, s = combos[j % len(combos)] if kind == "ok" else combos[int(rng.integers(len(combos)))]
        pattern = PATTERNS[p] if p >= 0 else PATTERNS[int(rng.integers(len(PATTERNS)))]
        labels = {source_head: SOURCES[s].name}
        if pattern_head:
            labels[pattern_head] = pattern
        # drawn, not cycled: the container must not correlate with the class
        container = CONTAINERS[int(rng.integers(len(CONTAINERS)))]
        if kind == "corrupt":
            container = ("flac", "mp4")[int(rng.integers(2))]
        plan.append(DemoClip(
            clip_id="", split=split, labels=tuple(labels[h] for h in heads), kind=kind,
            source=SOURCES[s].name, pattern=pattern, container=container,
            sample_rate=int(rng.choice(FILE_RATES)), channels=int(rng.integers(1, 3)),
            lead_in=round(float(rng.uniform(0.1, 1.0)), 2) if kind == "ok" and rng.random() < 0.5 else 0.0,
            seed=int(rng.integers(2**63)),
        ))
    # shuffle within each split so classes and broken entries are spread over ids and shards
    order = rng.permutation(len(plan))
    out = []
    for i in order:
        c = plan[i]
        k = counters[c.split]
        counters[c.split] += 1
        out.append(dataclasses.replace(c, clip_id=f"{c.split}_{k:04d}"))
    return sorted(out, key=lambda c: c.clip_id)


# --------------------------------------------------------------------------- rendering


def render_clip(clip: DemoClip, *, rate: int, clip_seconds: float) -> np.ndarray:
    """The waveform of a planned clip at ``rate`` Hz.

    Returns:
        ``(n_samples, channels)`` float32 in [-1, 1].
    """
    rng = np.random.default_rng(clip.seed)
    seconds = clip_seconds * SHORT_FRACTION if clip.kind == "short" else clip.lead_in + clip_seconds
    n = int(round(seconds * rate))
    if clip.kind == "silent":
        return np.zeros((n, clip.channels), dtype=np.float32)
    cap = CONTENT_FRACTION * min(min(FILE_RATES), rate)
    src = next(s for s in SOURCES if s.name == clip.source)
    ev = pattern_events(clip.pattern, rng, min(clip_seconds, seconds))
    ev = Events(tuple((o + clip.lead_in, d) for o, d in ev.spans), ev.glide, ev.swell)
    x = render_source(src, ev, rng, n=n, rate=rate, cap=cap)
    rms = float(np.sqrt(np.mean(x**2))) or 1.0
    snr_db = rng.uniform(3.0, 30.0)
    chans = []
    for _ in range(clip.channels):
        gain = rng.uniform(0.6, 1.0) if clip.channels > 1 else 1.0
        chans.append(gain * x + background(rng, n) * rms * 10 ** (-snr_db / 20))
    y = np.stack(chans, axis=1)
    peak_db = rng.uniform(-20.0, -3.0)
    y *= 10 ** (peak_db / 20) / max(float(np.abs(y).max()), 1e-12)
    return y.astype(np.float32)


FFMPEG: tuple[str, ...] = ("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y")


def raw_input(wave: np.ndarray, *, rate: int, path: Path) -> list[str]:
    """Write ``wave`` ``(n, channels)`` as raw float32 to ``path``; return ffmpeg's input arguments for it."""
    np.ascontiguousarray(wave, dtype="<f4").tofile(path)
    return ["-f", "f32le", "-ar", str(rate), "-ac", str(wave.shape[1]), "-i", str(path)]


def run_ffmpeg(cmd: list[str], *, what: str) -> None:
    """Run an ffmpeg command line; raise DataError naming ``what`` with ffmpeg's message on failure."""
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise DataError(f"ffmpeg failed to encode {what}: {proc.stderr.decode(errors='replace').strip()}")


def encode_batch(items: list[tuple[DemoClip, np.ndarray, Path]], *, rate: int, scratch: Path) -> None:
    """Encode several clips with one ffmpeg process (its start-up dominates the cost).

    Args:
        items: ``(clip, wave (n, channels) float32 at rate, destination)`` triples.
        rate: the waves' sample rate in Hz.
        scratch: a directory for the raw float inputs.

    Raises:
        DataError: ffmpeg failed (its message and the clip ids are included).
    """
    cmd = list(FFMPEG)
    for k, (_, wave, _) in enumerate(items):
        cmd += raw_input(wave, rate=rate, path=scratch / f"{k}.f32")
    for k, (clip, _, dest) in enumerate(items):
        cmd += ["-map", f"{k}:a", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
                "-threads", "1", "-ar", str(clip.sample_rate), "-ac", str(clip.channels),
                *CODEC_ARGS[clip.container], str(dest)]
    run_ffmpeg(cmd, what="demo clips " + ", ".join(c.clip_id for c, _, _ in items))


def write_batch(clips: list[DemoClip], audio_dir: Path, *, rate: int, clip_seconds: float) -> None:
    """Write the files of ``clips`` atomically (one ffmpeg run); a dead entry gets no file."""
    with contextlib.ExitStack() as stack:
        items = []
        for clip in clips:
            dest = audio_dir / clip.file_name
            if clip.kind == "dead":
                dest.unlink(missing_ok=True)
            elif clip.kind == "corrupt":
                rng = np.random.default_rng(clip.seed)
                with atomic_write(dest) as tmp:
                    tmp.write_bytes(rng.bytes(int(rng.integers(2048, 8192))))
            else:
                tmp = stack.enter_context(atomic_write(dest))
                items.append((clip, render_clip(clip, rate=rate, clip_seconds=clip_seconds), tmp))
        if items:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=".raw-", dir=audio_dir)))
            encode_batch(items, rate=rate, scratch=scratch)


def source_row(clip: DemoClip, audio_dir: Path, clip_seconds: float) -> list[str]:
    """The clip's row in ``source.csv`` (user csv format)."""
    url = (audio_dir / clip.file_name).absolute().as_uri()
    start = clip.lead_in
    return [clip.clip_id, url, repr(start), repr(round(start + clip_seconds, 6)), "|".join(clip.labels), clip.split]


def write_demo_corpus(cfg: Config, dataset: str, *, workers: int | None = None,
                      progress: Callable[[str], None] | None = None) -> Path:
    """Generate the demo corpus of ``dataset`` under ``{data_dir}/demo/{dataset}``.

    Args:
        cfg: the config; ``datasets.<dataset>.demo_corpus`` must be set.
        dataset: dataset name.
        workers: parallel encoders (default: the CPU count).
        progress: called with one line of summary at the end.

    Returns:
        The path of ``source.csv`` (written last: its presence means the corpus is complete).

    Raises:
        ConfigError: the dataset has no ``demo_corpus`` section or asks for too many classes.
    """
    ds = cfg.dataset(dataset)
    if ds.demo_corpus is None:
        raise ConfigError(f"datasets.{dataset}.demo_corpus: not set; this dataset has no demo corpus")
    plan = plan_corpus(ds.demo_corpus, tuple(ds.heads), dataset=dataset)
    path = Path(demo_source_csv(cfg.data_dir, dataset))
    audio_dir = path.parent / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    rate, seconds = cfg.audio.sample_rate, cfg.audio.clip_seconds
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        batches = [plan[i:i + ENCODE_BATCH] for i in range(0, len(plan), ENCODE_BATCH)]
        list(pool.map(lambda b: write_batch(b, audio_dir, rate=rate, clip_seconds=seconds), batches))
    planned = {c.file_name for c in plan if c.kind != "dead"}
    for stale in audio_dir.iterdir():  # files of an earlier, larger plan
        if stale.is_file() and STALE_NAME.match(stale.name) and stale.name not in planned:
            stale.unlink()
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["clip_id", "source", "start", "end", "label", "split"])
        for clip in plan:
            w.writerow(source_row(clip, audio_dir, seconds))
    if progress is not None:
        kinds = {k: sum(c.kind == k for c in plan) for k in ("ok", "dead", "corrupt", "silent", "short")}
        progress(f"{dataset}: {len(plan)} demo clips in {audio_dir} ({kinds}); wrote {path}")
    return path
