"""Judge reliability: position flips, position and length bias, agreement with humans."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st

from evalkit.stats.reliability import (
    agreement,
    first_position_win_rate,
    longer_response_win_rate,
    position_flip_rate,
)


def test_position_flip_rate_hand_built() -> None:
    # order 1: x shown first; order 2: y shown first (so "B" in order 2 means x).
    first = ["A", "A", "B", "A", "tie", "A", "invalid", "B", "tie", "a"]
    second = ["B", "A", "A", "tie", "tie", "B", "A", "B", "A", None]
    # prefs: (x,x) ok, (x,y) flip-A, (y,y) ok, (x,tie) partial, (tie,tie) ok, (x,x) ok,
    #        excluded, (y,x) flip-B, (tie,y) partial, excluded
    res = position_flip_rate(first, second)
    assert res["n"] == 8 and res["n_excluded"] == 2
    assert res["flips"] == 2 and res["partial"] == 2
    assert res["flips_first_position"] == 1 and res["flips_second_position"] == 1
    assert res["flip_rate"] == pytest.approx(2 / 8)
    assert res["partial_rate"] == pytest.approx(2 / 8)
    assert res["inconsistency_rate"] == pytest.approx(4 / 8)
    assert res["consistent_rate"] == pytest.approx(4 / 8)


def test_always_first_judge_flips_every_time() -> None:
    res = position_flip_rate(["A"] * 10, ["A"] * 10)
    assert res["flip_rate"] == 1.0 and res["flips_first_position"] == 10
    assert np.isnan(position_flip_rate([], [])["flip_rate"])
    with pytest.raises(ValueError):
        position_flip_rate(["A", "C"], ["A", "B"])
    with pytest.raises(ValueError):
        position_flip_rate(["A"], ["A", "B"])


def test_first_position_win_rate() -> None:
    labels = np.array(["A"] * 30 + ["B"] * 10 + ["tie"] * 5 + ["invalid"] * 2)
    res = first_position_win_rate(labels)
    assert (res["n"], res["n_a"], res["n_b"], res["n_tie"], res["n_invalid"]) == (40, 30, 10, 5, 2)
    assert res["rate"] == 0.75
    assert res["p_value"] == pytest.approx(st.binomtest(30, 40).pvalue)
    ci = st.binomtest(30, 40).proportion_ci(method="exact")
    assert res["ci"] == pytest.approx([ci.low, ci.high])
    balanced = first_position_win_rate(["A", "B"] * 20)
    assert balanced["rate"] == 0.5 and balanced["p_value"] == 1.0


def test_longer_response_win_rate() -> None:
    labels = ["A", "A", "B", "B", "tie", "A", "invalid", "B"]
    len_a = [100, 50, 100, 30, 80, 70, 10, 60]
    len_b = [50, 100, 50, 90, 20, 70, 99, 20]
    # A wins longer; A wins shorter; B wins shorter; B wins longer; tie; equal; invalid;
    # B wins shorter -> decided & unequal: 5, longer won 2.
    res = longer_response_win_rate(labels, len_a, len_b)
    assert res["n"] == 5 and res["longer_wins"] == 2 and res["shorter_wins"] == 3
    assert res["n_equal_length"] == 1 and res["n_undecided"] == 2
    assert res["rate"] == pytest.approx(0.4)
    assert res["p_value"] == pytest.approx(st.binomtest(2, 5).pvalue)
    verbose = longer_response_win_rate(["A", "B"] * 25, [200, 10] * 25, [10, 200] * 25)
    assert verbose["rate"] == 1.0 and verbose["p_value"] < 1e-10
    with pytest.raises(ValueError):
        longer_response_win_rate(["A"], [1, 2], [1, 2])


def test_agreement_hand_computed_kappa() -> None:
    judge = ["x"] * 20 + ["y"] * 15 + ["x"] * 5 + ["y"] * 10 + ["invalid"]
    human = ["x"] * 20 + ["y"] * 15 + ["y"] * 5 + ["x"] * 10 + ["x"]
    res = agreement(judge, human)
    # confusion (judge rows x, y; human cols x, y) = [[20, 5], [10, 15]]
    assert res["labels"] == ["x", "y"] and res["confusion"] == [[20, 5], [10, 15]]
    assert res["n"] == 50 and res["n_excluded"] == 1
    po, pe = 35 / 50, (25 / 50) * (30 / 50) + (25 / 50) * (20 / 50)
    assert res["accuracy"] == pytest.approx(po)
    assert res["kappa"] == pytest.approx((po - pe) / (1 - pe))
    lo, hi = res["kappa_ci"]
    assert lo < res["kappa"] < hi


def _kappa_from_cells(p: np.ndarray) -> float:
    po, pe = np.trace(p), p.sum(axis=1) @ p.sum(axis=0)
    return float((po - pe) / (1 - pe))


def test_kappa_se_equals_the_delta_method() -> None:
    rng = np.random.default_rng(7)
    cats = ["x", "y", "tie"]
    truth = rng.integers(0, 3, 300)
    judge_idx = np.where(rng.random(300) < 0.7, truth, rng.integers(0, 3, 300))
    res = agreement([cats[i] for i in judge_idx], [cats[i] for i in truth])
    p = np.array(res["confusion"], dtype=float) / res["n"]
    grad = np.zeros_like(p)
    eps = 1e-7
    for idx in np.ndindex(p.shape):  # gradient of kappa w.r.t. the cell probabilities
        up = p.copy()
        up[idx] += eps
        dn = p.copy()
        dn[idx] -= eps
        grad[idx] = (_kappa_from_cells(up) - _kappa_from_cells(dn)) / (2 * eps)
    var = (np.sum(p * grad ** 2) - np.sum(p * grad) ** 2) / res["n"]
    assert res["kappa_se"] == pytest.approx(np.sqrt(var), rel=1e-5)


def test_kappa_matches_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(8)
    cats = np.array(["x", "y", "tie"])
    for _ in range(20):
        human = cats[rng.integers(0, 3, 120)]
        judge = np.where(rng.random(120) < 0.6, human, cats[rng.integers(0, 3, 120)])
        assert agreement(judge, human)["kappa"] == pytest.approx(
            metrics.cohen_kappa_score(judge, human), abs=1e-12)


def test_agreement_degenerate() -> None:
    same = agreement(["x"] * 5, ["x"] * 5)
    assert same["accuracy"] == 1.0 and np.isnan(same["kappa"])
    none = agreement(["invalid"], ["x"])
    assert none["n"] == 0 and np.isnan(none["accuracy"])
    perfect = agreement(["x", "y", "tie", "x"], ["x", "y", "tie", "x"])
    assert perfect["kappa"] == 1.0 and perfect["kappa_se"] == 0.0
