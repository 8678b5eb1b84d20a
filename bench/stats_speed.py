"""Speed of evalkit's statistics against the per-battle way, measured in one process.

Part 1 — Bradley–Terry with the battle bootstrap (the leaderboard's default, the prompt-cluster
  bootstrap, has its own benchmark: bench/bt_cluster_bootstrap.py).
  Data: 50 checkpoints with known ratings (uniform 800-1200), 1,000,000 battles between random
  pairs, ~10% ties (drawn so the expected score is still the BT win probability), model names
  as strings, generated vectorised.
  evalkit:  aggregate_battles + bootstrap_bt(rounds=100) (the point fit is included).
  baseline: the public leaderboard-notebook way — a per-battle logistic regression on the
            expanded battle matrix (sklearn LogisticRegression(fit_intercept=False, C=inf),
            dense 0/+1/-1 design, each tie duplicated as two half-weight rows via
            sample_weight), bootstrapped by resampling the battles and refitting. It is slow,
            so only a few rounds are timed and 100 rounds are extrapolated:
              baseline_total = build design + point fit + 100 x (mean time per round)
  speed ratio = baseline_total / evalkit_total                        (target >= 50x)
  Agreement: max |rating difference| in Elo points between evalkit's BT point estimate and the
  per-battle fits on the full data (both mean-centred at 1000):        (target <= 0.01)
    - sklearn with the notebook tolerance (tol=1e-6) and with a tight one (tol=1e-12);
    - evalkit's scipy reference (fit_bt_logistic_reference: sparse design, L-BFGS, gtol 1e-13),
      the precise per-battle baseline.

Part 2 — evalkit.stats.bootstrap_means on win/tie/loss scores, 10,000 resamples, for n = 1,000,
  10,000 and 100,000 prompts; the ratio time(100k) / time(1k) should be ~1 (the multinomial
  draw does not grow with n).

Usage: python bench/stats_speed.py [--battles 1000000] [--models 50] [--baseline-rounds 3]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from sklearn.linear_model import LogisticRegression

from evalkit.stats.bootstrap import bootstrap_means
from evalkit.stats.bradley_terry import (
    aggregate_battles,
    bootstrap_bt,
    fit_bt,
    fit_bt_logistic_reference,
)

T = TypeVar("T")
LN10 = math.log(10.0)
TIE_PROB = 0.10


def make_battles(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
    """Names a, b, labels ('a'/'b'/'tie') and the true ratings; vectorised."""
    rng = np.random.default_rng(seed)
    ratings = rng.uniform(800.0, 1200.0, size=k)
    theta = (ratings - 1000.0) * LN10 / 400.0
    i = rng.integers(0, k, size=n)
    j = (i + rng.integers(1, k, size=n)) % k
    s = 1.0 / (1.0 + np.exp(-(theta[i] - theta[j])))
    u = rng.random(n)
    # P(tie) = 10%, P(a wins) = s - 5%: the expected score of a is exactly s.
    labels = np.where(u < s - TIE_PROB / 2, "a", np.where(u < s + TIE_PROB / 2, "tie", "b"))
    names = np.array([f"ckpt-{c:02d}" for c in range(k)])
    return names[i], names[j], labels, ratings


def design(a_idx: np.ndarray, b_idx: np.ndarray, labels: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expanded per-battle rows: +1 for a, -1 for b; a tie becomes two half-weight rows."""
    tie = labels == "tie"
    rows_a = np.concatenate([a_idx, a_idx[tie]])
    rows_b = np.concatenate([b_idx, b_idx[tie]])
    y = np.concatenate([np.where(tie, 1.0, labels == "a"), np.zeros(int(tie.sum()))])
    w = np.concatenate([np.where(tie, 0.5, 1.0), np.full(int(tie.sum()), 0.5)])
    x = np.zeros((y.size, k))
    r = np.arange(y.size)
    x[r, rows_a] = 1.0
    x[r, rows_b] = -1.0
    return x, y, w


