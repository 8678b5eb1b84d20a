"""`evalkit leaderboard` and `evalkit judge-eval` through the CLI, against the scripted server
and real human-labelled pairs (LLMBar)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, cli_json, make_scenario, run_cli, write_config, write_pool

from evalkit.stats.bradley_terry import BattleCounts, fit_bt

N = 40


def test_leaderboard_ranks_by_strength_and_makes_no_requests(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=2.0, tie_prob=0.1))  # base 0, third 1.0, cand 2.0
    write_pool(tmp_path / "pool.jsonl", N)
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    ids = [cli_json(["compare", a, b, "--pool", "small"], tmp_path)["comparison_id"]
           for a, b in (("base", "cand"), ("base", "third"), ("third", "cand"))]
    cli_json(["compare", "base", "cand", "--pool", "small"], tmp_path)  # a re-run supersedes
    before = srv.stats()["requests"]
    board = cli_json(["leaderboard", "--pool", "small"], tmp_path)
    assert srv.stats()["requests"] == before
    assert board["judge"] == "sim"
    assert [r["checkpoint"] for r in board["ratings"]] == ["cand", "third", "base"]
    assert all(r["ci"][0] <= r["rating"] <= r["ci"][1] for r in board["ratings"])
    assert np.mean([r["rating"] for r in board["ratings"]]) == pytest.approx(1000, abs=1e-6)
    assert all(r["avg_length"] and r["avg_length"] > 10 for r in board["ratings"])
    assert {r["n"] for r in board["ratings"]} == {2 * N}  # each in two pairs, no double count
    # independent check: the ratings are the BT fit of the stored per-prompt outcomes
    db = sqlite3.connect(tmp_path / "evalkit.db")
    latest = {row[0]: row for row in db.execute(
        "select id, baseline, candidate from comparison order by created_at")}
    used = [p["comparison_id"] for p in board["pairs"]]
    assert ids[0] not in used and set(ids[1:]) <= set(used)
    rows = []
    for cid in used:
        _, a, b = latest[cid]
        scores = [r[0] for r in db.execute(
            "select score from comparisonitem where comparison_id=? and score is not null",
            (cid,))]
        rows.append((a, b, scores.count(0.0), scores.count(0.5), scores.count(1.0)))
    fit = fit_bt(BattleCounts.from_pairs(rows))
    for r in board["ratings"]:
        assert r["rating"] == pytest.approx(fit.ratings[fit.models.index(r["checkpoint"])],
                                            abs=1e-6)
    wm = board["win_matrix"]
    assert wm["cand"]["base"] == pytest.approx(1 - wm["base"]["cand"])
    table = run_cli(["leaderboard", "--pool", "small"], tmp_path).stdout
    assert "Leaderboard" in table and "cand" in table and "Win rate of row vs column" in table


def test_leaderboard_without_comparisons_says_what_to_run(tmp_path: Path) -> None:
    proc = run_cli(["leaderboard", "--pool", "nothing"], tmp_path, check=False)
    assert proc.returncode == 2 and "evalkit compare" in proc.stderr


@pytest.mark.skipif(not (SHARED_DATA / "llmbar").is_dir(),
                    reason="../shared/data/llmbar is not present (only in the project's CI)")
def test_judge_eval_on_llmbar_with_a_length_preferring_judge(serve, tmp_path: Path) -> None:
    labels = SHARED_DATA / "llmbar" / "Natural.json"
    srv = serve({"models": {"judge": {"kind": "judge", "rule": "longer"}}})
    (tmp_path / "evalkit.toml").write_text(
        f'[judges.longer]\nbase_url = "{srv.base_url}"\nmodel = "judge"\n', encoding="utf-8")
    out = cli_json(["judge-eval", "longer", "--labels", str(labels)], tmp_path)

    rows = json.loads(labels.read_text())
    # computed independently: the judge picks the longer output; ties when equal length
    judge = ["x" if len(r["output_1"]) > len(r["output_2"]) else
             "y" if len(r["output_2"]) > len(r["output_1"]) else "tie" for r in rows]
    human = ["x" if r["label"] == 1 else "y" for r in rows]
    accuracy = np.mean([j == h for j, h in zip(judge, human, strict=True)])
    assert out["pairs"] == len(rows) == 100
    assert out["agreement"]["accuracy"] == pytest.approx(accuracy)
    assert out["agreement"]["n"] == len(rows)
    from sklearn.metrics import cohen_kappa_score

    assert out["agreement"]["kappa"] == pytest.approx(cohen_kappa_score(judge, human))
    assert out["position_flip"]["flip_rate"] == 0.0  # a length rule ignores order
    assert out["longer_response"]["rate"] == 1.0
    assert out["first_position"]["rate"] == pytest.approx(0.5)
    assert srv.stats()["by_model"]["judge"]["requests"] == 200
    again = cli_json(["judge-eval", "longer", "--labels", str(labels)], tmp_path)
    assert srv.stats()["by_model"]["judge"]["requests"] == 200  # cached
    assert again["agreement"] == out["agreement"]
    text = run_cli(["judge-eval", "longer", "--labels", str(labels)], tmp_path).stdout
    assert "Cohen's kappa" in text and "position flips" in text


def test_judge_eval_bad_labels_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text(json.dumps([{"input": "q", "output_1": "a",
                                                       "output_2": "b", "label": 3}]))
    (tmp_path / "evalkit.toml").write_text(
        '[judges.j]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "judge"\n')
    proc = run_cli(["judge-eval", "j", "--labels", "labels.json"], tmp_path, check=False)
    assert proc.returncode == 2 and "labels.json:1" in proc.stderr and "label" in proc.stderr
