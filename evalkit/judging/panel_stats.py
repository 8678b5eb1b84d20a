"""What a panel's members said on a comparison's items: each member's own outcome per item
(the same MT-Bench rule over its verdicts in the judged orders), its win rate with the
interval ``compare`` reports, and, for every pair of members, their agreement on the item
outcomes (win/tie/loss for the candidate): the share of agreeing items and Cohen's kappa
(``stats.agreement``). Items where either member's verdict is unreadable are left out of a
pair's agreement and counted."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from .. import stats
from .outcomes import OrderVerdict, prompt_outcome
from .parse import Verdict

UNIT = "prompt x sample items: the member's outcome for the candidate (win/tie/loss)"


def member_outcomes(items: Sequence[dict[str, Any]],
                    members: dict[str, list[dict[str, Any]]], names: Sequence[str]
                    ) -> dict[str, dict[int, tuple[int, str, float | None]]]:
    """Per member name: item index -> (position, outcome, score) for the items whose panel
    judgments are stored; outcome "invalid" when the member's verdict could not be read."""
    out: dict[str, dict[int, tuple[int, str, float | None]]] = {n: {} for n in names}
    for index, it in enumerate(items):
        orders = [(members.get(it.get(field) or ""), cf) for field, cf in
                  (("judgment_cand_first", True), ("judgment_base_first", False))
                  if it.get(field)]
        if not orders or any(m is None for m, _ in orders):
            continue
        for name in names:
            given = []
            for mv, cf in orders:
                row = next((v for v in mv or [] if v.get("judge") == name), None)
                if row is None or row.get("verdict") is None:
                    break
                label = row["verdict"]
                strength = row.get("strength") or (1 if label in ("A", "B") else 0)
                verdict = Verdict(label, strength if label in ("A", "B") else 0)
                given.append(OrderVerdict(verdict, cf, row.get("preference")))
            else:
                outcome, _, score = prompt_outcome(given)
                out[name][index] = (int(it["position"]), outcome, score)
    return out


def panel_summary(items: Sequence[dict[str, Any]], members: dict[str, list[dict[str, Any]]],
                  names: Sequence[str], level: float = 0.95) -> dict[str, Any]:
    """``members``: judgment key -> the member verdicts stored with the panel judgment."""
    per = member_outcomes(items, members, names)
    results = []
    for name in names:
        rows = list(per[name].values())
        counts = Counter(o for _, o, _ in rows)
        by_prompt: dict[int, list[float]] = defaultdict(list)
        for pos, _, score in rows:
            if score is not None:
                by_prompt[pos].append(score)
        scores = np.array([float(np.mean(v)) for v in by_prompt.values()])
        summary = stats.win_rate_summary(scores, level=level)
        results.append({"judge": name, "wins": counts["win"], "ties": counts["tie"],
                        "losses": counts["loss"], "invalid": counts["invalid"], **summary})
    agreement = []
    for a, b in combinations(names, 2):
        shared = sorted(set(per[a]) & set(per[b]))
        ag = stats.agreement([per[a][k][1] for k in shared], [per[b][k][1] for k in shared],
                             level=level)
        kappa = ag["kappa"]
        agreement.append({
            "a": a, "b": b, "n": ag["n"], "excluded": ag["n_excluded"],
            "agreement": None if ag["n"] == 0 else ag["accuracy"],
            "kappa": None if kappa != kappa else kappa,
            "kappa_ci": ag["kappa_ci"], "labels": [str(x) for x in ag["labels"]],
            "confusion": ag["confusion"], "unit": UNIT})
    return {"members": results, "agreement": agreement}
