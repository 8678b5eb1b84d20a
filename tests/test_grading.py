"""Single-answer grading (``evalkit grade``): the strict score parser, rubric templates, a
scripted grader whose score for every answer is known (the stored means and the paired
difference equal the known values; malformed scores are invalid, never coerced; a rerun asks
nothing), the gate's grade rule, and the intervals' coverage by simulation."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

from evalkit.errors import ConfigError
from evalkit.judging.grading import load_grader_template, parse_score
from evalkit.stats.grading import mean_score, score_difference
from evalkit.testing.grade_script import GraderScript

N = 40
GRADER = {"kind": "grader", "scores": {"base": 5, "cand": 7}, "spread": 2,
          "malformed_rate": 0.15, "seed": 3}
MARK = re.compile(r"\[sim model=(\S+) prompt=([0-9a-f]+)\]")


@pytest.mark.parametrize("text, score", [
    ("Good.\nRating: [[7]]", 7.0), ("[[ 10 ]]", 10.0), ("Rating: **[[1]]**", 1.0),
    ("Earlier I said [[3]].\nRating: [[8]]", 8.0), ("Rating: [[8]] and again [[8]]", 8.0)])
def test_valid_scores(text: str, score: float) -> None:
    assert parse_score(text, 1, 10).score == score


@pytest.mark.parametrize("text, problem", [
    ("Rating: [[11]]", "outside the scale"), ("Rating: [[0]]", "outside the scale"),
    ("Rating: [[7/10]]", "not a number"), ("Rating: [[7.5]]", "not a whole number"),
    ("Rating: 7", "no [[score]]"), ("Rating: [[6]] or [[7]]", "two different scores"),
    ("Rating: [[seven]]", "not a number"), ("", "empty reply"),
    ("[[7]]\nFinal: [[A]]", "not a number")])
def test_malformed_scores_are_invalid_never_coerced(text: str, problem: str) -> None:
    parsed = parse_score(text, 1, 10)
    assert parsed.score is None and problem in (parsed.problem or "")


def test_decimal_scales_and_templates(tmp_path: Path) -> None:
    assert parse_score("[[7.5]]", 1, 10, integer=False).score == 7.5
    t = load_grader_template("rubric_1to10")
    assert (t.min_score, t.max_score, t.integer) == (1.0, 10.0, True)
    system, user = t.render([{"role": "user", "content": "Q?"}], "The answer.", "Ref.")
    assert "1 to 10" in system["content"] and "9-10:" in system["content"]
    assert "<reference_answer>\nRef.\n</reference_answer>" in user["content"]
    assert "reference_answer" not in t.render([{"role": "user", "content": "Q?"}], "A", None)[1][
        "content"]
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nformat = "score"\nmin_score = 1\nmax_score = 5\n'
                   'user = "{answer}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="lacks the placeholder {conversation}"):
        load_grader_template(str(bad))
    with pytest.raises(ConfigError, match="unknown grader template 'pairwise'"):
        load_grader_template("pairwise")


def known(db: Path, script: GraderScript) -> dict[str, dict[str, Any]]:
    """Per checkpoint: per prompt hash, the scripted grader's score and whether it answers
    malformed — from the stored answers' markers."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("select c.name, g.prompt_hash, g.response from generation g join "
                           "checkpoint c on c.spec_hash = g.checkpoint_spec").fetchall()
    finally:
        con.close()
    out: dict[str, dict[str, Any]] = {}
    for name, prompt_hash, response in rows:
        model, digest = MARK.match(response).groups()  # type: ignore[union-attr]
        out.setdefault(name, {})[prompt_hash] = (script.score_of(model, digest),
                                                 script.malformed(model, digest))
    return out


@pytest.fixture
def project(tmp_path: Path, serve) -> tuple[Path, Any]:
    scenario = make_scenario()
    scenario["models"]["grader"] = GRADER
    scenario["models"]["fixer"] = {**GRADER, "reask_fixes": True}
    srv = serve(scenario)
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    with open(tmp_path / "evalkit.toml", "a") as fh:
        for name, model in (("g", "grader"), ("f", "fixer")):
            fh.write(f'\n[graders.{name}]\nbase_url = "{srv.base_url}"\nmodel = "{model}"\n'
                     'max_retries = 1\n')
    write_pool(tmp_path / "pool.jsonl", N)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    return tmp_path, srv


