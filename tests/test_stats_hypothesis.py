"""Sign test, paired tests, non-inferiority/superiority and multiplicity adjustments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st

from evalkit.stats.hypothesis import (
    benjamini_hochberg,
    holm,
    noninferiority,
    paired_test,
    sign_test,
    superiority,
)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_sign_test_equals_scipy_binomtest(alternative: str) -> None:
    for wins in range(0, 31):
        for losses in (0, 1, 2, 5, 9, 10, 17, 30, 41):
            if wins + losses == 0:
                continue
            ref = st.binomtest(wins, wins + losses, 0.5, alternative=alternative).pvalue
            assert sign_test(wins, losses, alternative=alternative) == pytest.approx(
                ref, rel=1e-9, abs=1e-15)


def test_sign_test_edges() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 5) == 1.0
    assert sign_test(10, 0) == pytest.approx(2 * 0.5 ** 10)
    with pytest.raises(ValueError):
        sign_test(-1, 3)


def test_paired_test_counts_and_recommendation() -> None:
    scores = np.array([1.0] * 30 + [0.5] * 10 + [0.0] * 15)
    res = paired_test(scores)
    assert (res["wins"], res["ties"], res["losses"], res["n"]) == (30, 10, 15, 55)
    assert res["recommended"] == "sign"
    assert res["p_value"] == res["p_sign"] == pytest.approx(st.binomtest(30, 45).pvalue)
    assert res["p_t"] == pytest.approx(st.ttest_1samp(scores, 0.5).pvalue)
    soft = np.array([0.75, 0.5, 1.0, 0.25, 0.875, 0.625, 0.5, 0.75, 0.0, 1.0])
    res = paired_test(soft)
    assert res["recommended"] == "t"
    assert res["p_value"] == pytest.approx(st.ttest_1samp(soft, 0.5).pvalue)
    assert (res["wins"], res["ties"], res["losses"]) == (6, 2, 2)
    greater = paired_test(soft, alternative="greater")
    assert greater["p_t"] == pytest.approx(
        st.ttest_1samp(soft, 0.5, alternative="greater").pvalue)


def test_paired_test_degenerate() -> None:
    assert paired_test(np.full(5, 0.5))["p_t"] == 1.0
    res = paired_test(np.ones(5))
    assert np.isnan(res["p_t"]) and res["p_sign"] == pytest.approx(2 * 0.5 ** 5)


def _simulate(win_rate: float, tie: float, n: int, sims: int, seed: int) -> np.ndarray:
    w = win_rate - tie / 2
    counts = np.random.default_rng(seed).multinomial(n, [w, tie, 1 - tie - w], size=sims)
    return counts


def _scores(row: np.ndarray) -> np.ndarray:
    return np.repeat([1.0, 0.5, 0.0], row)


@pytest.mark.parametrize("method", ["t", "bootstrap"])
def test_noninferiority_size_at_the_boundary_and_power_under_alternative(method: str) -> None:
    margin, alpha, sims, n = 0.1, 0.05, 600, 150
    boundary = _simulate(0.5 - margin, 0.2, n, sims, seed=11)
    rejections = sum(
        noninferiority(_scores(r), margin, alpha=alpha, method=method, n_boot=1000,
                       seed=i)["decision"] == "non-inferior" for i, r in enumerate(boundary))
    se = np.sqrt(alpha * (1 - alpha) / sims)
    assert rejections / sims <= alpha + 2 * se, rejections / sims
    alt = _simulate(0.55, 0.2, n, 100, seed=12)
    power = np.mean([noninferiority(_scores(r), margin, method=method, n_boot=1000,
                                    seed=i)["decision"] == "non-inferior"
                     for i, r in enumerate(alt)])
    assert power > 0.95


def test_noninferiority_t_values_and_consistency() -> None:
    scores = np.array([1.0] * 40 + [0.5] * 20 + [0.0] * 40)
    res = noninferiority(scores, 0.1)
    se = scores.std(ddof=1) / 10
    assert res["estimate"] == 0.5 and res["null_value"] == pytest.approx(0.4)
    assert res["lower_bound"] == pytest.approx(0.5 - st.t.ppf(0.95, 99) * se)
    assert res["p_value"] == pytest.approx(st.t.sf(0.1 / se, 99))
    assert res["decision"] == "non-inferior"
    assert superiority(scores)["decision"] == "not shown"
    assert superiority(scores)["p_value"] == pytest.approx(0.5)


def test_bootstrap_pvalue_inverts_the_percentile_bound() -> None:
    rng = np.random.default_rng(13)
    for i in range(40):
        scores = rng.choice([0.0, 0.5, 1.0], p=[0.3, 0.2, 0.5], size=60)
        res = superiority(scores, 0.02, alpha=0.1, method="bootstrap", n_boot=500, seed=i)
        assert (res["lower_bound"] > res["null_value"]) == (res["p_value"] < 0.1)
        assert (res["decision"] == "superior") == (res["p_value"] < 0.1)


def test_superiority_rejects_a_clear_winner_and_validates() -> None:
    scores = np.array([1.0] * 70 + [0.0] * 30)
    for method in ("t", "bootstrap"):
        assert superiority(scores, method=method, n_boot=2000)["decision"] == "superior"
        assert superiority(scores, 0.25, method=method, n_boot=2000)["decision"] == "not shown"
    for method in ("t", "bootstrap"):
        single = superiority(np.array([1.0]), method=method)
        assert single["p_value"] == 1.0 and single["decision"] == "not shown"
    with pytest.raises(ValueError):
        noninferiority(scores, -0.1)
    with pytest.raises(ValueError):
        superiority(scores, method="z")  # type: ignore[arg-type]


def test_holm_hand_example() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*, 3*, 2*, 1* = 0.02, 0.03, 0.06, 0.04 -> cummax
    expected = np.array([0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm(p), expected)
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])


def test_bh_hand_example_and_scipy() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> *4/1, *4/2, *4/3, *4/4 = 0.02, 0.02, 0.04, 0.04
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])
    rng = np.random.default_rng(14)
    fdc = getattr(st, "false_discovery_control", None)
    if fdc is None:
        pytest.skip("scipy.stats.false_discovery_control needs scipy >= 1.11")
    for _ in range(50):
        q = np.concatenate([rng.uniform(size=20), rng.uniform(0, 0.01, size=5)])
        np.testing.assert_allclose(benjamini_hochberg(q), fdc(q), rtol=1e-12)


def test_adjustments_keep_nan_out_of_m_and_are_monotone() -> None:
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan, 0.005])
    h, b = holm(p), benjamini_hochberg(p)
    assert np.isnan(h[[1, 4]]).all() and np.isnan(b[[1, 4]]).all()
    np.testing.assert_allclose(h[[0, 2, 3, 5]], holm([0.01, 0.04, 0.03, 0.005]))
    np.testing.assert_allclose(b[[0, 2, 3, 5]], benjamini_hochberg([0.01, 0.04, 0.03, 0.005]))
    rng = np.random.default_rng(15)
    q = rng.uniform(size=40) ** 3
    order = np.argsort(q)
    for adj in (holm(q), benjamini_hochberg(q)):
        assert np.all(np.diff(adj[order]) >= -1e-15)
        assert np.all(adj >= q - 1e-15) and np.all(adj <= 1.0)
    assert holm([]).size == 0 and np.isnan(benjamini_hochberg([np.nan])).all()
    assert holm(np.array([[0.01, 0.02], [0.03, 0.04]])).shape == (2, 2)


def test_tails_without_scipy_stats_are_scipy_stats_to_the_last_bit() -> None:
    """The sign test and the t tails read scipy.special, not scipy.stats (a ~0.6 s import on
    the compare path): every p-value equals what scipy.stats gives, exactly."""
    from evalkit.stats.hypothesis import regression_test, t_cdf, t_ppf, t_sf

    for n in [*range(1, 120), 805, 2000, 10_007]:
        for wins in sorted({0, 1, n // 3, n // 2, n // 2 + 1, n - 1, n}):
            losses = n - wins
            upper = float(st.binom.sf(wins - 1, n, 0.5))
            lower = float(st.binom.cdf(wins, n, 0.5))
            assert sign_test(wins, losses, alternative="greater") == min(1.0, upper)
            assert sign_test(wins, losses, alternative="less") == min(1.0, lower)
            assert sign_test(wins, losses) == min(1.0, 2.0 * min(upper, lower))
    rng = np.random.default_rng(16)
    for x, df in zip(rng.normal(0, 4, 3000), rng.integers(1, 3000, 3000), strict=True):
        assert t_sf(x, df) == float(st.t.sf(x, df))
        assert t_cdf(x, df) == float(st.t.cdf(x, df))
    for q, df in zip(rng.uniform(0.5, 0.9999, 1000), rng.integers(1, 3000, 1000), strict=True):
        assert t_ppf(q, df) == float(st.t.ppf(q, df))
    scores = rng.choice([0.0, 0.5, 1.0, 0.75], size=77)
    res = paired_test(scores, alternative="greater")
    t = (scores.mean() - 0.5) / (scores.std(ddof=1) / np.sqrt(77))
    assert res["p_t"] == float(st.t.sf(t, 76))
    reg = regression_test(scores, 0.45)
    assert reg["p_value"] == float(st.t.cdf((scores.mean() - 0.45) / reg["se"], df=76))
    ni = noninferiority(scores, 0.1)
    se = scores.std(ddof=1) / np.sqrt(77)
    assert ni["lower_bound"] == scores.mean() - float(st.t.ppf(0.95, 76)) * se