def sklearn_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, tol: float) -> np.ndarray:
    """Per-battle logistic MLE; returns mean-centred ratings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at the tight tolerance
        lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=tol, max_iter=10_000)
        lr.fit(x, y, sample_weight=w)
    theta = lr.coef_[0]
    return 1000.0 + 400.0 * (theta - theta.mean()) / LN10


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """(result, seconds)."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def part1(n: int, k: int, baseline_rounds: int, seed: int) -> dict[str, float]:
    a, b, labels, true_ratings = make_battles(n, k, seed)
    print(f"Part 1: {k} checkpoints, {n:,} battles, {np.mean(labels == 'tie'):.1%} ties")

    counts, t_agg = timed(aggregate_battles, a, b, labels)
    result, t_boot = timed(bootstrap_bt, counts, rounds=100, seed=seed)
    ev_total = t_agg + t_boot
    print(f"  evalkit  aggregate_battles            {t_agg:8.3f} s")
    print(f"  evalkit  bootstrap_bt (100 rounds)    {t_boot:8.3f} s")
    print(f"  evalkit  total                        {ev_total:8.3f} s")

    names = np.array(counts.models)
    a_idx = np.searchsorted(names, a)
    b_idx = np.searchsorted(names, b)
    (x, y, w), t_build = timed(design, a_idx, b_idx, labels, k)
    print(f"  baseline build design {x.shape[0]:,} x {k}   {t_build:8.3f} s")
    sk_loose, t_point = timed(sklearn_fit, x, y, w, 1e-6)
    print(f"  baseline point fit (tol=1e-6)         {t_point:8.3f} s")
    del x, y, w
    rng = np.random.default_rng(seed)
    round_times = []
    for _ in range(baseline_rounds):
        t0 = time.perf_counter()
        pick = rng.integers(0, n, size=n)
        xr, yr, wr = design(a_idx[pick], b_idx[pick], labels[pick], k)
        sklearn_fit(xr, yr, wr, 1e-6)
        del xr, yr, wr
        round_times.append(time.perf_counter() - t0)
    per_round = float(np.mean(round_times))
    base_total = t_build + t_point + 100 * per_round
    print(f"  baseline per bootstrap round ({baseline_rounds} timed) {per_round:8.3f} s")
    print(f"  baseline total, 100 rounds (extrap.)  {base_total:8.1f} s")

    x, y, w = design(a_idx, b_idx, labels, k)
    sk_tight, t_tight = timed(sklearn_fit, x, y, w, 1e-12)
    del x, y, w
    ref, t_ref = timed(fit_bt_logistic_reference, a, b, labels)
    ev = result.ratings
    d_loose = float(np.abs(ev - sk_loose).max())
    d_tight = float(np.abs(ev - sk_tight).max())
    d_ref = float(np.abs(ev - ref.ratings).max())
    print(f"  sklearn point fit (tol=1e-12)         {t_tight:8.3f} s")
    print(f"  scipy reference fit (per battle)      {t_ref:8.3f} s")
    true_centred = true_ratings - true_ratings.mean() + 1000.0
    truth = true_centred[[int(m.rsplit("-", 1)[1]) for m in counts.models]]
    err = float(np.abs(ev - truth).max())
    print(f"  max |evalkit - true rating|           {err:8.2f} Elo (sampling error)")
    print(f"  95% CI half-width, median             {np.median(np.diff(result.ci) / 2):8.2f} Elo")
    return {"agg": t_agg, "boot": t_boot, "ev_total": ev_total, "build": t_build,
            "point": t_point, "per_round": per_round, "base_total": base_total,
            "d_loose": d_loose, "d_tight": d_tight, "d_ref": d_ref,
            "fit_only": timed(fit_bt, counts)[1]}


def part2(seed: int) -> dict[int, float]:
    print("Part 2: bootstrap_means, 10,000 resamples of win/tie/loss scores")
    rng = np.random.default_rng(seed)
    times: dict[int, float] = {}
    bootstrap_means(np.array([0.0, 0.5, 1.0]), 100, seed)  # warm-up
    for n in (1_000, 10_000, 100_000):
        scores = rng.choice(np.array([0.0, 0.5, 1.0]), size=n, p=[0.35, 0.15, 0.5])
        best = min(timed(bootstrap_means, scores, 10_000, seed)[1] for _ in range(3))
        times[n] = best
        print(f"  n = {n:>7,}  {best * 1000:8.2f} ms  (best of 3)")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--baseline-rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}; numpy {np.__version__}")
    r = part1(args.battles, args.models, args.baseline_rounds, args.seed)
    t = part2(args.seed)
    speed = r["base_total"] / r["ev_total"]
    print()
    print("Summary")
    print(f"  BT, {args.models} checkpoints, {args.battles:,} battles, 100 bootstrap rounds:")
    print(f"    evalkit total (aggregate + 100-round bootstrap)   {r['ev_total']:.2f} s "
          f"(aggregate {r['agg']:.2f} s, bootstrap {r['boot']:.2f} s; one fit "
          f"{r['fit_only'] * 1000:.1f} ms)")
    print(f"    per-battle sklearn baseline, 100 rounds (extrap.)  {r['base_total']:.0f} s "
          f"({r['per_round']:.2f} s per round)")
    print(f"    speed ratio baseline / evalkit                     {speed:.0f}x  (target >= 50x)")
    print(f"    per-round ratio                                    "
          f"{r['per_round'] / (r['boot'] / 100):.0f}x")
    print(f"    max |rating diff| vs scipy per-battle reference    {r['d_ref']:.2e} Elo "
          f"(target <= 0.01)")
    print(f"    max |rating diff| vs sklearn tol=1e-12             {r['d_tight']:.2e} Elo")
    print(f"    max |rating diff| vs sklearn tol=1e-6 (notebook)   {r['d_loose']:.2e} Elo")
    print("  bootstrap_means, 10,000 resamples:")
    print("    " + ", ".join(f"n={n:,}: {s * 1000:.2f} ms" for n, s in t.items()))
    print(f"    time(100k) / time(1k) = {t[100_000] / t[1_000]:.2f}  (~1: cost flat in n)")


if __name__ == "__main__":
    main()
