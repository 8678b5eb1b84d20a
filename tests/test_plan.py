"""Planning the gate's sample size: the one-sided margin test (library and ``evalkit plan``),
checked against closed-form values and by simulation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import run_cli
from scipy import stats as st

from evalkit.stats import (
    PlanSpec,
    SequentialSpec,
    design_sequential,
    min_detectable_regression,
    plan_margin_test,
    required_prompts,
    required_prompts_margin,
    run_sequential,
)


def test_the_issue_example() -> None:
    """Margin 0.02, 30% ties, catch 0.45: threshold 0.48, d = 0.03, sd = 0.415,
    n = ((1.645 + 0.842) · 0.415 / 0.03)² ≈ 1,185 — not the 548 of the test against 0.5."""
    assert required_prompts_margin(0.05, 0.02, tie_rate=0.3) == 1185
    assert required_prompts(0.05, tie_rate=0.3) == 548  # unchanged, but a different question
    assert required_prompts_margin(0.05, 0.02, tie_rate=0.3, alpha=0.01) > 1185


@pytest.mark.parametrize(("margin", "ties"), [(0.0, 0.0), (0.02, 0.3), (0.05, 0.1)])
def test_mde_inverts_required_prompts(margin: float, ties: float) -> None:
    for n in (50, 200, 1000, 5000):
        r = min_detectable_regression(n, margin, tie_rate=ties)
        assert margin < r < 0.5
        assert required_prompts_margin(r, margin, tie_rate=ties) in (n, n + 1)
    for r in (margin + 0.01, margin + 0.05, margin + 0.15):
        n = required_prompts_margin(r, margin, tie_rate=ties)
        assert min_detectable_regression(n, margin, tie_rate=ties) <= r + 1e-12
        assert min_detectable_regression(n - 1, margin, tie_rate=ties) > r
    assert min_detectable_regression(1, margin, tie_rate=ties) == math.inf


@pytest.mark.parametrize(("regression", "margin", "ties"),
                         [(0.05, 0.02, 0.3), (0.1, 0.0, 0.0), (0.08, 0.03, 0.2)])
def test_simulated_power_of_the_gate_test_at_the_planned_n(regression: float, margin: float,
                                                           ties: float) -> None:
    """The gate's one-sided t-test on win/tie/loss scores, vectorised over 6,000 runs."""
    n = required_prompts_margin(regression, margin, tie_rate=ties)
    w = 0.5 - regression
    counts = np.random.default_rng(int(1000 * regression)).multinomial(
        n, [w - ties / 2, ties, 1 - ties / 2 - w], size=6000)
    wins, tie, losses = counts.T
    mean = (wins + 0.5 * tie) / n
    var = (wins * (1 - mean) ** 2 + tie * (0.5 - mean) ** 2 + losses * mean ** 2) / (n - 1)
    p = st.t.cdf((mean - (0.5 - margin)) / np.sqrt(var / n), n - 1)
    assert abs(np.mean(p < 0.05) - 0.8) < 0.025


def test_plan_fixed_and_sequential() -> None:
    plan = plan_margin_test(PlanSpec(margin=0.025, regression=0.05, tie_rate=0.3, looks=10))
    assert plan.fixed_n == required_prompts_margin(0.05, 0.025, tie_rate=0.3)
    seq = plan.sequential
    assert seq is not None and seq.max_n > plan.fixed_n and len(seq.look_n) == 10
    assert seq.expected_n_alternative < plan.fixed_n
    assert seq.expected_n_equal < 0.3 * plan.fixed_n
    assert plan_margin_test(PlanSpec(margin=0.02, regression=0.05, rules=5)).alpha_per_rule \
        == pytest.approx(0.01)
    one = plan_margin_test(PlanSpec(margin=0.02, regression=0.05, tie_rate=0.3, looks=1))
    assert one.sequential is not None
    assert one.sequential.look_n[0] == one.fixed_n  # one look is the fixed test


def test_planned_expected_n_matches_simulation_of_the_engine() -> None:
    plan = plan_margin_test(PlanSpec(margin=0.025, regression=0.05, tie_rate=0.3, looks=10))
    d = design_sequential(SequentialSpec(margin=0.025, regression=0.05, looks=10))
    rng = np.random.default_rng(4)
    expect = {0.45: plan.sequential.expected_n_alternative,
              0.5: plan.sequential.expected_n_equal}
    for w, planned in expect.items():
        used = [run_sequential(d, rng.choice([1.0, 0.5, 0.0], size=4000,
                                             p=[w - 0.15, 0.3, 0.85 - w])).n
                for _ in range(300)]
        assert np.mean(used) == pytest.approx(planned, rel=0.12), (w, planned)


def test_plan_cli_json_matches_the_library(tmp_path) -> None:
    out = json.loads(run_cli(["plan", "--margin", "0.02", "--power", "0.8", "--ties", "0.3",
                              "--regression", "0.05", "--json"], tmp_path).stdout)
    assert out["fixed"]["prompts"] == required_prompts_margin(0.05, 0.02, tie_rate=0.3)
    assert abs(out["fixed"]["prompts"] - 1184) <= 1  # the figure in the issue, rounded
    assert out["threshold"] == pytest.approx(0.48) and out["win_rate"] == pytest.approx(0.45)
    assert out["sequential"] is None
    seq = json.loads(run_cli(["plan", "--margin", "0.025", "--win-rate", "0.45", "--ties",
                              "0.3", "--sequential", "--looks", "10", "--json"],
                             tmp_path).stdout)
    lib = plan_margin_test(PlanSpec(margin=0.025, regression=0.05, tie_rate=0.3, looks=10))
    assert seq["fixed"]["prompts"] == lib.fixed_n
    assert seq["sequential"]["max_prompts"] == lib.sequential.max_n
    assert seq["sequential"]["expected_prompts"]["at_win_rate"] == pytest.approx(
        lib.sequential.expected_n_alternative, abs=0.06)
    text = run_cli(["plan", "--margin", "0.02", "--ties", "0.3", "--sequential"],
                   tmp_path).stdout
    assert "fixed gate:      1,185 valid prompts" in text and "sequential gate: at most" in text


@pytest.mark.parametrize(("args", "words"), [
    (["--regression", "0.05", "--win-rate", "0.45"], "not both"),
    (["--margin", "0.05", "--regression", "0.04"], "between the margin and 0.5"),
    (["--power", "1.5"], "--power"), (["--ties", "0.95", "--regression", "0.1"], "tie rate"),
])
def test_plan_errors_are_one_line(tmp_path, args: list[str], words: str) -> None:
    proc = run_cli(["plan", *args], tmp_path, check=False)
    assert proc.returncode == 2 and words in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
