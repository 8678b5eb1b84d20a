"""The style-controlled leaderboard: style features, the joint Bradley–Terry fit with style
covariates, its prompt-cluster bootstrap (one-step against full refits), a simulation where
the truth is known (a judge that rewards length with a known coefficient; checkpoints of equal
strength that differ only in length), and ``evalkit leaderboard --style-control`` end to end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

from evalkit.stats.bradley_terry import PromptCounts, bootstrap_bt_prompts
from evalkit.stats.bt_style import StyleBattles, bootstrap_style_bt, fit_style_bt
from evalkit.style_features import FEATURES, battle_features, counts_matrix, style_counts

BETA = 2.0  # the judge's log-odds per unit of the normalised length difference
WORDS = (400.0, 100.0, 200.0, 250.0)  # mean length per checkpoint; equal true strength


def simulate(seed: int, prompts: int = 300, tie_prob: float = 0.1) -> StyleBattles:
    """Every pair of four equally strong checkpoints on every prompt; the judge prefers the
    longer answer: the candidate's expected score (ties = half) is sigmoid(BETA * x) with
    x = (wc - wb)/(wc + wb) — a tie with probability ``tie_prob``, a win with
    sigmoid(BETA * x) - tie_prob / 2."""
    rng = np.random.default_rng(seed)
    k = len(WORDS)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    prompt, base, cand, score, texts_b, texts_c = [], [], [], [], [], []
    for p in range(prompts):
        words = np.array(WORDS) * np.exp(rng.normal(0.0, 0.3, k))
        for i, j in pairs:
            x = (words[j] - words[i]) / (words[j] + words[i])
            u = rng.random()
            win = 1.0 / (1.0 + np.exp(-BETA * x)) - tie_prob / 2
            prompt.append(f"p{p}")
            base.append(f"m{i}")
            cand.append(f"m{j}")
            score.append(1.0 if u < win else 0.5 if u < win + tie_prob else 0.0)
            texts_b.append(" ".join(["w"] * int(round(words[i]))))
            texts_c.append(" ".join(["w"] * int(round(words[j]))))
    feats = battle_features(counts_matrix(texts_c), counts_matrix(texts_b))
    return StyleBattles.from_arrays(prompt, base, cand, score, feats, FEATURES)


def plain_board(b: StyleBattles, rounds: int = 200) -> object:
    a_view = 1.0 - b.score  # PromptCounts outcomes are from the first model's view
    return bootstrap_bt_prompts(PromptCounts.from_battles(
        [b.prompts[i] for i in b.prompt], [b.models[i] for i in b.baseline],
        [b.models[i] for i in b.candidate], a_view), rounds=rounds, seed=0)


def test_style_counts_and_features() -> None:
    text = ("# Title\n\nSome **bold** words and __more__.\n\n- one\n- two\n1. first\n"
            "```python\n# not a header\n- not a list\n**not bold**\n```\nend")
    c = style_counts(text)
    assert (c.headers, c.lists, c.bold) == (1, 3, 2)
    assert c.words == len(text.split())
    assert style_counts(None) == style_counts("")
    a = counts_matrix(["one two three four", "# H\n- x\n**b** y"])
    b = counts_matrix(["one two", "plain words only here"])
    f = battle_features(a, b)
    assert f[0, 0] == pytest.approx((4 - 2) / 6)
    np.testing.assert_allclose(battle_features(b, a), -f)  # antisymmetric
    assert f[1, 1] > 0 and f[1, 2] > 0 and f[1, 3] > 0


def test_length_bias_removed_with_the_true_coefficient_covered() -> None:
    """Equal checkpoints that differ only in length: the plain ratings separate the long one
    from the short one; the style-controlled ratings are equal within their CIs, and the fitted
    length coefficient's CI covers the true one."""
    b = simulate(seed=7)
    plain = plain_board(b)
    style = bootstrap_style_bt(b, rounds=200, seed=0)
    i_long, i_short = b.models.index("m0"), b.models.index("m1")
    p = {m: (plain.ratings[k], plain.ci[k]) for k, m in enumerate(plain.models)}
    assert p["m0"][1][0] > p["m1"][1][1]  # plain: long entirely above short
    assert set(plain.ranks.tolist()) != {1}
    lo, hi = style.ci[:, 0], style.ci[:, 1]
    assert lo.max() < hi.min()  # style-controlled: every CI overlaps every other
    assert set(style.ranks.tolist()) == {1}
    assert lo[i_long] < 1000.0 < hi[i_long] and lo[i_short] < 1000.0 < hi[i_short]
    (length,) = [c for c in style.coefficients() if c["feature"] == "length"]
    assert length["ci_raw"][0] < BETA < length["ci_raw"][1]
    assert style.fit.dropped == ("headers", "lists", "bold")  # no markdown: nothing to fit
    print(f"\nplain m0 {p['m0'][0]:.1f} {p['m0'][1]}, m1 {p['m1'][0]:.1f} {p['m1'][1]}; "
          f"style m0 {style.fit.rating('m0'):.1f} [{lo[i_long]:.1f}, {hi[i_long]:.1f}], "
          f"m1 {style.fit.rating('m1'):.1f} [{lo[i_short]:.1f}, {hi[i_short]:.1f}]; length "
          f"coef {length['coef_raw']:.3f} {length['ci_raw']} (true {BETA})")


