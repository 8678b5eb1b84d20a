"""Judge reliability from raw verdicts (plain arrays in, plain numbers out).

Positional labels are those the judge emits: "A" (first shown wins), "B" (second shown wins),
"tie" and "invalid" (case-insensitive; None and "" count as invalid). For a pair (x, y) judged
in both orders, order 1 shows x first and order 2 shows y first, so order-2 labels map back as
"A" -> y and "B" -> x.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from scipy.stats import beta as _beta
from scipy.stats import norm as _norm

from .hypothesis import sign_test

_POSITIONAL = {"a": "A", "b": "B", "tie": "tie", "invalid": "invalid", "": "invalid"}


def _positional(labels: Sequence[Any] | np.ndarray) -> list[str]:
    out = []
    for raw in list(labels):
        if raw is None or (isinstance(raw, float) and np.isnan(raw)):
            out.append("invalid")
            continue
        key = str(raw).strip().lower()
        if key not in _POSITIONAL:
            raise ValueError(f"unknown verdict label {raw!r}; expected A, B, tie or invalid")
        out.append(_POSITIONAL[key])
    return out


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> list[float] | None:
    if n == 0:
        return None
    a = (1.0 - level) / 2.0
    lo = 0.0 if k == 0 else float(_beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(_beta.ppf(1.0 - a, k + 1, n - k))
    return [lo, hi]


def position_flip_rate(verdict_first: Sequence[Any] | np.ndarray,
                       verdict_second: Sequence[Any] | np.ndarray) -> dict[str, Any]:
    """How often the judge's preference changes when the order of a pair is swapped.

    Each order's positional label is translated to a preference for x, y or tie (order 1: A=x;
    order 2: A=y). Pairs with an invalid verdict in either order are excluded (``n_excluded``).
    Over the ``n`` remaining pairs:

    - ``flip_rate``: strict reversals (x in one order, y in the other) / n;
    - ``partial_rate``: a decided preference in one order and a tie in the other / n — a
      partial inconsistency, reported separately rather than counted as half a flip;
    - ``inconsistency_rate``: any change (flips + partials) / n = 1 - ``consistent_rate``.

    ``flips_first_position`` / ``flips_second_position`` split the reversals into those where
    the judge chose position A both times (first-position bias) or B both times.
    """
    first = _positional(verdict_first)
    second = _positional(verdict_second)
    if len(first) != len(second):
        raise ValueError("verdict_first and verdict_second must have the same length")
    to_pref_1 = {"A": "x", "B": "y", "tie": "tie"}
    to_pref_2 = {"A": "y", "B": "x", "tie": "tie"}
    n = flips = partial = flips_a = flips_b = 0
    excluded = 0
    for l1, l2 in zip(first, second, strict=True):
        if l1 == "invalid" or l2 == "invalid":
            excluded += 1
            continue
        n += 1
        p1, p2 = to_pref_1[l1], to_pref_2[l2]
        if p1 == p2:
            continue
        if "tie" in (p1, p2):
            partial += 1
        else:
            flips += 1
            flips_a += l1 == "A"
            flips_b += l1 == "B"
    rate = (lambda k: k / n) if n else (lambda k: float("nan"))
    return {"n": n, "n_excluded": excluded, "flips": flips, "partial": partial,
            "flips_first_position": flips_a, "flips_second_position": flips_b,
            "flip_rate": rate(flips), "partial_rate": rate(partial),
            "inconsistency_rate": rate(flips + partial),
            "consistent_rate": rate(n - flips - partial)}


def first_position_win_rate(labels: Sequence[Any] | np.ndarray) -> dict[str, Any]:
    """Share of decided verdicts (A or B; ties and invalid excluded) that pick position A.

    0.5 means no position bias. ``p_value``: exact two-sided binomial test of share = 0.5;
    ``ci``: Clopper–Pearson 95% interval.
    """
    lab = _positional(labels)
    n_a, n_b = lab.count("A"), lab.count("B")
    n = n_a + n_b
    return {"n": n, "n_a": n_a, "n_b": n_b, "n_tie": lab.count("tie"),
            "n_invalid": lab.count("invalid"),
            "rate": n_a / n if n else float("nan"),
            "p_value": sign_test(n_a, n_b), "ci": _clopper_pearson(n_a, n),
            "method": "exact binomial test vs 0.5; Clopper-Pearson CI"}


def longer_response_win_rate(labels: Sequence[Any] | np.ndarray,
                             len_a: Sequence[float] | np.ndarray,
                             len_b: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Share of decided verdicts won by the longer response (verbosity bias; 0.5 = none).

    ``labels`` are positional ("A"/"B"/"tie"/"invalid") and ``len_a``/``len_b`` the lengths of
    the responses shown in positions A and B for each verdict. Ties, invalid verdicts and pairs
    of equal length are excluded. ``p_value``: exact two-sided binomial test of share = 0.5;
    ``ci``: Clopper–Pearson 95% interval.
    """
    lab = _positional(labels)
    la = np.asarray(len_a, dtype=float).ravel()
    lb = np.asarray(len_b, dtype=float).ravel()
    if not (len(lab) == la.size == lb.size):
        raise ValueError("labels, len_a and len_b must have the same length")
    lab_arr = np.array(lab, dtype=object)
    decided = (lab_arr == "A") | (lab_arr == "B")
    unequal = la != lb
    use = decided & unequal
    a_longer = la > lb
    longer_won = use & (((lab_arr == "A") & a_longer) | ((lab_arr == "B") & ~a_longer))
    k, n = int(longer_won.sum()), int(use.sum())
    return {"n": n, "longer_wins": k, "shorter_wins": n - k,
            "n_equal_length": int((decided & ~unequal).sum()),
            "n_undecided": int((~decided).sum()),
            "rate": k / n if n else float("nan"), "p_value": sign_test(k, n - k),
            "ci": _clopper_pearson(k, n),
            "method": "exact binomial test vs 0.5; Clopper-Pearson CI"}


