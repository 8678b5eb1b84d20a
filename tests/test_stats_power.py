"""Sample size and minimum detectable difference, checked by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from evalkit.stats.power import min_detectable_difference, required_prompts


def _simulated_power(d: float, tie: float, n: int, sims: int, seed: int) -> tuple[float, float]:
    """Power of the planned z-test (null variance) and of the prompt-level t-test."""
    w = 0.5 + d - tie / 2
    counts = np.random.default_rng(seed).multinomial(n, [w, tie, 1 - tie - w], size=sims)
    wins, ties, losses = counts.T
    mean = (wins + 0.5 * ties) / n
    z = (mean - 0.5) / np.sqrt((1 - tie) / 4 / n)
    var = (wins * (1 - mean) ** 2 + ties * (0.5 - mean) ** 2 + losses * mean ** 2) / (n - 1)
    t = (mean - 0.5) / np.sqrt(var / n)
    p_z = 2 * st.norm.sf(np.abs(z))
    p_t = 2 * st.t.sf(np.abs(t), n - 1)
    return float(np.mean(p_z < 0.05)), float(np.mean(p_t < 0.05))


@pytest.mark.parametrize(("d", "tie"), [(0.1, 0.0), (0.1, 0.2), (0.05, 0.3), (0.08, 0.1)])
def test_simulated_power_at_required_prompts_is_80_percent(d: float, tie: float) -> None:
    n = required_prompts(d, tie_rate=tie)
    power_z, power_t = _simulated_power(d, tie, n, sims=4000, seed=int(1000 * d + 10 * tie))
    assert abs(power_z - 0.8) <= 0.04, power_z
    assert abs(power_t - 0.8) <= 0.04, power_t


def test_known_values_and_tie_effect() -> None:
    # No ties, d = 0.1: ((1.96 * 0.5 + 0.8416 * sqrt(0.24)) / 0.1)^2 = 193.2 -> 194.
    assert required_prompts(0.1) == 194
    assert required_prompts(0.1, tie_rate=0.2) < required_prompts(0.1)
    assert required_prompts(0.1, two_sided=False) < required_prompts(0.1)
    assert required_prompts(0.1, power=0.9) > required_prompts(0.1)
    assert required_prompts(-0.1) == required_prompts(0.1)
    with pytest.raises(ValueError):
        required_prompts(0.45, tie_rate=0.2)
    with pytest.raises(ValueError):
        required_prompts(0.0)


@pytest.mark.parametrize("tie", [0.0, 0.15, 0.4])
@pytest.mark.parametrize("two_sided", [True, False])
def test_mdd_inverts_required_prompts(tie: float, two_sided: bool) -> None:
    for n in (20, 50, 100, 300, 1000, 5000):
        d = min_detectable_difference(n, tie_rate=tie, two_sided=two_sided)
        assert math.isfinite(d)
        n_req = required_prompts(d, tie_rate=tie, two_sided=two_sided)
        assert n_req == n or (n_req == n + 1 and d > 0)  # ceil() of a float equal to n
        assert required_prompts(d * 1.01, tie_rate=tie, two_sided=two_sided) <= n
    for d in (0.03, 0.07, 0.12, 0.2):
        n = required_prompts(d, tie_rate=tie, two_sided=two_sided)
        assert min_detectable_difference(n, tie_rate=tie, two_sided=two_sided) <= d
        assert min_detectable_difference(n - 1, tie_rate=tie, two_sided=two_sided) > d


def test_mdd_shrinks_with_n_and_is_inf_when_nothing_is_detectable() -> None:
    values = [min_detectable_difference(n) for n in (10, 40, 160, 640)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert values[1] / values[3] == pytest.approx(4.0, rel=0.05)  # ~1/sqrt(n)
    assert min_detectable_difference(1) == math.inf
    assert min_detectable_difference(2, tie_rate=0.9) == math.inf