def test_one_step_bootstrap_agrees_with_full_refits() -> None:
    b = simulate(seed=3, prompts=150)
    exact = bootstrap_style_bt(b, rounds=200, seed=1, refit="refit")
    quick = bootstrap_style_bt(b, rounds=200, seed=1, refit="one-step")
    assert exact.refit == "refit" and quick.refit == "one-step"
    np.testing.assert_allclose(quick.fit.ratings, exact.fit.ratings)
    np.testing.assert_allclose(quick.ci, exact.ci, atol=3.0)  # rating points
    np.testing.assert_allclose(quick.beta_ci, exact.beta_ci, atol=0.02)


def test_no_style_effect_leaves_the_plain_ratings() -> None:
    """With a style-blind judge the joint fit finds a coefficient near 0 and the plain
    ratings."""
    rng = np.random.default_rng(5)
    theta = {"a": 0.0, "b": 0.5, "c": -0.5}
    rows = []
    for p in range(400):
        for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
            won = rng.random() < 1.0 / (1.0 + np.exp(-(theta[y] - theta[x])))
            rows.append((f"p{p}", x, y, float(won), rng.normal(0, 0.3)))
    b = StyleBattles.from_arrays([r[0] for r in rows], [r[1] for r in rows],
                                 [r[2] for r in rows], [r[3] for r in rows],
                                 np.array([[r[4]] for r in rows]), ("length",))
    fit = fit_style_bt(b)
    plain = plain_board(b, rounds=10)
    assert abs(fit.beta[0]) < 0.15
    np.testing.assert_allclose(fit.ratings, plain.fit.ratings, atol=8.0)


def test_bad_battles_are_rejected() -> None:
    with pytest.raises(ValueError, match="battles itself"):
        StyleBattles.from_arrays(["p"], ["a"], ["a"], [1.0], [[0.0]], ("length",))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        StyleBattles.from_arrays(["p"], ["a"], ["b"], [1.5], [[0.0]], ("length",))


@pytest.mark.slow
def test_length_coefficient_interval_covers_the_truth_about_95_percent() -> None:
    hits = equal = 0
    sims = 300
    for seed in range(sims):
        b = simulate(seed=5000 + seed, prompts=150)
        r = bootstrap_style_bt(b, rounds=200, seed=seed, refit="one-step")
        (length,) = [c for c in r.coefficients() if c["feature"] == "length"]
        hits += length["ci_raw"][0] <= BETA <= length["ci_raw"][1]
        i, j = b.models.index("m0"), b.models.index("m1")
        diff = r.replicates[:, i] - r.replicates[:, j]
        lo, hi = np.quantile(diff, [0.025, 0.975])
        equal += lo <= 0.0 <= hi
    print(f"\ncoverage of the length coefficient {hits / sims:.3f}; of equal strength "
          f"(long - short) {equal / sims:.3f} over {sims} simulations")
    assert 0.92 <= hits / sims <= 0.975
    assert 0.92 <= equal / sims <= 0.99


@pytest.mark.slow
def test_leaderboard_style_control_end_to_end(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=0.4, models={"base": {"kind": "chat", "words": 40},
                                                      "cand": {"kind": "chat", "words": 120},
                                                      "third": {"kind": "chat", "words": 20}}))
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    write_pool(tmp_path / "pool.jsonl", 30)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    for a, b in (("base", "cand"), ("cand", "third"), ("base", "third")):
        cli_json(["compare", a, b, "--pool", "small"], tmp_path)
    plain = cli_json(["leaderboard", "--pool", "small", "--rounds", "100"], tmp_path)
    board = cli_json(["leaderboard", "--pool", "small", "--rounds", "100", "--style-control"],
                     tmp_path)
    assert "style_control" not in plain
    assert [r["rating"] for r in board["ratings"]] == [r["rating"] for r in plain["ratings"]]
    sc = board["style_control"]
    assert sc["battles"] == 90 and sc["prompts"] == 30 and sc["rounds"] == 100
    assert sc["ci_method"] == "prompt-cluster bootstrap"
    assert [c["feature"] for c in sc["coefficients"]] == ["length"]
    assert sc["dropped"] == ["headers", "lists", "bold"]
    for r in board["ratings"]:
        assert r["style_ci"][0] <= r["style_rating"] <= r["style_ci"][1]
    text = run_cli(["leaderboard", "--pool", "small", "--rounds", "100", "--style-control"],
                   tmp_path).stdout
    assert "style-controlled" in text and "What the judge rewards" in text
