"""BCa interval for the mean: agreement with scipy, skewed data, coverage by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st

from evalkit.stats.bootstrap import bca_ci, bootstrap_means, percentile_ci


def test_bca_matches_scipy_bca_on_continuous_and_three_valued_scores() -> None:
    rng = np.random.default_rng(1)
    for x in (rng.lognormal(0.0, 1.0, 40), rng.choice([0.0, 0.5, 1.0], p=[0.2, 0.2, 0.6],
                                                        size=150)):
        ours = bca_ci(x, n_boot=50_000, seed=0)
        ref = st.bootstrap((x,), np.mean, method="BCa", n_resamples=50_000,
                           random_state=0).confidence_interval
        width = ref.high - ref.low
        assert ours[0] == pytest.approx(ref.low, abs=0.03 * width)
        assert ours[1] == pytest.approx(ref.high, abs=0.03 * width)


def test_bca_shifts_right_of_percentile_for_right_skewed_data() -> None:
    """Right skew gives positive acceleration: BCa moves both ends up (the percentile interval
    is too short on the long-tail side), and covers the truth more often at small n."""
    x = np.random.default_rng(2).lognormal(0.0, 1.0, 30)
    reps = bootstrap_means(x, 20_000, 0)
    p_lo, p_hi = percentile_ci(reps)
    b_lo, b_hi = bca_ci(x, n_boot=20_000, seed=0)
    assert b_lo > p_lo and b_hi > p_hi
    truth = float(np.exp(0.5))
    rng = np.random.default_rng(3)
    cover_bca = cover_pct = 0
    sims = 600
    for sim in range(sims):
        y = rng.lognormal(0.0, 1.0, 20)
        lo, hi = bca_ci(y, n_boot=1000, seed=sim)
        cover_bca += lo <= truth <= hi
        lo, hi = percentile_ci(bootstrap_means(y, 1000, sim))
        cover_pct += lo <= truth <= hi
    assert cover_bca > cover_pct + 0.01 * sims


def test_bca_covers_the_win_rate_of_three_valued_scores() -> None:
    probs = np.array([0.25, 0.15, 0.60])  # loss, tie, win
    truth = float(probs @ [0.0, 0.5, 1.0])
    rng = np.random.default_rng(4)
    sims, covered = 800, 0
    for sim in range(sims):
        scores = rng.choice([0.0, 0.5, 1.0], p=probs, size=200)
        lo, hi = bca_ci(scores, n_boot=2000, seed=sim)
        covered += lo <= truth <= hi
    assert 0.93 <= covered / sims <= 0.97, covered / sims


def test_bca_degenerate_cases() -> None:
    assert bca_ci(np.ones(7)) == (1.0, 1.0)
    assert bca_ci(np.full(3, 0.5)) == (0.5, 0.5)
    assert bca_ci(np.array([0.25])) == (0.25, 0.25)
    lo, hi = bca_ci(np.array([]))
    assert np.isnan(lo) and np.isnan(hi)
    lo, hi = bca_ci(np.array([0.0] * 49 + [1.0]), n_boot=2000)
    assert 0.0 <= lo <= 0.02 <= hi <= 1.0


def test_bca_is_deterministic_for_a_seed() -> None:
    x = np.random.default_rng(5).choice([0.0, 0.5, 1.0], size=100)
    assert bca_ci(x, seed=7) == bca_ci(x, seed=7)