def _is_missing(v: Any) -> bool:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return True
    return isinstance(v, str) and v.strip().lower() in ("invalid", "")


def agreement(judge_labels: Sequence[Hashable] | np.ndarray,
              human_labels: Sequence[Hashable] | np.ndarray, *,
              level: float = 0.95) -> dict[str, Any]:
    """Judge–human agreement: accuracy and Cohen's kappa over pairs where both are valid.

    Labels are any hashable values (e.g. "x", "y", "tie"); "invalid", "", None and NaN mark a
    missing label and drop the pair. ``kappa = (po - pe) / (1 - pe)`` with ``po`` the observed
    agreement and ``pe = sum_k p_judge(k) p_human(k)``. ``kappa_se`` is the large-sample
    (non-null) standard error of Fleiss, Cohen & Everitt (1969):

        Var = [sum_i p_ii (1 - (p_i. + p_.i)(1 - kappa))^2
               + (1 - kappa)^2 sum_{i != j} p_ij (p_.i + p_j.)^2
               - (kappa - pe (1 - kappa))^2] / (n (1 - pe)^2),

    and ``kappa_ci`` the Wald interval ``kappa ± z * se``. ``confusion`` has judge labels as
    rows and human labels as columns, in the order of ``labels``. Kappa is NaN when pe = 1.
    """
    judge = list(judge_labels)
    human = list(human_labels)
    if len(judge) != len(human):
        raise ValueError("judge_labels and human_labels must have the same length")
    pairs = [(j, h) for j, h in zip(judge, human, strict=True)
             if not (_is_missing(j) or _is_missing(h))]
    cats = sorted({v for pair in pairs for v in pair}, key=lambda v: (str(type(v)), str(v)))
    index = {c: i for i, c in enumerate(cats)}
    k = len(cats)
    conf = np.zeros((k, k), dtype=int)
    for j, h in pairs:
        conf[index[j], index[h]] += 1
    n = len(pairs)
    out: dict[str, Any] = {"n": n, "n_excluded": len(judge) - n, "labels": cats,
                           "confusion": conf.tolist(), "ci_level": level}
    if n == 0:
        out.update(accuracy=float("nan"), kappa=float("nan"), kappa_se=float("nan"),
                   kappa_ci=None)
        return out
    p = conf / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    po = float(np.trace(p))
    pe = float(rows @ cols)
    out["accuracy"] = po
    if pe >= 1.0 - 1e-15:
        out.update(kappa=float("nan"), kappa_se=float("nan"), kappa_ci=None)
        return out
    kappa = (po - pe) / (1.0 - pe)
    diag = np.diag(p)
    term1 = float(np.sum(diag * (1.0 - (rows + cols) * (1.0 - kappa)) ** 2))
    cross = (cols[:, None] + rows[None, :]) ** 2  # (p_.i + p_j.)^2 at [i, j]
    off = p * cross
    term2 = (1.0 - kappa) ** 2 * float(off.sum() - np.trace(off))
    term3 = (kappa - pe * (1.0 - kappa)) ** 2
    var = max(0.0, term1 + term2 - term3) / (n * (1.0 - pe) ** 2)
    se = float(np.sqrt(var))
    z = float(_norm.ppf(0.5 + level / 2.0))
    out.update(kappa=float(kappa), kappa_se=se, kappa_ci=[kappa - z * se, kappa + z * se])
    return out
