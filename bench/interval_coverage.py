"""Coverage of 95% win-rate intervals: the study behind evalkit.stats.intervals.

Each row is one data-generating process with a known true win rate; each column one interval
method, computed from the prompt scores alone (what compare sees):

  AC        Agresti–Coull at the effective sample size, with the two pseudo-prompts of win/loss
            variance (evalkit's interval, evalkit.stats.intervals)
  AC-plain  the same without the pseudo-prompts (s² = the plain variance of the scores)
  Wilson, Jeffreys, CP (Clopper–Pearson)
            at the same effective sample size (x = m * n_eff successes)
  boot      the paired percentile bootstrap (evalkit's earlier interval; 1,000 resamples,
            simulated on 2,000 data sets)

Processes:
  binary  win/loss only, P(win) = rate                                   (exact enumeration)
  ties    win/tie/loss, tie share 0.1 (0.3 for rates <= 0.8)             (exact enumeration)
  multi   5 samples per prompt, P(win) ~ Beta with mean and concentration 2, ties 10%
                                                                         (simulated, 4,000)
  soft    one soft preference per prompt ~ Beta(4 rate, 4 (1 - rate))    (simulated, 4,000)
  alltie  win 0, tie 0.9, loss 0.1 (rate 0.45): mostly all-tie samples at n = 20
                                                                         (exact enumeration)

Exact enumeration sums the interval's hit over every possible sample weighted by its
probability, so those rows have no Monte Carlo error; simulated rows have a standard error of
about 0.35 points.

Usage: python bench/interval_coverage.py [--sims 4000]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats as st
from scipy.special import betaincinv, ndtri

from evalkit.stats.bootstrap import bootstrap_means, percentile_ci
from evalkit.stats.intervals import agresti_coull, effective_sample_size

Z = float(ndtri(0.975))
NS = (20, 50, 300)
RATES = (0.6, 0.8, 0.95)


def wilson(m: np.ndarray, ne: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z2 = Z * Z
    center = (m + z2 / (2 * ne)) / (1 + z2 / ne)
    half = Z / (1 + z2 / ne) * np.sqrt(m * (1 - m) / ne + z2 / (4 * ne * ne))
    return center - half, center + half


def jeffreys(m: np.ndarray, ne: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = m * ne
    lo = np.where(m <= 0, 0.0, betaincinv(x + 0.5, ne - x + 0.5, 0.025))
    hi = np.where(m >= 1, 1.0, betaincinv(x + 0.5, ne - x + 0.5, 0.975))
    return lo, hi


def clopper_pearson(m: np.ndarray, ne: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = m * ne
    with np.errstate(all="ignore"):
        lo = np.where(m <= 0, 0.0, betaincinv(np.maximum(x, 1e-12), ne - x + 1, 0.025))
        hi = np.where(m >= 1, 1.0, betaincinv(x + 1, np.maximum(ne - x, 1e-12), 0.975))
    return lo, hi


def plain_n_eff(m: np.ndarray, ss: np.ndarray, n: int) -> np.ndarray:
    mm = m * (1 - m)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((mm > 0) & (ss > 0), n * mm / (ss / n), n)


def coverages(m: np.ndarray, ss: np.ndarray, n: int, truth: float,
              weight: np.ndarray) -> dict[str, float]:
    """Weighted coverage of each analytic method at per-sample (mean, sum of squares)."""
    ne = effective_sample_size(m, ss, n)
    out = {}
    for name, (lo, hi) in {
        "AC": agresti_coull(m, ne), "AC-plain": agresti_coull(m, plain_n_eff(m, ss, n)),
        "Wilson": wilson(m, ne), "Jeffreys": jeffreys(m, ne),
        "CP": clopper_pearson(m, ne),
    }.items():
        out[name] = float(np.sum(weight * ((lo <= truth) & (truth <= hi))))
    return out


def ternary_exact(n: int, win: float, tie: float) -> tuple[dict[str, float], float]:
    """Exact coverage over every (wins, ties, losses) sample of n prompts."""
    w, t = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = w + t <= n
    w, t = w[keep].astype(float), t[keep].astype(float)
    loss = n - w - t
    pmf = st.multinomial.pmf(np.column_stack([w, t, loss]), n, [win, tie, 1 - win - tie])
    m = (w + 0.5 * t) / n
    ss = w * (1 - m) ** 2 + t * (0.5 - m) ** 2 + loss * m ** 2
    truth = win + tie / 2
    return coverages(m, ss, n, truth, pmf), truth


def simulated(kind: str, n: int, rate: float, sims: int,
              rng: np.random.Generator) -> tuple[np.ndarray, float]:
    if kind == "multi":
        tau, conc = 0.1, 2.0
        pm = (rate - tau / 2) / (1 - tau)
        p = rng.beta(pm * conc, (1 - pm) * conc, size=(sims, n))
        tie = rng.random((sims, n, 5)) < tau
        win = rng.random((sims, n, 5)) < p[..., None]
        return np.where(tie, 0.5, win.astype(float)).mean(axis=2), rate
    return rng.beta(4 * rate, 4 * (1 - rate), size=(sims, n)), rate


def bootstrap_coverage(draw: np.ndarray, truth: float, sets: int = 2000) -> float:
    hits = 0
    for i, scores in enumerate(draw[:sets]):
        lo, hi = percentile_ci(bootstrap_means(scores, 1000, i))
        hits += lo <= truth <= hi
    return hits / min(sets, len(draw))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sims", type=int, default=4000)
    args = ap.parse_args()
    cols = ("AC", "AC-plain", "Wilson", "Jeffreys", "CP", "boot")
    print(f"{'process':8s} {'n':>4s} {'rate':>5s} " + " ".join(f"{c:>8s}" for c in cols))
    rng = np.random.default_rng(0)
    for kind in ("binary", "ties", "multi", "soft", "alltie"):
        for n in NS:
            for rate in RATES if kind != "alltie" else (0.45,):
                if kind in ("binary", "ties", "alltie"):
                    tie = {"binary": 0.0, "alltie": 0.9}.get(kind, 0.3 if rate <= 0.8 else 0.1)
                    win = 0.0 if kind == "alltie" else rate - tie / 2
                    cov, truth = ternary_exact(n, win, tie)
                    choice = rng.choice(3, p=[win, tie, 1 - win - tie], size=(2000, n))
                    draw = np.array([1.0, 0.5, 0.0])[choice]
                else:
                    draw, truth = simulated(kind, n, rate, args.sims, rng)
                    m = draw.mean(axis=1)
                    ss = ((draw - m[:, None]) ** 2).sum(axis=1)
                    cov = coverages(m, ss, n, truth, np.full(len(m), 1 / len(m)))
                cov["boot"] = bootstrap_coverage(draw, truth) if n <= 50 else float("nan")
                print(f"{kind:8s} {n:4d} {truth:5.2f} "
                      + " ".join(f"{cov[c]:8.3f}" for c in cols), flush=True)


if __name__ == "__main__":
    main()
