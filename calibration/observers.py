"""Activation observers: stream tensors through `TensorObserver`, then turn what it saw into a quantization
range with one of three methods.

- `minmax`: the exact extremes seen.
- `percentile`: the 0.01 % / 99.99 % quantiles (clips the rarest outliers).
- `entropy`: ncnn2table's KL search — the |x| threshold whose 128-level histogram loses the least
  information (2048 bins, exact zeros skipped, ε = 1e-4 smoothing, no renormalisation).

Memory is bounded: each observer keeps the exact min / max / absmax and a uniform random sample of at most
`SAMPLE_SIZE` values (reservoir sampling, seeded), from which quantiles and histograms are taken.
Weights are quantized per output channel, symmetric, by absmax (`weight_scales`).
"""
from __future__ import annotations

import numpy as np

METHODS = ("minmax", "percentile", "entropy")
SAMPLE_SIZE = 262_144
PERCENTILE = 99.99
KL_BINS, KL_LEVELS = 2048, 128


class TensorObserver:
    """Running statistics of one tensor over the calibration samples."""

    def __init__(self, seed: int = 0, sample_size: int = SAMPLE_SIZE) -> None:
        self.sample_size = sample_size
        self.lo, self.hi = np.inf, -np.inf
        self.seen = 0
        self.sample = np.empty(0, np.float32)
        self._rng = np.random.default_rng(seed)
        self._memo: dict[tuple[str, str], object] = {}   # results per method; cleared by update()

    def update(self, x: np.ndarray) -> None:
        self._memo.clear()
        flat = np.asarray(x, np.float32).ravel()
        if flat.size == 0:
            return
        if not np.isfinite(flat).all():
            raise ValueError("non-finite activation values")
        self.lo, self.hi = min(self.lo, float(flat.min())), max(self.hi, float(flat.max()))
        # reservoir sampling (Algorithm R, vectorised): value number n replaces a random slot with
        # probability sample_size / n, so the sample stays uniform over everything seen
        start = self.seen
        self.seen += flat.size
        room = max(0, self.sample_size - self.sample.size)
        if room:
            self.sample = np.concatenate([self.sample, flat[:room]])
        rest = flat[room:]
        if rest.size:
            slots = (self._rng.random(rest.size) * np.arange(start + room + 1, self.seen + 1)).astype(np.int64)
            keep = slots < self.sample_size
            self.sample[slots[keep]] = rest[keep]

    @property
    def absmax(self) -> float:
        return max(abs(self.lo), abs(self.hi))

    def range(self, method: str) -> tuple[float, float]:
        """(low, high) to quantize to; always contains 0."""
        if ("range", method) not in self._memo:
            self._memo[("range", method)] = self._range(method)
        return self._memo[("range", method)]  # type: ignore[return-value]

    def _range(self, method: str) -> tuple[float, float]:
        if self.seen == 0:
            raise ValueError("observer saw no data")
        if method == "minmax":
            lo, hi = self.lo, self.hi
        elif method == "percentile":
            lo, hi = np.percentile(self.sample, [100 - PERCENTILE, PERCENTILE])
            lo, hi = (self.lo if self.lo >= 0 else float(lo)), float(hi)
        elif method == "entropy":
            t = self.threshold("entropy")
            lo, hi = max(self.lo, -t), min(self.hi, t)
        else:
            raise ValueError(f"unknown method {method!r}; choose {', '.join(METHODS)}")
        return min(float(lo), 0.0), max(float(hi), 0.0)

    def threshold(self, method: str) -> float:
        """Symmetric clipping threshold on |x| (ncnn's int8 scale is 127 / threshold)."""
        if method == "entropy":
            if ("threshold", method) not in self._memo:
                self._memo[("threshold", method)] = kl_threshold(np.abs(self.sample), self.absmax)
            return self._memo[("threshold", method)]  # type: ignore[return-value]
        lo, hi = self.range(method)
        return max(-lo, hi)


def kl_threshold(abs_values: np.ndarray, absmax: float, bins: int = KL_BINS, levels: int = KL_LEVELS) -> float:
    """The |x| threshold minimising KL(P‖Q) between the clipped histogram and its `levels`-level version."""
    if absmax <= 0:
        return 0.0
    values = abs_values[abs_values > 0]
    hist = np.histogram(values, bins=bins, range=(0.0, absmax))[0].astype(np.float64)
    if hist.sum() == 0:
        return absmax
    hist /= hist.sum()
    cumulative = np.concatenate([[0.0], np.cumsum(hist)])
    eps = 1e-4
    best_t, best_kl = bins, np.inf
    for t in range(levels, bins):
        p = hist[:t].copy()
        p[t - 1] += hist[t:].sum()
        p += eps
        # Q: mean density of each of `levels` equal buckets over [0, t), spread back over the bins it covers
        edges = np.linspace(0.0, t, levels + 1)
        mass = np.interp(edges, np.arange(bins + 1), cumulative)
        density = np.diff(mass) / (t / levels)
        left = np.arange(t)
        j0 = np.minimum((left * levels) // t, levels - 1)
        j1 = np.minimum(((left + 1) * levels - 1) // t, levels - 1)
        split = edges[j1]  # the bucket edge inside bin i when j0 != j1
        q = np.where(j0 == j1, density[j0], density[j0] * (split - left) + density[j1] * (left + 1 - split))
        q = q + eps
        kl = float(np.sum(p * np.log(p / q)))
        if kl < best_kl:
            best_t, best_kl = t, kl
    return (best_t + 0.5) * absmax / bins


def weight_scales(weight: np.ndarray, levels: int = 127) -> np.ndarray:
    """Per-output-channel symmetric scales (multiply by these to get integer units); 0 for all-zero rows."""
    absmax = np.abs(weight.reshape(weight.shape[0], -1)).max(axis=1).astype(np.float64)
    return np.where(absmax > 0, levels / np.maximum(absmax, 1e-30), 0.0).astype(np.float32)
