"""Two checkpoints on the same benchmark items: the paired difference, with the item (the
benchmark's document) as the unit. Pure numpy/scipy, no I/O; the bootstrap is seeded.

Both checkpoints answered the same documents, so the differences ``d_i = b_i − a_i`` carry
all the information: an unpaired test (lm-eval's comparator runs a z-test on the two
accuracies as if the samples were independent) ignores that most items are right or wrong
for both, and its interval is too wide when the checkpoints agree and wrong in general.

- ``paired_delta``: ``mean(d)`` with a paired percentile bootstrap CI (documents resampled,
  both answers together) and a two-sided test — McNemar's exact test on the discordant items
  when every value is 0 or 1, else the paired t-test.
- ``mcnemar_exact``: the exact McNemar p-value from the discordant counts.
- ``min_detectable_drop``: the smallest true drop beyond ``tolerance`` a one-sided test at
  ``alpha`` sees with ``power`` (normal approximation, the observed spread of ``d``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from .bootstrap import bootstrap_means
from .hypothesis import sign_test

CI_METHOD = "paired percentile bootstrap (documents resampled)"


@dataclass(frozen=True)
class PairedDelta:
    """B minus A on ``n`` shared documents. ``a_only``: items only A got right (regressions of
    B); ``b_only``: items only B got right (binary metrics; 0 otherwise)."""

    n: int
    mean_a: float
    mean_b: float
    delta: float
    se: float
    ci: tuple[float, float]
    level: float
    binary: bool
    a_only: int
    b_only: int
    p_value: float
    test: str
    n_boot: int
    ci_method: str = CI_METHOD


def mcnemar_exact(b_only: int, a_only: int) -> float:
    """Exact two-sided McNemar test: ``b_only ~ Binomial(b_only + a_only, 1/2)`` under H0."""
    return sign_test(int(b_only), int(a_only), alternative="two-sided")


def paired_delta(a: np.ndarray, b: np.ndarray, *, level: float = 0.95, n_boot: int = 10_000,
                 seed: int = 0) -> PairedDelta:
    """The paired difference ``mean(b − a)``; ``a[i]`` and ``b[i]`` are one document's
    metric values for the two checkpoints."""
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError("a and b must hold one value per shared document")
    if not 0.5 < level < 1:
        raise ValueError("level must be in (0.5, 1)")
    n = int(a.size)
    binary = bool(n) and bool(np.all(np.isin(a, (0.0, 1.0))) and np.all(np.isin(b, (0.0, 1.0))))
    if n == 0:
        nan = float("nan")
        return PairedDelta(0, nan, nan, nan, nan, (nan, nan), level, False, 0, 0, nan,
                           "no shared documents", 0)
    d = b - a
    delta = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    reps = bootstrap_means(d, n_boot, seed)
    tail = (1 - level) / 2
    lo, hi = (float(x) for x in np.quantile(reps, [tail, 1 - tail]))
    a_only = int(np.count_nonzero((a == 1) & (b == 0))) if binary else 0
    b_only = int(np.count_nonzero((a == 0) & (b == 1))) if binary else 0
    if binary:
        p, test = mcnemar_exact(b_only, a_only), "exact McNemar (discordant documents)"
    elif n > 1 and se > 0:
        p = float(2 * _st.t.sf(abs(delta) / se, n - 1))
        test = "paired t-test"
    else:
        p, test = (1.0 if delta == 0 else 0.0), "paired t-test (no spread)"
    return PairedDelta(n=n, mean_a=float(a.mean()), mean_b=float(b.mean()), delta=delta,
                       se=se, ci=(lo, hi), level=level, binary=binary, a_only=a_only,
                       b_only=b_only, p_value=min(1.0, p), test=test, n_boot=int(n_boot))


def min_detectable_drop(d: np.ndarray, tolerance: float, *, alpha: float,
                        power: float) -> float | None:
    """The smallest true drop (a positive number) that the one-sided test of H0
    ``delta ≥ −tolerance`` rejects with probability ``power`` at level ``alpha``; None when
    the differences have no spread to plan with."""
    d = np.asarray(d, dtype=float).ravel()
    if d.size < 2:
        return None
    sd = float(d.std(ddof=1))
    if sd == 0:
        return None
    z = float(_st.norm.isf(alpha) + _st.norm.ppf(power))
    return tolerance + z * sd / math.sqrt(d.size)
