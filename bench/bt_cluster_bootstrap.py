"""Speed of the prompt-cluster Bradley–Terry bootstrap against the per-battle way, in one process.

Data: 50 checkpoints with known ratings (uniform 800-1200), 1,000 prompts, every pair of
checkpoints judged on every prompt (1,225 pairs x 1,000 prompts = 1,225,000 battles), ~10% ties,
a prompt effect (each checkpoint's strength varies by prompt, sd 0.5 log-odds) so outcomes on
one prompt are correlated. Names are strings, prompts are hashes; generated vectorised.

evalkit:  PromptCounts.from_battles (the one pass over the battles: prompts x pairs count
          tensor) + bootstrap_bt_prompts(rounds=100): per round a multinomial weight vector over
          the prompts times the (prompts x cells) matrix — one matrix product per batch of
          rounds — then the batched Newton refit. Cost independent of the number of battles.
baseline: the per-battle bootstrap — resample the battles as rows with replacement and refit
          with the per-battle logistic MLE (``fit_bt_logistic_reference``: sparse design, one row
          per battle, ties as two half-weight rows, scipy L-BFGS). It is slow, so only a few
          rounds are timed and 100 are extrapolated:
            baseline_total = point fit + 100 x (mean time per round)
speed ratio = baseline_total / evalkit_total                             (target >= 50x)

Also printed: agreement of evalkit's point estimate with the per-battle reference fit (Elo),
and how much wider the prompt-cluster intervals are than a battle bootstrap's on the same data
(the battle bootstrap ignores the prompt effect).

Usage: python bench/bt_cluster_bootstrap.py [--models 50] [--prompts 1000] [--rounds 100]
                                            [--baseline-rounds 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from evalkit.stats.bradley_terry import (
    PromptCounts,
    bootstrap_bt,
    bootstrap_bt_prompts,
    fit_bt_logistic_reference,
)

T = TypeVar("T")
LN10 = math.log(10.0)
TIE_PROB = 0.10
PROMPT_SD = 0.5


def make_battles(k: int, prompts: int, seed: int) -> tuple[np.ndarray, ...]:
    """Every pair on every prompt: (prompt hash, a, b, label 'a'/'b'/'tie') per battle."""
    rng = np.random.default_rng(seed)
    ratings = rng.uniform(800.0, 1200.0, size=k)
    theta = (ratings - 1000.0) * LN10 / 400.0
    pi, pj = np.triu_indices(k, 1)
    u = rng.normal(0.0, PROMPT_SD, size=(prompts, k))
    s = 1.0 / (1.0 + np.exp(-(theta[pi] - theta[pj] + u[:, pi] - u[:, pj])))  # (P, pairs)
    draw = rng.random(s.shape)
    labels = np.where(draw < (1 - TIE_PROB) * s, "a",
                      np.where(draw < (1 - TIE_PROB) * s + TIE_PROB, "tie", "b")).ravel()
    swap = rng.random(s.shape).ravel() < 0.5  # either side may be listed first
    i = np.broadcast_to(pi, s.shape).ravel()
    j = np.broadcast_to(pj, s.shape).ravel()
    a = np.where(swap, j, i)
    b = np.where(swap, i, j)
    labels = np.where(swap & (labels != "tie"), np.where(labels == "a", "b", "a"), labels)
    names = np.array([f"ckpt-{c:02d}" for c in range(k)])
    hashes = np.array([f"{h:016x}" for h in rng.integers(0, 2**63, size=prompts)])
    prompt = np.repeat(hashes, pi.size)
    return prompt, names[a], names[b], labels, ratings


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--baseline-rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}; numpy {np.__version__}")
    prompt, a, b, labels, _ = make_battles(args.models, args.prompts, args.seed)
    n = labels.size
    print(f"{args.models} checkpoints, {args.prompts:,} prompts, every pair on every prompt: "
          f"{n:,} battles, {np.mean(labels == 'tie'):.1%} ties")

    counts, t_agg = timed(PromptCounts.from_battles, prompt, a, b, labels)
    result, t_boot = timed(bootstrap_bt_prompts, counts, rounds=args.rounds, seed=args.seed)
    ev_total = t_agg + t_boot
    print(f"  evalkit  PromptCounts.from_battles          {t_agg:8.3f} s  "
          f"({counts.n_prompts} prompts x {counts.pair_i.size} pairs x 3 cells)")
    print(f"  evalkit  bootstrap_bt_prompts ({args.rounds} rounds)  {t_boot:8.3f} s  "
          f"({result.n_degenerate} degenerate rounds)")
    print(f"  evalkit  total                              {ev_total:8.3f} s")

    ref, t_point = timed(fit_bt_logistic_reference, a, b, labels)
    print(f"  baseline point fit (per battle, scipy)      {t_point:8.3f} s")
    rng = np.random.default_rng(args.seed)
    round_times = []
    for _ in range(args.baseline_rounds):
        t0 = time.perf_counter()
        pick = rng.integers(0, n, size=n)
        fit_bt_logistic_reference(a[pick], b[pick], labels[pick])
        round_times.append(time.perf_counter() - t0)
    per_round = float(np.mean(round_times))
    base_total = t_point + args.rounds * per_round
    print(f"  baseline per round ({args.baseline_rounds} timed: resample + refit) "
          f"{per_round:8.3f} s")
    print(f"  baseline total, {args.rounds} rounds (extrap.)      {base_total:8.1f} s")

    battles, t_battles = timed(bootstrap_bt, counts.totals(), rounds=args.rounds,
                               seed=args.seed)
    d_ref = float(np.abs(result.ratings - ref.ratings).max())
    width = np.diff(result.ci, axis=1).ravel()
    width_battles = np.diff(battles.ci, axis=1).ravel()
    print()
    print("Summary")
    print(f"  prompt-cluster BT bootstrap, {args.models} checkpoints, {args.prompts:,} prompts "
          f"({n:,} battles), {args.rounds} rounds:")
    print(f"    evalkit total (aggregate + bootstrap)        {ev_total:.2f} s "
          f"(aggregate {t_agg:.2f} s, bootstrap {t_boot:.2f} s)")
    print(f"    per-battle bootstrap baseline (extrap.)      {base_total:.0f} s "
          f"({per_round:.1f} s per round)")
    print(f"    speed ratio baseline / evalkit               {base_total / ev_total:.0f}x  "
          "(target >= 50x)")
    print(f"    per-round ratio                              "
          f"{per_round / (t_boot / args.rounds):.0f}x")
    print(f"    max |rating diff| vs per-battle reference    {d_ref:.2e} Elo (target <= 0.01)")
    print(f"    median 95% CI width: prompt clusters {np.median(width):.1f} Elo, battles "
          f"{np.median(width_battles):.1f} Elo (ratio {np.median(width / width_battles):.2f}; "
          f"battle bootstrap {t_battles:.2f} s)")


if __name__ == "__main__":
    main()