def test_means_and_paired_difference_equal_the_known_values(project) -> None:
    tmp, srv = project
    out = cli_json(["grade", "base", "cand", "--pool", "small", "--grader", "g"], tmp)
    script = GraderScript(name="grader", **{k: v for k, v in GRADER.items() if k != "kind"})
    truth = known(tmp / "evalkit.db", script)
    valid = {m: {h: s for h, (s, bad) in truth[m].items() if bad is None} for m in truth}
    for role, name in (("baseline", "base"), ("candidate", "cand")):
        o = out[role]["overall"]
        scores = list(valid[name].values())
        assert o["mean"] == pytest.approx(np.mean(scores), abs=1e-12)
        assert o["n"] == len(scores) and o["graded"] == len(scores)
        assert o["invalid"] == N - len(scores) > 0 and o["failed"] == 0
        assert o["ci"][0] < o["mean"] < o["ci"][1]
    both = sorted(set(valid["base"]) & set(valid["cand"]))
    diff = out["difference"]["overall"]
    assert diff["n"] == len(both)
    assert diff["delta"] == pytest.approx(np.mean([valid["cand"][h] - valid["base"][h]
                                                   for h in both]), abs=1e-12)
    assert diff["ci"][0] < diff["delta"] < diff["ci"][1] and diff["test"] == "paired t-test"
    assert diff["p_value"] < 0.001
    print(f"\nmeans: base {out['baseline']['overall']['mean']:.4f} (known "
          f"{np.mean(list(valid['base'].values())):.4f}), cand "
          f"{out['candidate']['overall']['mean']:.4f} (known "
          f"{np.mean(list(valid['cand'].values())):.4f}); difference {diff['delta']:.4f} (known "
          f"{np.mean([valid['cand'][h] - valid['base'][h] for h in both]):.4f}) "
          f"{diff['ci']}; invalid {out['baseline']['overall']['invalid']} + "
          f"{out['candidate']['overall']['invalid']}")
    con = sqlite3.connect(tmp / "evalkit.db")
    rows = con.execute("select valid, score, reasked, raw_output from grade").fetchall()
    con.close()
    invalid = [r for r in rows if not r[0]]
    assert len(invalid) == 2 * N - len(valid["base"]) - len(valid["cand"])
    assert all(score is None and reasked for _, score, reasked, _ in invalid)  # asked twice
    assert all("--- re-asked ---" in raw for *_, raw in invalid)
    by_tag = out["candidate"]["by_tag"]["category"]
    assert sum(b["graded"] for b in by_tag.values()) == len(valid["cand"])
    before = srv.stats()["by_model"]["grader"]["requests"]
    again = cli_json(["grade", "base", "cand", "--pool", "small", "--grader", "g"], tmp)
    assert srv.stats()["by_model"]["grader"]["requests"] == before  # cached, invalid too
    assert again["difference"]["overall"]["delta"] == diff["delta"]
    assert again["candidate"]["requests"]["grader"] == {"cached": N}


def test_a_reask_that_gets_a_valid_score(project) -> None:
    tmp, srv = project
    out = cli_json(["grade", "cand", "--pool", "small", "--grader", "f"], tmp)
    assert out["overall"]["invalid"] == 0 and out["overall"]["graded"] == N
    con = sqlite3.connect(tmp / "evalkit.db")
    reasked = con.execute("select count(*) from grade where reasked").fetchone()[0]
    con.close()
    script = GraderScript(name="fixer", **{k: v for k, v in GRADER.items() if k != "kind"})
    malformed = sum(bad is not None for _, bad in known(tmp / "evalkit.db", script)["cand"]
                    .values())
    assert reasked == malformed > 0
    assert srv.stats()["by_model"]["fixer"]["requests"] == N + malformed


def test_text_output_and_errors(project) -> None:
    tmp, _ = project
    text = run_cli(["grade", "base", "cand", "--pool", "small", "--grader", "g"], tmp).stdout
    assert "cand − base (grader g)" in text and "category=math" in text
    bad = run_cli(["grade", "base", "--pool", "small", "--grader", "nope"], tmp, check=False)
    assert bad.returncode == 2 and "no grader named 'nope'" in bad.stderr


def test_gate_grade_rule_joins_the_correction(project) -> None:
    tmp, _ = project
    with open(tmp / "evalkit.toml", "a") as fh:
        fh.write('\n[gate]\nbaseline = "base"\npool = "small"\nmin_valid = 10\nmargin = 0.45\n'
                 '\n[gate.grade.g]\ntolerance = 0.5\n')
    ok = cli_json(["gate", "cand"], tmp)  # cand scores ~2 points higher
    (rule,) = [r for r in ok["rules"] if r["name"] == "grade:g"]
    assert rule["verdict"] == "pass" and rule["estimate"] > 1.0 and rule["threshold"] == -0.5
    assert rule["p_adjusted"] >= rule["p_value"]
    worse = run_cli(["gate", "base", "--baseline", "cand", "--json"], tmp, check=False)
    assert worse.returncode == 1
    import json

    report = json.loads(worse.stdout)
    (rule,) = [r for r in report["rules"] if r["name"] == "grade:g"]
    assert rule["verdict"] == "regression" and rule["bound"] < -0.5
    assert "mean score (g) credibly dropped" in rule["reason"]


def test_grade_intervals_cover_the_truth() -> None:
    """Scores 1-10 with a prompt effect and 3 correlated samples per prompt: the clustered
    mean CI and the paired difference CI cover the true values ~95% of the time."""
    true_a, true_diff = _truth()
    rng = np.random.default_rng(0)
    sims, prompts, samples = 600, 60, 3
    hit_mean = hit_diff = 0
    for _ in range(sims):
        difficulty = rng.normal(0, 1.5, prompts)
        a = np.clip(np.round(5 + difficulty[:, None] + rng.normal(0, 1, (prompts, samples))),
                    1, 10)
        b = np.clip(np.round(5.5 + difficulty[:, None] + rng.normal(0, 1, (prompts, samples))),
                    1, 10)
        m = mean_score(a.ravel(), np.repeat(np.arange(prompts), samples))
        hit_mean += m["ci"][0] <= true_a <= m["ci"][1]
        d = score_difference(dict(enumerate(a.mean(axis=1))), dict(enumerate(b.mean(axis=1))),
                             n_boot=1000, seed=int(rng.integers(1 << 30)))
        hit_diff += d.ci[0] <= true_diff <= d.ci[1]
    print(f"\ncoverage: mean {hit_mean / sims:.3f}, paired difference {hit_diff / sims:.3f}")
    assert 0.92 <= hit_mean / sims <= 0.975
    assert 0.92 <= hit_diff / sims <= 0.975


def _truth() -> tuple[float, float]:
    """The population mean of the simulation's clipped, rounded scores and their difference."""
    rng = np.random.default_rng(12345)
    d = rng.normal(0, 1.5, 2_000_000)
    e1, e2 = rng.normal(0, 1, (2, d.size))
    a = np.clip(np.round(5 + d + e1), 1, 10)
    b = np.clip(np.round(5.5 + d + e2), 1, 10)
    return float(a.mean()), float((b - a).mean())
