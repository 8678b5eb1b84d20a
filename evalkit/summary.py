"""A compare's summary from its prompt items: the win rate, CI and p-value overall and per
tag, and the length-controlled win rate.

The length-controlled bootstrap refits a model per resample (the slowest statistic: 0.1 s for
800 prompts, seconds for 100,000), so ``LengthControlled`` runs it on a thread started as soon
as the prompt scores exist; the table's blocks are computed meanwhile and the result is
joined before the summary is stored or printed as JSON. numpy and the statistics load here,
only when a summary is computed (a rerun that reuses a stored comparison needs neither).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from . import __version__, stats

LC_METHOD = ("logistic fit of outcome on tanh(length difference / (1.4826 MAD)); win rate at "
             "zero difference; prompt bootstrap, refit per resample")


def by_position(items: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        grouped[it["position"]].append(it)
    return grouped


class LengthControlled:
    """The length-controlled win rate (characters), bootstrap CI over prompts, computed on a
    thread from the moment it is constructed; ``result()`` joins it."""

    def __init__(self, items: list[dict[str, Any]], responses: dict[str, dict[str, Any]],
                 seed: int, level: float) -> None:
        fit = stats.length_controlled_win_rate  # imported here, not on the thread
        pool = ThreadPoolExecutor(1, thread_name_prefix="evalkit-lc")
        self._future: Future[dict[str, Any] | None] = pool.submit(
            self._compute, fit, by_position(items), responses, seed, level)
        pool.shutdown(wait=False)

    def result(self) -> dict[str, Any] | None:
        return self._future.result()

    @staticmethod
    def _compute(fit: Any, grouped: dict[int, list[dict[str, Any]]],
                 responses: dict[str, dict[str, Any]], seed: int, level: float
                 ) -> dict[str, Any] | None:
        scores, len_c, len_b = [], [], []
        for its in grouped.values():
            valid = [it for it in its if it["score"] is not None]
            if not valid:
                continue
            scores.append(sum(it["score"] for it in valid) / len(valid))
            len_c.append(sum(len(responses[it["gen_candidate"]]["response"]) for it in valid)
                         / len(valid))
            len_b.append(sum(len(responses[it["gen_baseline"]]["response"]) for it in valid)
                         / len(valid))
        if len(scores) < 3:
            return None
        # each resample refits the model, so resamples cost O(n): 1,000 for small pools,
        # fewer (never under 250) for large ones
        n_boot = min(1000, max(250, 500_000 // len(scores)))
        lc = fit(scores, len_c, len_b, n_boot=n_boot, seed=seed, level=level)
        return {"win_rate": lc["lc_win_rate"], "ci": lc["lc_ci"], "slope": lc["slope"],
                "slope_ci": lc["slope_ci"], "n": lc["n"], "n_boot": n_boot,
                "method": LC_METHOD}


def summarize(comparer: Any, items: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    """The summary of a ``Comparer``'s run (its prompts, options, sources and request
    counts) from its ``items``, with ``overall.length_controlled`` None: the caller fills in
    ``LengthControlled.result()`` when it needs it."""
    o = comparer.options
    n_prompts = len(comparer.prompts)
    grouped = by_position(items)
    # one score per prompt (the mean of its valid items, as stats.cluster_scores; NaN when
    # none), computed once and indexed by every block: a 100k-prompt pool has 12 blocks
    prompt_score = np.full(n_prompts, np.nan)
    for pos, its in grouped.items():
        valid = [it["score"] for it in its if it["score"] is not None]
        if valid:
            prompt_score[pos] = valid[0] if len(valid) == 1 else float(np.mean(valid))

    def block(positions: list[int]) -> dict[str, Any]:
        chosen = [it for pos in positions for it in grouped[pos]]
        counts = Counter(it["outcome"] for it in chosen)
        picked = prompt_score[positions]
        scores = picked[~np.isnan(picked)]
        summary = stats.win_rate_summary(scores, level=o.ci_level, n_boot=o.n_boot,
                                         seed=o.seed)
        test = stats.paired_test(scores) if scores.size else None
        return {"n": summary.pop("n"), "wins": counts["win"], "ties": counts["tie"],
                "losses": counts["loss"], "invalid": counts["invalid"],
                "failed": counts["failed"], **summary,
                "p_value": test["p_value"] if test else None,
                "test": test["method"] if test else None}

    by_tag: dict[str, dict[str, dict[str, Any]]] = {}
    groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for pos, p in enumerate(comparer.prompts):
        for tag, value in p.tags.items():
            groups[tag][value].append(pos)
    for tag in sorted(groups):
        by_tag[tag] = {v: block(groups[tag][v]) for v in sorted(groups[tag])}
        pvals = [b["p_value"] if b["p_value"] is not None else float("nan")
                 for b in by_tag[tag].values()]
        for b, adj in zip(by_tag[tag].values(), stats.holm(pvals), strict=True):
            b["p_holm"] = None if adj != adj else float(adj)
    overall = block(list(range(n_prompts)))
    overall["length_controlled"] = None  # joined by the caller (LengthControlled)
    judge, pool = comparer.judge, comparer.pool
    return {
        "comparison_id": uuid.uuid4().hex[:16],
        "pool": {"name": pool.name, "version": pool.version, "prompts": n_prompts},
        "baseline": comparer.baseline.config.name, "candidate": comparer.candidate.config.name,
        "judge": judge.config.name, "judge_template": judge.template.name,
        "samples": o.samples, "both_orders": judge.config.both_orders,
        **({"excluded": {"items": len(o.exclude_items), "reason": o.exclude_reason}}
           if o.exclude_items else {}),
        "overall": overall, "by_tag": by_tag,
        "requests": comparer.request_counts(),
        "duration_s": round(duration, 3), "evalkit_version": __version__,
    }
