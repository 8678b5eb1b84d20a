"""The fixed gate's promises, checked by seeded simulation at the level of per-prompt scores
(``gate.evaluate.evaluate`` on win/tie/loss scores drawn with a known true win rate):
false-block rate at most α at equality and at the margin boundary, power at the reported
minimum detectable regression, a one-sided bound that always agrees with the verdict, and
``max_mde`` / ``require = "non-inferiority"`` turning an underpowered run into exit 2."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.errors import ConfigError
from evalkit.gate.evaluate import evaluate
from evalkit.gate.policy import GatePolicy, parse_gate
from evalkit.stats.power import min_detectable_regression, required_prompts_margin

CATS = ("math", "coding", "law", "safety")


def draw(rng: np.random.Generator, win_rate: float, ties: float, n: int) -> np.ndarray:
    wins = win_rate - ties / 2
    return rng.choice([1.0, 0.5, 0.0], size=n, p=[wins, ties, 1 - ties - wins])


def run(policy: GatePolicy, scores: np.ndarray, tags: list[dict[str, str]] | None = None,
        seed: int = 0):
    counts = {"win": int(np.sum(scores == 1.0)), "tie": int(np.sum(scores == 0.5)),
              "loss": int(np.sum(scores == 0.0))}
    return evaluate(policy, list(scores), tags or [{}] * scores.size, counts, seed=seed,
                    n_boot=0)  # the two-sided CI is for display only


def block_rate(policy: GatePolicy, win_rate: float, ties: float, n: int, runs: int,
               seed: int, tags: list[dict[str, str]] | None = None) -> float:
    rng = np.random.default_rng(seed)
    return float(np.mean([run(policy, draw(rng, win_rate, ties, n), tags, r).decision
                          == "regression" for r in range(runs)]))


def noise(p: float, runs: int) -> float:
    return 2.5 * math.sqrt(p * (1 - p) / runs)


@pytest.mark.parametrize(("win_rate", "margin"), [(0.5, 0.02), (0.48, 0.02), (0.5, 0.0)])
def test_false_block_rate_at_most_alpha_at_equality_and_at_the_margin(win_rate: float,
                                                                      margin: float) -> None:
    """Equal checkpoints (0.5), and a candidate exactly at the threshold 0.5 − margin."""
    policy = GatePolicy(margin=margin, min_valid=50, tags={})
    rate = block_rate(policy, win_rate, 0.3, 300, 1500, seed=int(win_rate * 1000 + margin * 100))
    assert rate <= 0.05 + noise(0.05, 1500), rate
    if win_rate == 0.5 - margin:
        assert rate >= 0.05 - noise(0.05, 1500), rate  # exactly α at the boundary


def test_false_block_rate_with_tag_rules_and_holm_at_the_boundary() -> None:
    """Every rule at its own threshold, 5 rules, Holm: the family-wise false-block rate is at
    most α."""
    policy = GatePolicy(margin=0.02, min_valid=50, tags={"category": {"safety": 0.0}})
    tags = [{"category": CATS[i % 4]} for i in range(400)]
    rng = np.random.default_rng(7)
    thresholds = np.array([0.5 if t["category"] == "safety" else 0.48 for t in tags])
    blocked = 0
    runs = 800
    for r in range(runs):
        u = rng.random(400)
        ties = 0.25
        wins = thresholds - ties / 2
        scores = np.where(u < wins, 1.0, np.where(u < wins + ties, 0.5, 0.0))
        blocked += run(policy, scores, tags, r).decision == "regression"
    assert blocked / runs <= 0.05 + noise(0.05, runs)


def test_power_at_the_reported_mde_matches_its_promise() -> None:
    """Margin 0.02, 30% ties: the MDE says 1,185 prompts detect a win rate of 0.45 with 80%
    power. The simulated block rate at 0.45 is 0.80 within simulation error, and the MDE each
    run reports (tie rate estimated from its data) is 0.05 ± 0.003."""
    n = required_prompts_margin(0.05, 0.02, tie_rate=0.3)
    assert n == 1185
    assert min_detectable_regression(n, 0.02, tie_rate=0.3) == pytest.approx(0.05, abs=1e-4)
    policy = GatePolicy(margin=0.02, min_valid=50, tags={})
    rng = np.random.default_rng(11)
    runs = 1200
    results = [run(policy, draw(rng, 0.45, 0.3, n), seed=r) for r in range(runs)]
    rate = np.mean([r.decision == "regression" for r in results])
    assert abs(rate - 0.8) <= 0.035, rate
    mdes = np.array([r.rules[0].mde for r in results])
    assert np.all(np.abs(mdes - 0.05) < 0.003)
    # the old planning advice (548 prompts, no margin, two-sided) has ~0.53 power here
    weak = block_rate(policy, 0.45, 0.3, 548, 600, seed=12)
    assert 0.45 < weak < 0.6, weak


def test_with_several_rules_the_mde_is_at_alpha_over_m_and_says_so() -> None:
    policy = GatePolicy(margin=0.02, min_valid=50, tags={"category": {}})
    tags = [{"category": CATS[i % 4]} for i in range(400)]
    result = run(policy, draw(np.random.default_rng(3), 0.5, 0.3, 400), tags)
    overall = result.rules[0]
    assert overall.mde_alpha == pytest.approx(0.01)  # 5 rules, Holm's first step
    assert overall.mde == pytest.approx(min_detectable_regression(
        400, 0.02, tie_rate=overall.tie_rate, alpha=0.01), rel=1e-9)
    assert result.decision == "pass" and overall.underpowered
    assert "Passed, but this run could only detect a drop to" in result.notes[0]
    assert "holm first step over 5 rules" in result.notes[0]
    assert f"{overall.needed_n:,} valid prompts would detect 0.450" in result.notes[0]


def test_the_one_sided_bound_always_agrees_with_the_verdict() -> None:
    """Blocked ⇔ the reported upper bound is below the threshold, for every rule, with Holm
    and BH (the bound's level is α·p/p_adj)."""
    tags = [{"category": CATS[i % 4]} for i in range(240)]
    rng = np.random.default_rng(5)
    seen = {"regression": 0, "pass": 0}
    for correction in ("holm", "bh", "none"):
        policy = GatePolicy(margin=0.02, min_valid=50, correction=correction,
                            tags={"category": {"safety": 0.0}})
        for r in range(60):
            scores = draw(rng, 0.40 + 0.002 * r, 0.2, 240)
            for rule in run(policy, scores, tags, r).rules:
                assert rule.bound is not None and rule.bound_level is not None
                assert (rule.bound < rule.threshold) == (rule.verdict == "regression"), rule
                assert rule.bound_level >= 0.95 - 1e-12
                seen[rule.verdict] += 1
    assert seen["regression"] > 50 and seen["pass"] > 50


def test_max_mde_makes_an_underpowered_pass_inconclusive() -> None:
    policy = GatePolicy(margin=0.02, min_valid=50, tags={}, max_mde=0.05)
    small = run(policy, draw(np.random.default_rng(1), 0.5, 0.3, 300))
    assert small.decision == "inconclusive" and small.exit_code == 2
    check = next(c for c in small.checks if c["name"] == "max_mde")
    assert not check["ok"] and "valid prompts would do" in check["message"]
    assert "Inconclusive: this run could only detect" in small.notes[0]
    big = run(policy, draw(np.random.default_rng(2), 0.5, 0.3, 1400))
    assert big.decision == "pass" and big.exit_code == 0
    assert next(c for c in big.checks if c["name"] == "max_mde")["ok"]
    assert big.notes[0].startswith("This run would block a drop to 0.450")
    # evidence of harm stands even when underpowered
    harm = run(policy, draw(np.random.default_rng(3), 0.3, 0.3, 300))
    assert harm.decision == "regression" and harm.exit_code == 1


def test_non_inferiority_passes_only_what_it_shows() -> None:
    policy = GatePolicy(margin=0.02, min_valid=50, tags={}, require="non-inferiority")
    equal = run(policy, draw(np.random.default_rng(4), 0.5, 0.3, 200))
    assert equal.decision == "inconclusive" and equal.exit_code == 2
    rule = equal.rules[0]
    assert rule.verdict == "inconclusive" and rule.lower_bound <= rule.threshold
    better = run(policy, draw(np.random.default_rng(5), 0.62, 0.3, 200))
    assert better.decision == "pass" and better.rules[0].lower_bound > 0.48
    worse = run(policy, draw(np.random.default_rng(6), 0.3, 0.3, 200))
    assert worse.decision == "regression" and worse.exit_code == 1


def test_non_inferiority_false_pass_rate_at_the_boundary_is_at_most_alpha() -> None:
    """At the threshold itself the gate must not claim non-inferiority more than α of the
    time — with tag rules too (every rule must show it: an intersection–union test)."""
    policy = GatePolicy(margin=0.02, min_valid=50, tags={}, require="non-inferiority")
    rng = np.random.default_rng(8)
    runs = 1500
    passes = np.mean([run(policy, draw(rng, 0.48, 0.3, 300), seed=r).decision == "pass"
                      for r in range(runs)])
    assert passes <= 0.05 + noise(0.05, runs)


@pytest.mark.parametrize(("raw", "words"), [
    ({"require": "strict"}, "require"), ({"power": 1.2}, "power"),
    ({"max_mde": 0.01, "margin": 0.02}, "max_mde"), ({"looks": 0}, "looks"),
    ({"sequential": "yes"}, "true or false"), ({"power": True}, "power"),
    ({"sequential": True, "tags": {"category": {"math": 0.0}}}, "overall win rate only"),
    ({"sequential": True, "require": "non-inferiority"}, "no sequential design"),
    ({"spending": 9.0}, "spending"),
])
def test_new_policy_options_are_validated_in_one_line(raw: dict, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_gate(raw)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_policy_options_parse() -> None:
    policy = parse_gate({"require": "non-inferiority", "power": 0.9, "max_mde": 0.06,
                         "looks": 8, "spending": 2})
    assert policy.power == 0.9 and policy.max_mde == 0.06 and policy.reference(0.02) == 0.06
    assert policy.reference(0.0) == pytest.approx(0.04)  # tag rules: same distance beyond
    assert parse_gate({"sequential": True}).sequential
    assert GatePolicy().reference(0.02) == pytest.approx(0.05)
