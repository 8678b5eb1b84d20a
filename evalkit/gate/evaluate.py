"""Evaluate a gate policy on per-prompt scores: one rule overall, one per tag value, a
multiple-comparison correction across them, data-quality checks, and for every rule the
one-sided bound that matches its test and the smallest regression it could have seen.
Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import stats
from .policy import GatePolicy

EXIT_CODES = {"pass": 0, "regression": 1, "inconclusive": 2}


@dataclass(frozen=True)
class Rule:
    """One rule's test. ``bound`` is the one-sided upper bound at ``bound_level`` that matches
    the (corrected) test: below ``threshold`` exactly when the rule blocks. ``mde`` is the
    smallest drop below 0.5 it blocks with the policy's power (at ``mde_alpha``, one-sided,
    margin included, tie rate from the data); ``needed_n`` the valid prompts that would detect
    a drop of ``reference``; ``underpowered`` when ``mde > reference``."""

    name: str
    n: int
    estimate: float | None
    ci: list[float] | None  # two-sided CI at `confidence`, as compare shows (for display)
    margin: float
    threshold: float
    p_value: float | None
    p_adjusted: float | None
    verdict: str  # "pass" | "regression" | "inconclusive" | "skipped"
    reason: str
    bound: float | None = None
    bound_level: float | None = None
    lower_bound: float | None = None  # non-inferiority: one-sided lower bound at confidence
    mde: float | None = None
    mde_alpha: float | None = None
    power: float | None = None
    tie_rate: float | None = None
    reference: float | None = None
    needed_n: int | None = None
    underpowered: bool = False


@dataclass(frozen=True)
class GateResult:
    decision: str
    exit_code: int
    rules: list[Rule]
    checks: list[dict[str, Any]]
    counts: dict[str, int]
    policy: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    sequential: Any = None  # gate.sequential.SequentialReport when the run was sequential

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "exit_code": self.exit_code,
                "rules": [asdict(r) for r in self.rules], "checks": self.checks,
                "counts": self.counts, "policy": self.policy, "notes": self.notes,
                "sequential": None if self.sequential is None else self.sequential.as_dict()}


def evaluate(policy: GatePolicy, scores: Sequence[float | None],
             tags: Sequence[dict[str, str]], counts: dict[str, int], *,
             seed: int = 0, n_boot: int = 10_000, bench: Sequence[Any] = ()) -> GateResult:
    """``scores[i]``: prompt i's score for the candidate (None if invalid or failed);
    ``tags[i]``: its tags; ``counts``: item counts (win/tie/loss/invalid/failed).
    ``n_boot``: 0 leaves out the two-sided CI shown beside each rule (simulations); any other
    value shows it — the effective-sample-size interval compare reports (docs/statistics.md),
    which needs no resampling. The decision never depends on it. ``bench``: the benchmark
    rules' evidence (``gate.bench_rules.collect``), tested in the same correction."""
    groups: list[tuple[str, float, list[int]]] = [("overall", policy.margin,
                                                   list(range(len(scores))))]
    for tag in sorted(policy.tags):
        values = sorted({t[tag] for t in tags if tag in t})
        for value in values:
            idx = [i for i, t in enumerate(tags) if t.get(tag) == value]
            groups.append((f"{tag}={value}", policy.tag_margin(tag, value), idx))
    rules: list[dict[str, Any]] = []
    data: list[np.ndarray] = []
    for name, margin, idx in groups:
        s = np.array([scores[i] for i in idx if scores[i] is not None], dtype=float)
        minimum = policy.min_valid if name == "overall" else policy.tag_min_valid
        test = stats.regression_test(s, 0.5 - margin)
        ci = None
        if s.size and n_boot:
            lo, hi, _ = stats.win_rate_interval(s, policy.confidence)
            ci = [lo, hi]
        rule = {"name": name, "n": int(s.size), "estimate": test["estimate"], "ci": ci,
                "margin": margin, "threshold": 0.5 - margin, "p_value": test["p_value"]}
        if s.size < minimum and name != "overall":
            rule.update(verdict="skipped", reason=f"only {s.size} valid prompts "
                        f"(tag_min_valid = {minimum})")
        rules.append(rule)
        data.append(s)
    tested = [i for i, r in enumerate(rules) if "verdict" not in r and r["p_value"] is not None]
    bench_p = [p for p in (b.p_value for b in bench) if p is not None]
    adjusted = _adjust([rules[i]["p_value"] for i in tested] + bench_p, policy.correction)
    m = len(tested) + len(bench_p)
    first_step = policy.alpha / m if policy.correction != "none" and m else policy.alpha
    for i, adj in zip(tested, adjusted[:len(tested)], strict=True):
        rules[i].update(_judge(policy, rules[i], data[i], float(adj), first_step))
    for r in rules:
        r.setdefault("p_adjusted", None)
        r.setdefault("verdict", "skipped")
        r.setdefault("reason", "no valid prompts")
    checks = _quality_checks(policy, rules[0]["n"], counts)
    power_check = _power_check(policy, rules[0])
    verdicts = {r["verdict"] for r in rules}
    if any(not c["ok"] for c in checks):
        decision = "inconclusive"
    elif "regression" in verdicts:
        decision = "regression"
    elif "inconclusive" in verdicts or (power_check and not power_check["ok"]):
        decision = "inconclusive"
    else:
        decision = "pass"
    final = [Rule(**r) for r in rules]
    if bench:
        from .bench_rules import judge as judge_bench

        final += judge_bench(policy, list(bench), list(adjusted[len(tested):]), first_step)
        verdicts |= {r.verdict for r in final[len(rules):]}
        if decision != "regression" and not any(not c["ok"] for c in checks):
            decision = ("regression" if "regression" in verdicts else
                        "inconclusive" if "inconclusive" in verdicts else decision)
    return GateResult(decision=decision, exit_code=EXIT_CODES[decision], rules=final,
                      checks=checks + ([power_check] if power_check else []),
                      counts=dict(counts), policy=asdict(policy),
                      notes=power_notes(policy, final, decision, m, first_step))


