"""One-Euro filter (Casiez et al., CHI 2012): little lag when moving fast, little jitter when still."""
from __future__ import annotations

import math

import numpy as np


class OneEuroFilter:
    """Filters an array of any fixed shape sampled at `freq` Hz.

    min_cutoff (Hz): lower = smoother when still, more lag. beta: higher = less lag when moving fast.
    d_cutoff (Hz): cutoff of the speed estimate.
    """

    def __init__(self, freq: float, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        if freq <= 0 or min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"OneEuroFilter needs freq, min_cutoff, d_cutoff > 0 and beta ≥ 0; got "
                             f"{freq}, {min_cutoff}, {d_cutoff}, {beta}")
        self.freq, self.min_cutoff, self.beta, self.d_cutoff = freq, min_cutoff, beta, d_cutoff
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * self.freq)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.x is None:
            self.x, self.dx = x.copy(), np.zeros_like(x)
            return x.astype(np.float32)
        dx = (x - self.x) * self.freq
        a_d = self._alpha(self.d_cutoff)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self.dx))
        self.x = a * x + (1 - a) * self.x
        return self.x.astype(np.float32)
