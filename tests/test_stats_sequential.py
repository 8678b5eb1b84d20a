"""The group-sequential design: boundaries by numerical integration checked against an
independent Monte Carlo of the Gaussian process, then the engine (``run_sequential`` on
win/tie/loss scores, the same functions the gate calls between batches) checked by seeded
simulation: false-block and miss rates at their levels across all looks, fewer judgments
than the fixed gate, an exhausted pool is inconclusive."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.stats import (
    SequentialSpec,
    design_sequential,
    look_target,
    operating_characteristics,
    required_prompts_margin,
    run_sequential,
    score_sd,
)

SPEC = SequentialSpec(margin=0.025, regression=0.05, alpha=0.05, power=0.8, looks=10)


def test_one_look_is_the_fixed_test() -> None:
    d = design_sequential(SequentialSpec(margin=0.02, regression=0.05, looks=1))
    assert d.regression_z == d.pass_z == (pytest.approx(1.6448536),)
    assert d.inflation == pytest.approx(1.0)
    sd = score_sd(0.45, 0.3)
    assert math.ceil(d.max_prompts(sd)) == required_prompts_margin(0.05, 0.02, tie_rate=0.3)


@pytest.mark.parametrize(("looks", "rho"), [(10, 1.0), (5, 2.0), (20, 1.0)])
def test_boundaries_spend_exactly_alpha_and_beta(looks: int, rho: float) -> None:
    d = design_sequential(SequentialSpec(margin=0.02, regression=0.05, looks=looks, rho=rho))
    at_threshold = operating_characteristics(d, 0.0)
    at_alternative = operating_characteristics(d, d.drift)
    assert at_threshold.p_regression == pytest.approx(0.05, abs=1e-6)
    assert at_alternative.p_pass == pytest.approx(0.2, abs=1e-6)
    assert sum(at_threshold.stop_probabilities) == pytest.approx(1.0, abs=1e-6)
    b, a = np.array(d.regression_z), np.array(d.pass_z)
    assert np.all(np.diff(b) < 0) and np.all(np.diff(a) > 0) and a[-1] == b[-1]
    assert 1.0 < d.inflation < 1.5


def test_numerical_integration_agrees_with_monte_carlo_of_the_process() -> None:
    """Simulate the canonical process (independent Gaussian increments of the score) and
    apply the boundaries: crossing rates match the integration within Monte Carlo error."""
    d = design_sequential(SPEC)
    rng = np.random.default_rng(0)
    t = np.array(d.fractions)
    for drift in (0.0, d.drift, 0.5 * d.drift, -d.drift):
        inc = rng.normal(drift * np.diff(t, prepend=0.0), np.sqrt(np.diff(t, prepend=0.0)),
                         size=(200_000, t.size))
        z = np.cumsum(inc, axis=1) / np.sqrt(t)
        up = z >= np.array(d.regression_z)
        down = z <= np.array(d.pass_z)
        stop = np.argmax(up | down, axis=1)
        regression = up[np.arange(z.shape[0]), stop]
        oc = operating_characteristics(d, drift)
        assert regression.mean() == pytest.approx(oc.p_regression, abs=0.003)
        assert (t[stop].mean() == pytest.approx(oc.expected_fraction, abs=0.003))


def simulate(win_rate: float, ties: float, runs: int, seed: int, pool: int = 4000,
             spec: SequentialSpec = SPEC) -> tuple[dict[str, float], float]:
    """Decision shares and mean valid prompts used over seeded runs."""
    d = design_sequential(spec)
    rng = np.random.default_rng(seed)
    wins = win_rate - ties / 2
    decisions = {"regression": 0, "pass": 0, "inconclusive": 0}
    used = 0
    for _ in range(runs):
        scores = rng.choice([1.0, 0.5, 0.0], size=pool, p=[wins, ties, 1 - ties - wins])
        result = run_sequential(d, scores)
        decisions[result.decision] += 1
        used += result.n
    return {k: v / runs for k, v in decisions.items()}, used / runs


def noise(p: float, runs: int) -> float:
    return 2.5 * math.sqrt(p * (1 - p) / runs)


@pytest.mark.parametrize("ties", [0.0, 0.3])
def test_false_block_rate_at_the_threshold_across_all_looks(ties: float) -> None:
    runs = 4000
    shares, _ = simulate(0.475, ties, runs, seed=int(100 * ties) + 1)
    assert shares["regression"] <= 0.05 + noise(0.05, runs), shares
    equal, _ = simulate(0.5, ties, 1000, seed=int(100 * ties) + 2)
    assert equal["regression"] <= 0.005


@pytest.mark.parametrize("ties", [0.0, 0.3])
def test_miss_rate_at_the_regression_of_interest_across_all_looks(ties: float) -> None:
    runs = 3000
    shares, _ = simulate(0.45, ties, runs, seed=int(100 * ties) + 3)
    assert shares["pass"] <= 0.2 + noise(0.2, runs), shares
    assert shares["inconclusive"] == 0.0  # the pool is large enough: every run decides


def test_average_judgments_are_below_the_fixed_gate_when_the_difference_is_large() -> None:
    """True win rates 2× the margin or more away from 0.5, either direction (margin 0.025):
    the sequential gate uses fewer valid prompts on average than the fixed gate with the same
    error rates; far from the threshold, less than half."""
    ties = 0.3
    fixed = required_prompts_margin(0.05, 0.025, tie_rate=ties)
    ratios = {}
    for w in (0.40, 0.45, 0.55, 0.60):
        shares, mean_n = simulate(w, ties, 400, seed=int(1000 * w))
        ratios[w] = mean_n / fixed
        assert shares["regression" if w < 0.475 else "pass"] >= 0.78, (w, shares)
    print("sequential / fixed valid prompts:", {k: round(v, 3) for k, v in ratios.items()})
    assert all(r < 1.0 for r in ratios.values()), ratios
    assert ratios[0.40] < 0.5 and ratios[0.55] < 0.5 and ratios[0.60] < 0.5, ratios
    assert ratios[0.45] < 0.8, ratios  # the alternative itself: ≥ 0.62 for any design


def test_an_exhausted_pool_is_inconclusive_and_keeps_the_error_rates() -> None:
    """A pool about half the design's maximum: runs that reach its end undecided are
    inconclusive (never a pass); false blocks at the threshold and false passes at the
    alternative stay within α and β."""
    runs = 2000
    fixed = required_prompts_margin(0.05, 0.025, tie_rate=0.3)
    at_threshold, used = simulate(0.475, 0.3, runs, seed=21, pool=fixed // 2)
    assert at_threshold["inconclusive"] > 0.3
    assert at_threshold["regression"] <= 0.05 + noise(0.05, runs)
    assert used <= fixed // 2
    at_alternative, _ = simulate(0.45, 0.3, runs, seed=22, pool=fixed // 2)
    assert at_alternative["pass"] <= 0.2 + noise(0.2, runs)
    assert at_alternative["inconclusive"] > 0.3


def test_look_targets_follow_the_variance_and_respect_a_minimum() -> None:
    d = design_sequential(SPEC)
    first = look_target(d, 0, None)  # before any data: no ties assumed (largest sd)
    assert first == math.ceil(0.1 * d.max_prompts(math.sqrt(0.475 * 0.525)) - 1e-9)
    assert look_target(d, 0, score_sd(0.475, 0.3)) < first
    assert look_target(d, 0, None, minimum=5000) == 5000
    assert look_target(d, 3, 0.4, done=10_000) == 10_001
    r = run_sequential(d, np.full(3000, 0.2))  # zero spread, far below: blocks at look 1
    assert r.decision == "regression" and len(r.looks) == 1


def test_spec_rejects_impossible_designs() -> None:
    with pytest.raises(ValueError):
        SequentialSpec(margin=0.05, regression=0.04)
    with pytest.raises(ValueError):
        SequentialSpec(looks=0)
