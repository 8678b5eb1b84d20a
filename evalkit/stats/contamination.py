"""Score on the clean subset beside the full score, and the estimated gain from contamination
(full minus clean) with a paired bootstrap CI. Pure numpy, no I/O, seeded.

The two scores share the clean items, so they are not independent: each bootstrap round
resamples items (prompts or benchmark documents) once and computes both scores on the same
resample, which keeps the pairing. The gain equals ``(n_dirty / n) * (dirty − clean)``; a CI
that excludes 0 says the contaminated items score credibly differently from the clean ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CI_METHOD = "paired percentile bootstrap (items resampled; both scores on each resample)"


@dataclass(frozen=True)
class CleanGain:
    n: int
    n_clean: int
    full: float
    clean: float
    contaminated: float  # the score on the items that are not clean
    gain: float  # full − clean
    ci: tuple[float, float]
    level: float
    n_boot: int
    ci_method: str = CI_METHOD

    def as_dict(self) -> dict[str, object]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else round(float(x), 6)

        return {"n": self.n, "n_clean": self.n_clean, "n_contaminated": self.n - self.n_clean,
                "full": num(self.full), "clean": num(self.clean),
                "contaminated": num(self.contaminated), "gain": num(self.gain),
                "ci": [num(self.ci[0]), num(self.ci[1])], "ci_level": self.level,
                "n_boot": self.n_boot, "ci_method": self.ci_method}


def clean_gain(scores: np.ndarray, clean: np.ndarray, *, level: float = 0.95,
               n_boot: int = 10_000, seed: int = 0) -> CleanGain:
    """``scores[i]`` is item i's score (a win-rate score in [0, 1], or a benchmark metric);
    ``clean[i]`` says whether item i is clean."""
    s = np.asarray(scores, dtype=float).ravel()
    c = np.asarray(clean, dtype=bool).ravel()
    if s.shape != c.shape:
        raise ValueError("scores and clean must have one value per item")
    if not 0.5 < level < 1:
        raise ValueError("level must be in (0.5, 1)")
    n, k = int(s.size), int(c.sum())
    nan = float("nan")
    if n == 0:
        return CleanGain(0, 0, nan, nan, nan, nan, (nan, nan), level, 0)
    full = float(s.mean())
    clean_score = float(s[c].mean()) if k else nan
    dirty_score = float(s[~c].mean()) if k < n else nan
    if k == 0:
        return CleanGain(n, 0, full, nan, dirty_score, nan, (nan, nan), level, 0)
    if k == n:
        return CleanGain(n, n, full, clean_score, nan, 0.0, (0.0, 0.0), level, 0)
    rng = np.random.default_rng(seed)
    gains = np.empty(n_boot)
    block = max(1, 2_000_000 // n)
    sc = s * c
    for at in range(0, n_boot, block):
        b = min(block, n_boot - at)
        idx = rng.integers(0, n, size=(b, n))
        tot = s[idx].sum(axis=1)
        cs = sc[idx].sum(axis=1)
        cn = c[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            gains[at:at + b] = tot / n - cs / cn
    gains = gains[np.isfinite(gains)]  # a resample with no clean item has no clean score
    tail = (1 - level) / 2
    lo, hi = (float(x) for x in np.quantile(gains, [tail, 1 - tail]))
    return CleanGain(n, k, full, clean_score, dirty_score, full - clean_score, (lo, hi),
                     level, n_boot)
