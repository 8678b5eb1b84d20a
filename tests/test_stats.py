"""Statistics proven by simulation where the truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit import stats
from evalkit.judging.outcomes import SCORES
from evalkit.testing.scripts import JudgeScript

N_SIMS = 1000


def test_ci_covers_the_scripted_judges_true_win_rate_95_percent_of_the_time() -> None:
    """Each simulated comparison: 300 prompts judged by the scripted judge (the same decision
    function the HTTP server uses); the 95% CI must cover the known truth ~95% of the time."""
    judge = JudgeScript(name="judge", strengths={"a": 0.0, "b": 0.45}, tie_prob=0.15)
    truth = judge.true_win_rate("a", "b")
    to_score = {"x": 1.0, "y": 0.0, "tie": 0.5}
    covered = 0
    for sim in range(N_SIMS):
        scripted = JudgeScript(name="judge", strengths=judge.strengths,
                               tie_prob=judge.tie_prob, seed=sim)
        scores = np.array([to_score[scripted.outcome("b", "a", f"p{i}")] for i in range(300)])
        lo, hi = stats.win_rate_summary(scores, n_boot=2000, seed=sim)["ci"]
        covered += lo <= truth <= hi
    assert 0.93 <= covered / N_SIMS <= 0.97, covered / N_SIMS


def test_cluster_bootstrap_covers_with_repeated_samples_where_row_bootstrap_does_not() -> None:
    """Five samples per prompt share the prompt's difficulty: resampling prompts covers the
    truth; resampling the samples as if independent is too narrow."""
    rng = np.random.default_rng(0)
    truth = 0.1 * 0.5 + 0.9 * 0.6  # ties 10%; otherwise a win with p_i ~ Beta(0.6, 0.4)
    covered_cluster = covered_rows = 0
    for sim in range(N_SIMS):
        p = rng.beta(0.6, 0.4, size=200)
        draws = rng.random((200, 5))
        ties = rng.random((200, 5)) < 0.1
        items = np.where(ties, 0.5, (draws < p[:, None]).astype(float))
        clusters = [list(row) for row in items]
        lo, hi = stats.win_rate_summary(stats.cluster_scores(clusters), n_boot=2000,
                                        seed=sim)["ci"]
        covered_cluster += lo <= truth <= hi
        lo, hi = stats.win_rate_summary(items.ravel(), n_boot=2000, seed=sim)["ci"]
        covered_rows += lo <= truth <= hi
    assert 0.93 <= covered_cluster / N_SIMS <= 0.97, covered_cluster / N_SIMS
    assert covered_rows / N_SIMS < 0.85, covered_rows / N_SIMS


def test_categorical_fast_path_matches_row_resampling_in_distribution() -> None:
    rng = np.random.default_rng(1)
    scores = rng.choice([0.0, 0.5, 1.0], p=[0.3, 0.2, 0.5], size=500)
    fast = stats.bootstrap_means(scores, n_boot=20_000, seed=3)
    idx = np.random.default_rng(4).integers(0, scores.size, size=(20_000, scores.size))
    slow = scores[idx].mean(axis=1)
    assert fast.mean() == pytest.approx(slow.mean(), abs=1e-3)
    assert fast.std() == pytest.approx(slow.std(), rel=0.03)
    assert np.quantile(fast, 0.025) == pytest.approx(np.quantile(slow, 0.025), abs=0.003)


def test_many_distinct_scores_use_the_row_path_and_agree_with_theory() -> None:
    rng = np.random.default_rng(2)
    scores = rng.random(400)  # 400 distinct values: the chunked row path
    reps = stats.bootstrap_means(scores, n_boot=5000, seed=0)
    assert reps.std() == pytest.approx(scores.std() / np.sqrt(400), rel=0.05)


def test_summary_is_seeded_reproducible_and_reports_se() -> None:
    scores = np.array([1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.5, 1.0])
    a = stats.win_rate_summary(scores, seed=5)
    b = stats.win_rate_summary(scores, seed=5)
    assert a == b
    assert a["win_rate"] == pytest.approx(scores.mean())
    assert a["se"] == pytest.approx(scores.std(ddof=1) / np.sqrt(8))
    assert a["n"] == 8 and a["ci"][0] < a["win_rate"] < a["ci"][1]
    assert stats.win_rate_summary(np.array([]))["win_rate"] is None


def test_cluster_scores_average_samples_and_drop_empty_prompts() -> None:
    got = stats.cluster_scores([[1.0, 0.0], [], [0.5], [1.0, 1.0, 0.5]])
    assert got.tolist() == pytest.approx([0.5, 0.5, 2.5 / 3])


def test_tie_counts_half() -> None:
    assert SCORES == {"win": 1.0, "tie": 0.5, "loss": 0.0}
