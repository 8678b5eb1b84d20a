"""`evalkit compare` end to end: the real CLI in a subprocess, a real scripted
OpenAI-compatible server on 127.0.0.1, a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

N = 40


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_pool(tmp_path / "pool.jsonl", N)
    run_cli(["pool", "import", "small", "pool.jsonl", "--db", "evalkit.db"], tmp_path)
    return tmp_path


def by_model(srv, model: str, what: str = "requests") -> int:
    return srv.stats()["by_model"].get(model, {}).get(what, 0)


def test_compare_reports_counts_ci_tags_and_stores_the_record(serve, project: Path) -> None:
    srv = serve(make_scenario(strength_b=1.5, tie_prob=0.1))
    write_config(project / "evalkit.toml", srv.base_url)
    out = cli_json(["compare", "base", "cand", "--pool", "small"], project)

    o = out["overall"]
    assert out["baseline"] == "base" and out["candidate"] == "cand"
    assert out["pool"]["name"] == "small" and out["pool"]["prompts"] == N
    assert o["wins"] + o["ties"] + o["losses"] + o["invalid"] + o["failed"] == N
    assert o["invalid"] == 0 and o["failed"] == 0 and o["n"] == N
    assert o["win_rate"] == pytest.approx((o["wins"] + 0.5 * o["ties"]) / N)
    assert o["ci"][0] <= o["win_rate"] <= o["ci"][1] and o["ci_level"] == 0.95
    assert o["win_rate"] > 0.6  # a strong candidate
    assert set(out["by_tag"]["category"]) == {"math", "coding", "law", "safety"}
    assert sum(b["n"] for b in out["by_tag"]["category"].values()) == N
    # every request went to the server exactly once: 2 generations + 2 judge orders per prompt
    assert by_model(srv, "base") == N and by_model(srv, "cand") == N
    assert by_model(srv, "judge") == 2 * N
    assert srv.stats()["completed_repeats"] == 0

    stored = cli_json(["show", out["comparison_id"]], project)
    assert stored["overall"] == o
    with_items = cli_json(["show", out["comparison_id"][:8], "--items"], project)
    assert len(with_items["items"]) == N
    for it in with_items["items"]:  # the combined outcome follows from the two raw verdicts
        pair = (it["verdict_candidate_first"], it["verdict_baseline_first"])
        expected = {("A", "B"): "win", ("B", "A"): "loss"}.get(pair, "tie")
        assert it["outcome"] == expected
    db = sqlite3.connect(project / "evalkit.db")
    (items,) = db.execute("select count(*) from comparisonitem where comparison_id=?",
                          (out["comparison_id"],)).fetchone()
    (judged,) = db.execute("select count(*) from judgment where verdict is not null").fetchone()
    assert items == N and judged == 2 * N
    # the stored per-prompt outcomes reproduce the reported counts
    rows = db.execute("select outcome, count(*) from comparisonitem where comparison_id=? "
                      "group by outcome", (out["comparison_id"],)).fetchall()
    assert dict(rows) == {k: v for k, v in {"win": o["wins"], "tie": o["ties"],
                                            "loss": o["losses"]}.items() if v}


def test_outcomes_match_the_scripted_judge_exactly(serve, project: Path) -> None:
    """Each prompt's recorded outcome is the scripted judge's decision for that prompt."""
    from evalkit.testing.scripts import JudgeScript

    scenario = make_scenario(strength_b=0.4, tie_prob=0.2)
    srv = serve(scenario)
    write_config(project / "evalkit.toml", srv.base_url)
    out = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    spec = dict(scenario["models"]["judge"])
    spec.pop("kind")
    judge = JudgeScript(name="judge", **spec)
    db = sqlite3.connect(project / "evalkit.db")
    rows = db.execute(
        "select ci.outcome, g.response from comparisonitem ci join generation g "
        "on g.key = ci.gen_candidate where ci.comparison_id=?", (out["comparison_id"],))
    expected = {"x": "win", "y": "loss", "tie": "tie"}
    n = 0
    for outcome, response in rows:
        prompt_key = response.split("prompt=")[1].split("]")[0]
        assert outcome == expected[judge.outcome("cand", "base", prompt_key)]
        n += 1
    assert n == N


def _row_counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: con.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


def test_second_identical_run_makes_zero_requests_and_reuses_the_comparison(
        serve, project: Path) -> None:
    srv = serve(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url)
    first = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    assert first["reused"] is False
    before, rows = srv.stats()["requests"], _row_counts(project / "evalkit.db")
    second = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    assert srv.stats()["requests"] == before
    assert second["overall"] == first["overall"] and second["by_tag"] == first["by_tag"]
    assert second["requests"]["judge"] == {"cached": 2 * N}
    # nothing changed: the stored comparison is returned, and nothing is written
    assert second["comparison_id"] == first["comparison_id"] and second["reused"] is True
    assert _row_counts(project / "evalkit.db") == rows
    table = run_cli(["compare", "base", "cand", "--pool", "small"], project).stdout
    assert f"nothing changed since comparison {first['comparison_id']}" in table
    # another option is another summary: a new comparison, reused by the same run again
    third = cli_json(["compare", "base", "cand", "--pool", "small", "--seed", "3"], project)
    assert third["reused"] is False and third["comparison_id"] != first["comparison_id"]
    again = cli_json(["compare", "base", "cand", "--pool", "small", "--seed", "3"], project)
    assert again["reused"] is True and again["comparison_id"] == third["comparison_id"]
    # only the pool's latest comparison is reused (the leaderboard, `--against previous`
    # and the gate's flips read the store as if the run had stored its own)
    back = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    assert back["reused"] is False and back["comparison_id"] not in (first["comparison_id"],
                                                                     third["comparison_id"])
    assert back["overall"] == first["overall"]
    assert len(cli_json(["comparisons"], project)) == 3


def test_comparing_b_against_c_reuses_b_responses(serve, project: Path) -> None:
    srv = serve(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url)
    cli_json(["compare", "base", "cand", "--pool", "small"], project)
    out = cli_json(["compare", "cand", "third", "--pool", "small"], project)
    assert by_model(srv, "cand") == N  # not asked again
    assert by_model(srv, "third") == N
    assert out["requests"]["baseline"] == {"cached": N}


def test_flaky_endpoint_is_retried_and_nothing_is_lost(serve, project: Path) -> None:
    failures = {"first": 1, "status": 429, "retry_after": 0.01}
    srv = serve(make_scenario(models={"cand": {"kind": "chat", "failures": failures}},
                              judge={"failures": {"rate": 0.2, "status": 502}}))
    write_config(project / "evalkit.toml", srv.base_url)
    out = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    assert out["overall"]["failed"] == 0 and out["overall"]["n"] == N
    assert by_model(srv, "cand") == 2 * N and by_model(srv, "cand", "completed") == N
    assert by_model(srv, "judge", "completed") == 2 * N
    assert by_model(srv, "judge") > 2 * N  # some judge calls were retried


def test_dead_endpoint_gives_failed_rows_never_losses_and_resumes_later(
        serve, project: Path) -> None:
    dead = serve(make_scenario(models={"base": {"kind": "chat",
                                                "failures": {"dead": True}}}))
    write_config(project / "evalkit.toml", dead.base_url)
    proc = run_cli(["compare", "base", "cand", "--pool", "small", "--json"], project,
                   check=False)
    assert proc.returncode == 3  # nothing could be judged: reported, not stored
    out = json.loads(proc.stdout)
    o = out["overall"]
    assert o["failed"] == N and o["n"] == 0 and o["wins"] == o["losses"] == 0
    assert o["win_rate"] is None and o["ci"] is None and out["comparison_id"] is None
    assert f"{N} failed: server errors from {dead.base_url}" in proc.stderr
    assert by_model(dead, "judge") == 0  # nothing judged against a missing response
    db = sqlite3.connect(project / "evalkit.db")
    errors = [r[0] for r in db.execute("select error from generation where error is not null")]
    assert len(errors) == N and all("HTTP 500" in e for e in errors)

    healthy = serve(make_scenario())
    write_config(project / "evalkit.toml", healthy.base_url)
    again = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    assert again["overall"]["failed"] == 0 and again["overall"]["n"] == N
    assert by_model(healthy, "base") == N  # failures are retried
    assert by_model(healthy, "cand") == 0  # successes are not


def test_unparsable_verdicts_are_invalid_not_losses(serve, project: Path) -> None:
    srv = serve(make_scenario(judge={"invalid_rate": 0.4}))
    write_config(project / "evalkit.toml", srv.base_url, judge_extra="reask_invalid = false")
    out = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    o = out["overall"]
    assert o["invalid"] > 0
    assert o["wins"] + o["ties"] + o["losses"] + o["invalid"] == N
    assert o["n"] == N - o["invalid"]
    assert o["win_rate"] == pytest.approx((o["wins"] + 0.5 * o["ties"]) / o["n"])


def test_reasking_recovers_invalid_verdicts(serve, project: Path) -> None:
    srv = serve(make_scenario(judge={"invalid_rate": 0.4, "reask_fixes": True}))
    write_config(project / "evalkit.toml", srv.base_url)
    out = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    assert out["overall"]["invalid"] == 0 and out["overall"]["n"] == N
    db = sqlite3.connect(project / "evalkit.db")
    (reasked,) = db.execute("select count(*) from judgment where reasked").fetchone()
    assert reasked > 0 and by_model(srv, "judge") == 2 * N + reasked


def test_quoting_judge_and_graded_judge_parse_to_the_same_outcomes(
        serve, tmp_path: Path) -> None:
    results = {}
    for style, template in (("plain", "pairwise"), ("quote_trap", "pairwise"),
                            ("graded", "graded")):
        project = tmp_path / style
        project.mkdir()
        write_pool(project / "pool.jsonl", N)
        srv = serve(make_scenario(strength_b=0.5, judge={"style": style}))
        write_config(project / "evalkit.toml", srv.base_url,
                     judge_extra=f'template = "{template}"')
        run_cli(["pool", "import", "small", "pool.jsonl"], project)
        results[style] = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    counts = {s: (r["overall"]["wins"], r["overall"]["ties"], r["overall"]["losses"],
                  r["overall"]["invalid"]) for s, r in results.items()}
    assert counts["plain"] == counts["quote_trap"] == counts["graded"]
    db = sqlite3.connect(tmp_path / "graded" / "evalkit.db")
    strengths = {r[0] for r in db.execute("select strength from comparisonitem "
                                          "where outcome != 'tie'")}
    assert strengths == {1, 2}  # graded verdicts keep their strength


def test_position_biased_judge_turns_disagreements_into_ties(serve, project: Path) -> None:
    srv = serve(make_scenario(strength_b=3.0, tie_prob=0.0, judge={"position_bias": 1.0}))
    write_config(project / "evalkit.toml", srv.base_url)
    out = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    # always "A": the candidate wins when shown first and loses when shown second -> ties
    assert out["overall"]["ties"] == N and out["overall"]["win_rate"] == 0.5
    db = sqlite3.connect(project / "evalkit.db")
    assert {r[0] for r in db.execute("select verdict from judgment")} == {"A"}


def test_table_output_and_pool_commands(serve, project: Path) -> None:
    srv = serve(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url)
    table = run_cli(["compare", "base", "cand", "--pool", "small"], project).stdout
    assert "cand (candidate) vs base (baseline)" in table
    assert "category=math" in table and "95% CI" in table and "overall" in table
    listing = cli_json(["pool", "list"], project)
    assert [p["name"] for p in listing["stored"]] == ["small"]
    assert "rlhf_prompts" in listing["shipped"]
    shown = cli_json(["pool", "show", "small"], project)
    assert shown["prompts"] == N and shown["multi_turn"] == N // 5
    assert shown["tags"]["category"] == {c: N // 4 for c in ("coding", "law", "math", "safety")}
    comparisons = cli_json(["comparisons"], project)
    assert len(comparisons) == 1 and comparisons[0]["candidate"] == "cand"


def test_reimport_changed_pool_makes_a_new_version_and_keeps_old_results(
        serve, project: Path) -> None:
    srv = serve(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url)
    first = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    same = cli_json(["pool", "import", "small", "pool.jsonl"], project)
    assert same["created"] is False and same["version"] == first["pool"]["version"]
    lines = (project / "pool.jsonl").read_text().splitlines()
    row = json.loads(lines[1])
    row["prompt"] = "A changed question."
    lines[1] = json.dumps(row)
    (project / "pool.jsonl").write_text("\n".join(lines) + "\n")
    new = cli_json(["pool", "import", "small", "pool.jsonl"], project)
    assert new["created"] is True and new["version"] != first["pool"]["version"]
    second = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    assert second["pool"]["version"] == new["version"]
    assert second["requests"]["baseline"] == {"cached": N - 1, "generated": 1}
    old = cli_json(["show", first["comparison_id"]], project)
    assert old["pool"]["version"] == first["pool"]["version"]
    pinned = cli_json(["compare", "base", "cand", "--pool", "small", "--pool-version",
                       first["pool"]["version"][:8]], project)
    assert pinned["overall"] == first["overall"]


def test_bad_input_and_config_errors_are_one_line(serve, project: Path) -> None:
    (project / "bad.jsonl").write_text('{"id": "a", "prompt": "ok"}\n{"id": "b", "prompt": ""}\n')
    proc = run_cli(["pool", "import", "broken", "bad.jsonl"], project, check=False)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert "\n" not in err and "bad.jsonl:2" in err and "prompt" in err
    assert "Traceback" not in proc.stderr
    assert cli_json(["pool", "list"], project)["stored"][0]["name"] == "small"  # nothing half-imported

    srv = serve(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url)
    proc = run_cli(["compare", "base", "nope", "--pool", "small"], project, check=False)
    assert proc.returncode == 2 and "no checkpoint named 'nope'" in proc.stderr
    proc = run_cli(["compare", "base", "cand", "--pool", "missing"], project, check=False)
    assert proc.returncode == 2 and "no pool named 'missing'" in proc.stderr
    (project / "evalkit.toml").write_text('[checkpoints.x]\nbackend = "openai"\nbase_url = 3\n')
    proc = run_cli(["compare", "x", "x", "--pool", "small"], project, check=False)
    assert proc.returncode == 2 and "base_url" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_logprob_judge_gives_soft_verdicts_kept_unrounded(serve, project: Path) -> None:
    import math

    srv = serve(make_scenario(strength_b=0.7))
    write_config(project / "evalkit.toml", srv.base_url,
                 judge_extra='template = "pairwise_logprob"\nverdict = "logprobs"')
    out = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    truth = 1 / (1 + math.exp(-0.7))  # the calibrated scripted judge's P(candidate better)
    o = out["overall"]
    assert o["win_rate"] == pytest.approx(truth, abs=1e-9)
    assert o["wins"] == N and o["invalid"] == 0
    db = sqlite3.connect(project / "evalkit.db")
    prefs = sorted({round(r[0], 12) for r in db.execute("select preference from judgment")})
    assert prefs == [round(1 - truth, 12), round(truth, 12)]
    (calls,) = db.execute("select count(*) from judgment where raw_output in ('A','B')"
                          ).fetchone()
    assert calls == 2 * N


def test_preference_from_logprobs_reads_letter_variants() -> None:
    import math

    from evalkit.judging.pairwise import preference_from_logprobs

    lp = {" A": math.log(0.2), "B": math.log(0.5), "b": math.log(0.1), "C": math.log(0.2)}
    assert preference_from_logprobs(lp) == pytest.approx(0.6 / 0.8)
    assert preference_from_logprobs({"Sure": -0.1}) is None
