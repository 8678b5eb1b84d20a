"""Evaluate a gate policy on per-prompt scores: one rule overall, one per tag value, a
multiple-comparison correction across them, and data-quality checks. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import stats
from .policy import GatePolicy

EXIT_CODES = {"pass": 0, "regression": 1, "inconclusive": 2}


@dataclass(frozen=True)
class Rule:
    name: str
    n: int
    estimate: float | None
    ci: list[float] | None
    margin: float
    threshold: float
    p_value: float | None
    p_adjusted: float | None
    verdict: str  # "pass" | "regression" | "skipped"
    reason: str


@dataclass(frozen=True)
class GateResult:
    decision: str
    exit_code: int
    rules: list[Rule]
    checks: list[dict[str, Any]]
    counts: dict[str, int]
    policy: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "exit_code": self.exit_code,
                "rules": [asdict(r) for r in self.rules], "checks": self.checks,
                "counts": self.counts, "policy": self.policy}


def evaluate(policy: GatePolicy, scores: Sequence[float | None],
             tags: Sequence[dict[str, str]], counts: dict[str, int], *,
             seed: int = 0) -> GateResult:
    """``scores[i]``: prompt i's score for the candidate (None if invalid or failed);
    ``tags[i]``: its tags; ``counts``: item counts (win/tie/loss/invalid/failed)."""
    groups: list[tuple[str, float, list[int]]] = [("overall", policy.margin,
                                                   list(range(len(scores))))]
    for tag in sorted(policy.tags):
        values = sorted({t[tag] for t in tags if tag in t})
        for value in values:
            idx = [i for i, t in enumerate(tags) if t.get(tag) == value]
            groups.append((f"{tag}={value}", policy.tag_margin(tag, value), idx))
    rules: list[dict[str, Any]] = []
    for name, margin, idx in groups:
        s = np.array([scores[i] for i in idx if scores[i] is not None], dtype=float)
        minimum = policy.min_valid if name == "overall" else policy.tag_min_valid
        test = stats.regression_test(s, 0.5 - margin)
        ci = None
        if s.size:
            lo, hi = stats.percentile_ci(stats.bootstrap_means(s, 10_000, seed),
                                         policy.confidence)
            ci = [lo, hi]
        rule = {"name": name, "n": int(s.size), "estimate": test["estimate"], "ci": ci,
                "margin": margin, "threshold": 0.5 - margin, "p_value": test["p_value"]}
        if s.size < minimum and name != "overall":
            rule.update(verdict="skipped", reason=f"only {s.size} valid prompts "
                        f"(tag_min_valid = {minimum})")
        rules.append(rule)
    tested = [r for r in rules if "verdict" not in r and r["p_value"] is not None]
    adjusted = _adjust([r["p_value"] for r in tested], policy.correction)
    for r, adj in zip(tested, adjusted, strict=True):
        r["p_adjusted"] = float(adj)
        regress = adj < policy.alpha
        r["verdict"] = "regression" if regress else "pass"
        r["reason"] = (f"win rate credibly below {r['threshold']:.3f} "
                       f"(p = {adj:.3g} < {policy.alpha:.3g})" if regress else
                       f"not credibly below {r['threshold']:.3f} (p = {adj:.3g})")
    for r in rules:
        r.setdefault("p_adjusted", None)
        r.setdefault("verdict", "skipped")
        r.setdefault("reason", "no valid prompts")
    checks = _quality_checks(policy, rules[0]["n"], counts)
    if any(not c["ok"] for c in checks):
        decision = "inconclusive"
    elif any(r["verdict"] == "regression" for r in rules):
        decision = "regression"
    else:
        decision = "pass"
    return GateResult(decision=decision, exit_code=EXIT_CODES[decision],
                      rules=[Rule(**r) for r in rules], checks=checks, counts=dict(counts),
                      policy=asdict(policy))


def _adjust(pvalues: list[float], correction: str) -> np.ndarray:
    if not pvalues:
        return np.array([])
    if correction == "holm":
        return stats.holm(pvalues)
    if correction == "bh":
        return stats.benjamini_hochberg(pvalues)
    return np.asarray(pvalues, dtype=float)


def _quality_checks(policy: GatePolicy, n_valid: int, counts: dict[str, int]
                    ) -> list[dict[str, Any]]:
    total = sum(counts.get(k, 0) for k in ("win", "tie", "loss", "invalid", "failed"))
    failed = counts.get("failed", 0)
    invalid = counts.get("invalid", 0)
    judged = total - failed
    failed_rate = failed / total if total else 1.0
    invalid_rate = invalid / judged if judged else 0.0
    return [
        {"name": "min_valid", "ok": n_valid >= policy.min_valid, "value": n_valid,
         "limit": policy.min_valid,
         "message": f"{n_valid} prompts with a valid verdict (need {policy.min_valid})"},
        {"name": "max_failed_rate", "ok": failed_rate <= policy.max_failed_rate,
         "value": failed_rate, "limit": policy.max_failed_rate,
         "message": f"{failed} of {total} items failed ({failed_rate:.1%}; limit "
                    f"{policy.max_failed_rate:.0%})"},
        {"name": "max_invalid_rate", "ok": invalid_rate <= policy.max_invalid_rate,
         "value": invalid_rate, "limit": policy.max_invalid_rate,
         "message": f"{invalid} of {judged} judged items invalid ({invalid_rate:.1%}; limit "
                    f"{policy.max_invalid_rate:.0%})"},
    ]
