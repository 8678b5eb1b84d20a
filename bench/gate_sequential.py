"""Judgments used by the sequential gate as a fraction of the fixed-n gate, at equal error rates.

Design (both gates): margin 0.025 (threshold 0.475), regression of interest 0.05 (a true win
rate of 0.45), α = 0.05 (false-block rate at 0.475), power 0.8 (miss rate 0.2 at 0.45),
one rule; win/tie/loss scores with a 30% tie rate (``--ties``).

- fixed gate: n = required_prompts_margin(0.05, 0.025, tie_rate) valid prompts, the one-sided
  t-test the gate runs (``gate.evaluate``), simulated vectorised over multinomial counts;
- sequential gate: 10 looks, error spending α·t and β·t (Lan–DeMets), run by
  ``evalkit.stats.run_sequential`` — the same look_target / analyse_look the gate calls
  between batches — on seeded streams of scores, with a pool large enough never to run out.

For true win rates 0.40, 0.45, 0.50, 0.55, 0.60 (and the threshold 0.475) it prints the
sequential gate's block and pass rates, its mean valid prompts, the ratio to the fixed n
(judgments = prompts × 2 for both, so the ratio is the same), the ratio predicted by the
numerical integration (no simulation), and the fixed gate's block rate. Targets: ratio ≤ 0.5
when |W − 0.5| ≥ 2 × margin, never above 1.0. At W = 0.45 — the alternative the design is
built for — no sequential test with these error rates can average below
2[(1−β)ln((1−β)/α) + β ln(β/(1−α))] / (z_{1−α} + z_{1−β})² ≈ 0.62 of the fixed n (Wald's
bound); it is printed beside the measurement.

Usage: python bench/gate_sequential.py [--runs 4000] [--ties 0.3] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats as st

from evalkit.stats import (
    SequentialSpec,
    design_sequential,
    operating_characteristics,
    required_prompts_margin,
    run_sequential,
    score_sd,
)

MARGIN, REGRESSION, ALPHA, POWER, LOOKS = 0.025, 0.05, 0.05, 0.8, 10
WIN_RATES = (0.40, 0.45, 0.475, 0.50, 0.55, 0.60)


def fixed_block_rate(win_rate: float, ties: float, n: int, runs: int,
                     rng: np.random.Generator) -> float:
    wins = win_rate - ties / 2
    c = rng.multinomial(n, [wins, ties, 1 - ties - wins], size=runs)
    mean = (c[:, 0] + 0.5 * c[:, 1]) / n
    var = (c[:, 0] * (1 - mean) ** 2 + c[:, 1] * (0.5 - mean) ** 2 + c[:, 2] * mean ** 2) \
        / (n - 1)
    p = st.t.cdf((mean - (0.5 - MARGIN)) / np.sqrt(var / n), n - 1)
    return float(np.mean(p < ALPHA))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=4000)
    ap.add_argument("--ties", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ties = args.ties
    spec = SequentialSpec(margin=MARGIN, regression=REGRESSION, alpha=ALPHA, power=POWER,
                          looks=LOOKS)
    design = design_sequential(spec)
    fixed = required_prompts_margin(REGRESSION, MARGIN, tie_rate=ties, alpha=ALPHA,
                                    power=POWER)
    rng = np.random.default_rng(args.seed)
    pool = math.ceil(design.max_prompts(score_sd(0.5, ties))) + 10
    za, zb = st.norm.ppf(1 - ALPHA), st.norm.ppf(POWER)
    beta = 1 - POWER
    wald = 2 * (POWER * math.log(POWER / ALPHA) + beta * math.log(beta / (1 - ALPHA))) \
        / (za + zb) ** 2
    print(f"design: margin {MARGIN} (threshold {0.5 - MARGIN}), regression of interest "
          f"{REGRESSION} (win rate {0.5 - REGRESSION}), alpha {ALPHA}, power {POWER}, "
          f"ties {ties}; {LOOKS} looks, spending t^1, max n inflation "
          f"{design.inflation:.3f}")
    print(f"fixed gate: {fixed} valid prompts ({2 * fixed} judgments with both orders); "
          f"sequential pool {pool}; {args.runs} seeded runs per win rate\n")
    print(f"{'win rate':>8} {'seq block':>9} {'seq pass':>8} {'seq mean n':>10} "
          f"{'ratio':>6} {'predicted':>9} {'fixed block':>11}")
    started = time.perf_counter()
    for w in WIN_RATES:
        wins = w - ties / 2
        decisions = {"regression": 0, "pass": 0, "inconclusive": 0}
        used = 0
        for _ in range(args.runs):
            scores = rng.choice([1.0, 0.5, 0.0], size=pool, p=[wins, ties, 1 - ties - wins])
            result = run_sequential(design, scores)
            decisions[result.decision] += 1
            used += result.n
        mean_n = used / args.runs
        drift = (0.5 - MARGIN - w) * design.drift / (REGRESSION - MARGIN)
        predicted = (operating_characteristics(design, drift).expected_fraction
                     * design.max_prompts(score_sd(w, ties)) / fixed)
        print(f"{w:>8.3f} {decisions['regression'] / args.runs:>9.4f} "
              f"{decisions['pass'] / args.runs:>8.4f} {mean_n:>10.0f} "
              f"{mean_n / fixed:>6.3f} {predicted:>9.3f} "
              f"{fixed_block_rate(w, ties, fixed, args.runs, rng):>11.4f}")
    print(f"\nWald's lower bound on any sequential test's mean n at the alternative (0.45): "
          f"{wald:.3f} of the fixed n")
    print("error rates: block at 0.475 is the false-block rate (target <= 0.05); "
          "1 - block at 0.45 is the miss rate (target <= 0.2)")
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