def _judge(policy: GatePolicy, rule: dict[str, Any], s: np.ndarray, p_adj: float,
           first_step: float) -> dict[str, Any]:
    """Verdict, matching bound and detectability of one tested rule."""
    from scipy.stats import t as student

    alpha, theta, n, p = policy.alpha, rule["threshold"], int(s.size), rule["p_value"]
    mean = float(s.mean())
    se = float(s.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    # the bound's level: α scaled like p was (α_eff = α·p/p_adj), so bound < θ ⇔ p_adj < α
    alpha_eff = alpha * p / p_adj if p_adj > 0 and p > 0 else first_step
    alpha_eff = min(alpha_eff, alpha)
    bound = mean + (float(student.isf(alpha_eff, n - 1)) * se if se > 0 else 0.0)
    regress = p_adj < alpha
    out: dict[str, Any] = {"p_adjusted": p_adj, "bound": bound, "bound_level": 1 - alpha_eff,
                           "power": policy.power}
    out.update(_detectability(policy, rule["margin"], s, first_step))
    if regress:
        out.update(verdict="regression", reason=(
            f"win rate credibly below {theta:.3f}: upper bound {bound:.4f} at "
            f"{1 - alpha_eff:.2%} (p_adj = {p_adj:.3g} < {alpha:.3g})"))
        return out
    seen = _detect_phrase(out)
    if policy.require == "non-inferiority":
        lower = mean - (float(student.isf(alpha, n - 1)) * se if se > 0 else 0.0)
        out["lower_bound"] = lower
        if not lower > theta:
            out.update(verdict="inconclusive", reason=(
                f"not shown non-inferior: lower bound {lower:.3f} at {1 - alpha:.0%} is not "
                f"above {theta:.3f}; {seen}"))
            return out
        out.update(verdict="pass", reason=f"non-inferior: lower bound {lower:.3f} > "
                   f"{theta:.3f}; {seen}")
        return out
    out.update(verdict="pass", reason=f"not credibly below {theta:.3f} (upper bound "
               f"{bound:.3f} at {1 - alpha_eff:.2%}, p_adj = {p_adj:.3g}); {seen}")
    return out


def tie_rate(s: np.ndarray) -> float:
    """The tie rate that explains the score variance, ``4 (W(1−W) − Var)``: the share of ties
    for win/tie/loss scores, an equivalent for soft or averaged scores."""
    if s.size == 0:
        return 0.0
    w = float(s.mean())
    return float(np.clip(4.0 * (w * (1.0 - w) - float(s.var())), 0.0, 0.95))


def _detectability(policy: GatePolicy, margin: float, s: np.ndarray, alpha: float
                   ) -> dict[str, Any]:
    ties = tie_rate(s)
    mde = stats.min_detectable_regression(int(s.size), margin, tie_rate=ties, alpha=alpha,
                                          power=policy.power)
    reference = policy.reference(margin)
    try:
        needed: int | None = stats.required_prompts_margin(
            reference, margin, tie_rate=ties, alpha=alpha, power=policy.power)
    except ValueError:  # the reference drop is impossible at this tie rate
        needed = None
    return {"mde": None if math.isinf(mde) else mde, "mde_alpha": alpha, "tie_rate": ties,
            "reference": reference, "needed_n": needed, "underpowered": mde > reference}


def _detect_phrase(rule: dict[str, Any]) -> str:
    power = f"{rule['power']:.0%} power"
    if rule["mde"] is None:
        return f"this run could not detect any drop with {power}"
    return f"detects a drop to {0.5 - rule['mde']:.3f} or worse with {power}"


def power_notes(policy: GatePolicy, rules: list[Rule], decision: str, m: int,
                first_step: float) -> list[str]:
    """Plain sentences on what the run could and could not have seen."""
    overall = rules[0]
    if overall.mde_alpha is None:
        return []
    level = (f"one-sided α = {first_step:.3g}" + (
        f", {policy.correction} first step over {m} rules" if m > 1 and
        policy.correction != "none" else ""))
    ref = 0.5 - (overall.reference or 0.0)
    seen = ("no drop at all" if overall.mde is None else
            f"a drop to {0.5 - overall.mde:.3f} or worse")
    need = (f"{overall.needed_n:,} valid prompts would detect {ref:.3f}"
            if overall.needed_n else f"no number of prompts detects {ref:.3f} at this tie rate")
    notes = []
    if decision == "regression":
        pass  # evidence of harm stands whatever the power; the table shows each rule's MDE
    elif overall.underpowered:
        lead = "Passed, but" if decision == "pass" else "Inconclusive:"
        notes.append(f"{lead} this run could only detect {seen} ({policy.power:.0%} power, "
                     f"{level}); {need}.")
    else:
        notes.append(f"This run would block a drop to {ref:.3f} with at least "
                     f"{policy.power:.0%} power (it detects {seen}; {level}).")
    weak = [r.name for r in rules[1:] if r.underpowered]
    if weak:
        beyond = (overall.reference or 0.0) - overall.margin
        notes.append(f"{len(weak)} tag rule(s) cannot see a drop of {beyond:.3f} beyond their "
                     f"margin with {policy.power:.0%} power: {', '.join(weak)}.")
    return notes


def _power_check(policy: GatePolicy, overall: dict[str, Any]) -> dict[str, Any] | None:
    if policy.max_mde is None:
        return None
    mde = overall.get("mde")
    ok = mde is not None and mde <= policy.max_mde
    need = overall.get("needed_n")
    seen = "no drop at all" if mde is None else f"a drop to {0.5 - mde:.3f}"
    return {"name": "max_mde", "ok": ok, "value": mde, "limit": policy.max_mde,
            "message": f"this run detects {seen} with {policy.power:.0%} power; the policy "
                       f"needs {0.5 - policy.max_mde:.3f} (max_mde = {policy.max_mde:g})"
                       + ("" if ok or not need else f": {need:,} valid prompts would do")}


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
