"""Cut segments out of a local media file in place: ffmpeg input seeking, no copy of the file.

The segments of one file are grouped into *spans*: segments closer together than
``merge_gap`` seconds are decoded by one ffmpeg pass over the span, the others each by their
own. ffmpeg seeks in the input (``-ss`` before ``-i``, reading only the span's packets),
decodes the first audio stream to mono 16-bit PCM at the target rate on a pipe, and the
segments are cut from that stream by sample index and written as FLAC (libsndfile), each
atomically. Which grouping is faster was measured (``benchmarks/local_sources.md``):
a pass over a gap costs decoding it, a separate span costs one more ffmpeg start and one more
read of the container's index, and :data:`MERGE_GAP_S` is where the two cost the same.

Every span starts on a whole second, at least :data:`LEAD_IN_S` before its first segment
(or at the file's start), and ends :data:`LEAD_IN_S` after its last, so the decoder and
resampler are in their steady state over every segment: a segment's samples do not depend on
which other segments share its span (up to decoders that draw noise, such as AAC's
perceptual noise substitution, whose generator restarts with each pass).
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

MERGE_GAP_S = 50.0
"""Segments less than this many seconds apart share one decoding pass. The break-even gap
measured on a 1-hour, 1-GB video is 53 s of CPU time in both runs (wall time: 36-61 s, moving
with the load of the shared machine; one pass runs in one worker while separate spans run in
parallel): ``benchmarks/local_sources.md``."""
LEAD_IN_S = 1.0
"""Seconds decoded before a span's first segment and after its last (decoder and resampler
warm-up and flush)."""
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Cut:
    """One segment to cut from a local file.

    Attributes:
        key: the clip id.
        start: seconds into the file.
        end: seconds into the file; None = to the end of the file.
        out: where its FLAC goes (written atomically).
    """

    key: str
    start: float
    end: float | None
    out: Path


@dataclass(frozen=True)
class Span:
    """A stretch of a file decoded in one ffmpeg pass, and the cuts taken from it.

    Attributes:
        start: seconds into the file where decoding starts (a whole second).
        end: where decoding stops (None = the end of the file).
        cuts: the segments, sorted by start.
    """

    start: float
    end: float | None
    cuts: tuple[Cut, ...]


@dataclass(frozen=True)
class CutResult:
    """What one cut produced: ``samples`` written to ``Cut.out`` (0 = none), or ``error``."""

    key: str
    samples: int
    error: str = ""


def plan_spans(cuts: Sequence[Cut], *, merge_gap: float = MERGE_GAP_S) -> list[Span]:
    """Group the cuts of one file into spans (a cut within ``merge_gap`` s of the span joins it)."""
    spans: list[list[Cut]] = []
    reach = 0.0  # where the current span's decoding ends
    open_ended = False  # the current span runs to the end of the file
    for cut in sorted(cuts, key=lambda c: (c.start, math.inf if c.end is None else c.end)):
        if spans and (open_ended or cut.start - reach <= merge_gap):
            spans[-1].append(cut)
        else:
            spans.append([cut])
            reach, open_ended = cut.start, False
        if cut.end is None:
            open_ended = True
        else:
            reach = max(reach, cut.end)
    out = []
    for group in spans:
        ends = [c.end for c in group]
        end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
        out.append(Span(start=max(0.0, math.floor(group[0].start) - LEAD_IN_S),
                        end=None if end is None else math.ceil(end) + LEAD_IN_S, cuts=tuple(group)))
    return out


def cut_span(path: Path, span: Span, *, sample_rate: int) -> list[CutResult]:
    """Decode ``span`` of ``path`` once and write each of its cuts as mono 16-bit FLAC.

    A cut that reaches past the end of the file gets what the file holds (validation judges
    its length); one that starts after the end gets ``samples == 0``. If ffmpeg fails, cuts
    it had fully delivered are kept and the others carry its last stderr line as ``error``.

    Returns:
        One result per cut, in ``span.cuts`` order.
    """
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"]
    if span.start > 0:
        cmd += ["-ss", f"{span.start:.6f}"]
    if span.end is not None:
        cmd += ["-t", f"{span.end - span.start:.6f}"]
    cmd += ["-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(int(sample_rate)),
            "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    bounds = {c.key: (_index(c.start - span.start, sample_rate),
                      None if c.end is None else _index(c.end - span.start, sample_rate)) for c in span.cuts}
    results: dict[str, CutResult] = {}
    pending = list(span.cuts)
    buf = bytearray()
    origin = 0  # sample index (from span.start) of buf[0]
    with tempfile.TemporaryFile() as err, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err) as proc:
        assert proc.stdout is not None
        while block := proc.stdout.read(_CHUNK_BYTES):
            buf += block
            have = origin + len(buf) // 2
            for cut in [c for c in pending if bounds[c.key][1] is not None and bounds[c.key][1] <= have]:  # type: ignore[operator]
                a, b = bounds[cut.key]
                results[cut.key] = _write(cut, buf, a - origin, b - origin, sample_rate)  # type: ignore[operator]
                pending.remove(cut)
            keep = min([have, *(bounds[c.key][0] for c in pending)])
            if keep > origin:
                del buf[: 2 * (keep - origin)]
                origin = keep
        rc = proc.wait()
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    have = origin + len(buf) // 2
    message = lines[-1].strip() if lines else f"ffmpeg exited with code {rc}"
    for cut in pending:
        if rc != 0:
            results[cut.key] = CutResult(cut.key, 0, message)
            continue
        a, b = bounds[cut.key]
        b = have if b is None else min(b, have)
        results[cut.key] = _write(cut, buf, a - origin, b - origin, sample_rate) if b > a else CutResult(cut.key, 0)
    return [results[c.key] for c in span.cuts]


def _index(seconds: float, rate: int) -> int:
    return max(0, int(round(seconds * rate)))


def _write(cut: Cut, buf: bytearray, a: int, b: int, rate: int) -> CutResult:
    """Write samples ``[a, b)`` of ``buf`` (s16le) to ``cut.out`` as FLAC, atomically."""
    pcm = np.frombuffer(bytes(buf[2 * max(a, 0): 2 * max(b, 0)]), dtype="<i2")
    if pcm.size == 0:
        return CutResult(cut.key, 0)
    tmp = cut.out.with_name(f".{cut.out.name}.tmp")
    cut.out.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(tmp, pcm, rate, format="FLAC", subtype="PCM_16")
    os.replace(tmp, cut.out)
    return CutResult(cut.key, int(pcm.size))
