"""Judging each pair once (``both_orders = false``): the order is a seeded fair coin per prompt
and sample, so a position-biased judge adds noise, not a shift."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

from evalkit import stats
from evalkit.judging.orders import candidate_first
from evalkit.judging.outcomes import OrderVerdict, prompt_outcome
from evalkit.judging.parse import Verdict

BIAS = 0.2  # the judge answers "A" (the first answer shown) on 20% of the pairs, whatever they say
TIE = 0.1


def _score_table() -> dict[tuple[str, bool], float]:
    """The candidate's score for each (label, candidate shown first), from compare's own rule."""
    table = {}
    for label in ("A", "B", "tie"):
        for cf in (True, False):
            verdict = Verdict(label, 0 if label == "tie" else 1)
            table[label, cf] = prompt_outcome([OrderVerdict(verdict, cf)])[2]
    return table


def _one_order_scores(rng: np.random.Generator, cand_first: np.ndarray) -> np.ndarray:
    """Equal models: a tie with probability TIE, else either answer wins with probability 1/2;
    then the judge's first-position bias; then compare's outcome rule for one order."""
    n = cand_first.size
    outcome = np.where(rng.random(n) < TIE, 2, (rng.random(n) < 0.5).astype(int))  # 1 cand wins
    cand_label = np.where(cand_first, 0, 1)  # 0 = "A", 1 = "B": the candidate's position
    label = np.where(outcome == 2, 2, np.where(outcome == 1, cand_label, 1 - cand_label))
    label = np.where(rng.random(n) < BIAS, 0, label)
    table = _score_table()
    lookup = np.array([[table[lab, cf] for cf in (False, True)] for lab in ("A", "B", "tie")])
    return lookup[label, cand_first.astype(int)]


def test_order_coin_is_seeded_balanced_and_independent_across_samples() -> None:
    flips = [candidate_first(0, f"h{i}", 0) for i in range(4000)]
    assert flips == [candidate_first(0, f"h{i}", 0) for i in range(4000)]  # a rerun: same orders
    assert abs(np.mean(flips) - 0.5) < 0.03
    other_seed = [candidate_first(1, f"h{i}", 0) for i in range(4000)]
    other_sample = [candidate_first(0, f"h{i}", 1) for i in range(4000)]
    for other in (other_seed, other_sample):
        agree = np.mean(np.array(flips) == np.array(other))
        assert abs(agree - 0.5) < 0.03


def test_one_order_with_a_position_biased_judge_covers_half() -> None:
    """1,000 simulated comparisons of 300 prompts between equal models, judged once each by a
    judge with a 20% first-position bias. Randomised orders: the 95% CI covers 0.5 in 93-97% of
    them (measured 0.948) and the mean win rate is 0.5 (0.499). The candidate always first (the
    old behaviour): the win rate moves to 0.600 and the CI covers 0.5 in 4% of them."""
    sims, n = 1000, 300
    covered = shown_first = 0
    means, always_covered = [], 0
    for sim in range(sims):
        rng = np.random.default_rng(sim)
        cf = np.array([candidate_first(sim, f"prompt-{sim}-{i}", 0) for i in range(n)])
        shown_first += int(cf.sum())
        summary = stats.win_rate_summary(_one_order_scores(rng, cf))
        lo, hi = summary["ci"]
        covered += lo <= 0.5 <= hi
        means.append(summary["win_rate"])
        lo, hi = stats.win_rate_summary(_one_order_scores(rng, np.ones(n, bool)))["ci"]
        always_covered += lo <= 0.5 <= hi
    assert 0.93 <= covered / sims <= 0.97, covered / sims
    assert abs(np.mean(means) - 0.5) < 0.003, np.mean(means)
    assert abs(shown_first / (sims * n) - 0.5) < 0.005
    assert always_covered / sims < 0.15, always_covered / sims


def test_one_order_end_to_end_uses_both_positions_and_reruns_from_cache(
        serve, tmp_path: Path) -> None:
    """The real CLI against the scripted server, ``both_orders = false``, a judge with a 20%
    first-position bias: about half the prompts are judged with the candidate first, the rest
    with the baseline first; a rerun judges the same orders and asks the judge nothing."""
    n = 120
    write_pool(tmp_path / "pool.jsonl", n)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    srv = serve(make_scenario(strength_b=0.0, tie_prob=TIE, judge={"position_bias": BIAS}))
    write_config(tmp_path / "evalkit.toml", srv.base_url, judge_extra="both_orders = false")
    first = cli_json(["compare", "base", "cand", "--pool", "small"], tmp_path)
    assert first["both_orders"] is False and first["overall"]["n"] == n
    assert srv.stats()["by_model"]["judge"]["requests"] == n  # one order per prompt
    db = sqlite3.connect(tmp_path / "evalkit.db")
    rows = db.execute("select judgment_cand_first is not null, judgment_base_first is not null "
                      "from comparisonitem where comparison_id = ?",
                      (first["comparison_id"],)).fetchall()
    assert all(a + b == 1 for a, b in rows)  # exactly one order recorded per prompt
    cand_first = sum(a for a, _ in rows)
    assert 0.35 * n <= cand_first <= 0.65 * n, cand_first
    # the judgments stored show the candidate in both positions
    firsts = {r[0].split()[1] for r in db.execute(
        "select g.response from judgment j join generation g on g.key = j.gen_first")}
    assert firsts == {"model=base", "model=cand"}

    before = srv.stats()["requests"]
    second = cli_json(["compare", "base", "cand", "--pool", "small"], tmp_path)
    assert srv.stats()["requests"] == before
    assert second["requests"]["judge"] == {"cached": n}
    assert second["overall"] == first["overall"]
