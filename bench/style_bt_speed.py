"""Speed of the style-controlled Bradley–Terry leaderboard against the plain one, same data.

Data: 50 checkpoints with known ratings, 1,000 shared prompts, every pair of checkpoints
judged on every prompt (1,225 pairs x 1,000 prompts = 1,225,000 battles), up to 10% ties
(more for close battles; the expected score stays the model's), a
prompt effect (sd 0.5 log-odds), and style: each checkpoint has its own typical length and
markdown use, each response varies around it, and the judge adds 0.8 log-odds per unit of the
normalised length difference (evalkit.style_features). Generated vectorised.

plain: PromptCounts.from_battles + bootstrap_bt_prompts(rounds)          (the leaderboard's)
style: StyleBattles.from_arrays (features already per battle) + bootstrap_style_bt(rounds)
       (point fit by Newton on every battle; rounds by the one-step prompt bootstrap above
       evalkit.stats.bt_style.REFIT_BUDGET battles x rounds)
ratio = style / plain                                                    (target <= 5x)
The style-controlled leaderboard shows both boards, so its cost is plain + style: that ratio
is printed too. Each is the median of --repeats runs.

Usage: python bench/style_bt_speed.py [--models 50] [--prompts 1000] [--rounds 100]
                                      [--repeats 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from evalkit.stats.bradley_terry import PromptCounts, bootstrap_bt_prompts
from evalkit.stats.bt_style import StyleBattles, bootstrap_style_bt
from evalkit.style_features import FEATURES, battle_features

LN10 = math.log(10.0)
TIE_PROB, PROMPT_SD, LENGTH_BETA = 0.10, 0.5, 0.8


def make_battles(k: int, prompts: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    theta = (rng.uniform(800.0, 1200.0, size=k) - 1000.0) * LN10 / 400.0
    words = np.exp(rng.normal(np.log(rng.uniform(80, 600, size=k)), 0.3, size=(prompts, k)))
    marks = rng.poisson(rng.uniform(0, 4, size=(3, k))[:, None, :], size=(3, prompts, k))
    counts = np.stack([np.round(words), marks[0], marks[1], marks[2]], axis=-1)  # (P, K, 4)
    pi, pj = np.triu_indices(k, 1)
    base = counts[:, pi].reshape(-1, 4)
    cand = counts[:, pj].reshape(-1, 4)
    x = battle_features(cand, base)
    u = rng.normal(0.0, PROMPT_SD, size=(prompts, k))
    eta = (theta[pj] - theta[pi] + u[:, pj] - u[:, pi]).ravel() + LENGTH_BETA * x[:, 0]
    draw = rng.random(eta.size)
    p = 1.0 / (1.0 + np.exp(-eta))
    tie = 2 * TIE_PROB * np.minimum(p, 1 - p)  # close battles tie more; E[score] = p
    score = np.where(draw < p - tie / 2, 1.0, np.where(draw < p + tie / 2, 0.5, 0.0))
    names = np.array([f"ckpt-{c:02d}" for c in range(k)])
    hashes = np.array([f"{h:016x}" for h in rng.integers(0, 2**63, size=prompts)])
    prompt = np.repeat(hashes, pi.size)
    a = np.broadcast_to(names[pi], (prompts, pi.size)).ravel()
    b = np.broadcast_to(names[pj], (prompts, pj.size)).ravel()
    return prompt, a, b, score, x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    prompt, a, b, score, x = make_battles(args.models, args.prompts, args.seed)
    print(f"{args.models} checkpoints x {args.prompts} prompts: {score.size:,} battles, "
          f"{args.rounds} bootstrap rounds, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")

    def plain() -> object:
        counts = PromptCounts.from_battles(prompt, a, b, 1.0 - score)  # a's view
        return bootstrap_bt_prompts(counts, rounds=args.rounds, seed=0)

    def style() -> object:
        battles = StyleBattles.from_arrays(prompt, a, b, score, x, FEATURES)
        return bootstrap_style_bt(battles, rounds=args.rounds, seed=0)

    times: dict[str, list[float]] = {"plain": [], "style": []}
    result = None
    for _ in range(args.repeats):
        for name, fn in (("plain", plain), ("style", style)):
            t0 = time.perf_counter()
            out = fn()
            times[name].append(time.perf_counter() - t0)
            if name == "style":
                result = out
    tp, ts = (float(np.median(times[k])) for k in ("plain", "style"))
    assert result is not None
    length = next(c for c in result.coefficients() if c["feature"] == "length")  # type: ignore[attr-defined]
    print(f"plain BT leaderboard:            {tp:7.3f} s (median of {args.repeats})")
    print(f"style-controlled BT:             {ts:7.3f} s ({result.refit} rounds)")  # type: ignore[attr-defined]
    print(f"ratio style / plain:             {ts / tp:7.2f}x   (target <= 5x)")
    print(f"ratio (plain + style) / plain:   {(tp + ts) / tp:7.2f}x   (the board shows both)")
    print(f"length coefficient per unit of the normalised difference: "
          f"{length['coef_raw']:.3f} [{length['ci_raw'][0]:.3f}, {length['ci_raw'][1]:.3f}]"
          f" (simulated {LENGTH_BETA} given the prompt; the unmodelled prompt effect makes the "
          "population-level coefficient smaller)")


if __name__ == "__main__":
    main()
