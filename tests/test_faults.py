"""Faults: a 1,000-prompt `evalkit compare` against a loopback server failing 30% of attempts
in every way a real endpoint does ends with the same table as a fault-free run; requests that
fail for good are reported by reason and resumed, only they, once the server is healed.

The real CLI in a subprocess, real scripted servers on 127.0.0.1, real SQLite files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_pool

from evalkit.testing.scripts import FAULT_KINDS

JUDGE = {"kind": "judge", "strengths": {"base": 0.0, "cand": 0.5}, "tie_prob": 0.1}


def scenario(faults: dict[str, Any] | None = None, cand: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    """base: 5% of answers cut (finish_reason length); cand: 3% content-filtered. Both are
    decided per request, so they are the same with and without the fault mix."""
    out: dict[str, Any] = {"models": {
        "base": {"kind": "chat", "failures": {"length": 0.05}},
        "cand": {"kind": "chat", "failures": {"content_filter": 0.03, **(cand or {})}},
        "judge": JUDGE}}
    if faults:
        out["faults"] = faults
    return out


def project(root: Path, url: str, n: int) -> Path:
    root.mkdir()
    sections = []
    for table, model in (("checkpoints.base", "base"), ("checkpoints.cand", "cand"),
                         ("judges.sim", "judge")):
        # short backoff and timeout: injected timeouts cost 1 s, retries a few ms
        sections.append(f'[{table}]\nbase_url = "{url}"\nmodel = "{model}"\n'
                        "max_concurrency = 32\ntimeout = 1.0\nmax_retries = 10\n"
                        "retry_base = 0.02\n")
    (root / "evalkit.toml").write_text('[store]\nurl = "sqlite:///evalkit.db"\n\n'
                                       + "\n".join(sections) + '\n[defaults]\njudge = "sim"\n',
                                       encoding="utf-8")
    write_pool(root / "pool.jsonl", n)
    run_cli(["pool", "import", "big", "pool.jsonl"], root)
    return root


def compare(root: Path, ok: tuple[int, ...] = (0,)) -> tuple[dict[str, Any], str]:
    proc = run_cli(["compare", "base", "cand", "--pool", "big", "--json"], root, check=False,
                   timeout=300)
    assert proc.returncode in ok, proc.stderr[-3000:]
    return json.loads(proc.stdout), proc.stderr


def verdict_rows(root: Path, comparison_id: str) -> list[tuple[Any, ...]]:
    """Every stored item with the responses and both verdicts behind it."""
    db = sqlite3.connect(root / "evalkit.db")
    return db.execute("""
        SELECT ci.position, ci.sample, ci.item_id, ci.outcome, ci.strength, ci.score,
               gb.response, gb.finish_reason, gc.response, gc.error,
               jc.verdict, jb.verdict
        FROM comparisonitem ci
        JOIN generation gb ON gb.key = ci.gen_baseline
        JOIN generation gc ON gc.key = ci.gen_candidate
        LEFT JOIN judgment jc ON jc.key = ci.judgment_cand_first
        LEFT JOIN judgment jb ON jb.key = ci.judgment_base_first
        WHERE ci.comparison_id = ? ORDER BY ci.position, ci.sample""",
                      (comparison_id,)).fetchall()


@pytest.mark.slow
def test_thirty_percent_faults_of_every_kind_give_the_fault_free_table(
        serve, tmp_path: Path) -> None:
    n = 1000
    clean_srv = serve(scenario())
    clean, _ = compare(project(tmp_path / "clean", clean_srv.base_url, n))
    faulty_srv = serve(scenario({"rate": 0.3, "seed": 11, "kinds": list(FAULT_KINDS),
                                 "hang": 10}))
    faulty_root = project(tmp_path / "faulty", faulty_srv.base_url, n)
    faulty, stderr = compare(faulty_root)

    # nothing lost, nothing counted twice: the same numbers, overall and per tag
    assert faulty["overall"] == clean["overall"]
    assert faulty["by_tag"] == clean["by_tag"]
    assert verdict_rows(faulty_root, faulty["comparison_id"]) == verdict_rows(
        tmp_path / "clean", clean["comparison_id"])

    stats = faulty_srv.stats()
    assert set(stats["faults"]) == set(FAULT_KINDS)  # every kind was injected …
    assert stats["faults_survived"] == stats["faults"]  # … and every one was survived
    assert sum(stats["faults"].values()) > 0.25 * stats["requests"]
    assert stats["completed"] == clean_srv.stats()["completed"]
    assert stats["completed_repeats"] == 0  # no request answered twice

    # the deterministic cases, the same in both runs: cut answers are judged as they are,
    # content-filtered ones are failures (never losses), reported with their reason
    o = faulty["overall"]
    assert stats["scripted"] == clean_srv.stats()["scripted"]
    assert stats["scripted"]["length"] > 0
    assert o["failed"] == stats["scripted"]["content_filter"] > 0
    assert o["n"] == n - o["failed"] and o["invalid"] == 0
    assert [(f["role"], f["reason"], f["count"]) for f in faulty["failures"]] == [
        ("candidate", "content_filter", o["failed"])]
    assert f"{o['failed']} failed: content filtered at {faulty_srv.base_url}" in stderr
    db = sqlite3.connect(faulty_root / "evalkit.db")
    (cut,) = db.execute("SELECT COUNT(*) FROM generation WHERE finish_reason = 'length' "
                        "AND response IS NOT NULL").fetchone()
    assert cut == stats["scripted"]["length"]


@pytest.mark.slow
def test_permanent_failures_are_reported_and_only_they_are_resumed(
        serve, tmp_path: Path) -> None:
    n = 200
    broken = serve(scenario(cand={"always": 0.1, "status": 500},
                            faults={"rate": 0.3, "seed": 3, "kinds": ["503", "reset"]}))
    root = project(tmp_path / "p", broken.base_url, n)
    first, stderr = compare(root)
    o = first["overall"]
    groups = {(f["role"], f["reason"]): f for f in first["failures"]}
    assert set(groups) == {("candidate", "http_5xx"), ("candidate", "content_filter")}
    dead = groups[("candidate", "http_5xx")]
    assert dead["count"] + groups[("candidate", "content_filter")]["count"] == o["failed"]
    assert 5 <= dead["count"] <= 40
    assert dead["endpoint"] == broken.base_url and dead["example"].startswith("HTTP 500")
    assert f"{o['failed']} of {n} prompt items failed" in stderr
    assert (f"{dead['count']} failed: server errors from {broken.base_url} after every "
            "retry (HTTP 500) (candidate cand)") in stderr
    stored = json.loads(run_cli(["show", first["comparison_id"], "--json"], root).stdout)
    assert stored["failures"] == first["failures"]  # the reasons are kept with the result

    healed = serve(scenario())
    text = (root / "evalkit.toml").read_text().replace(broken.base_url, healed.base_url)
    (root / "evalkit.toml").write_text(text)
    again, _ = compare(root)
    by_model = healed.stats()["by_model"]
    failed_now = again["overall"]["failed"]
    assert "base" not in by_model  # every baseline answer was stored
    # only the failed ones were asked again: the dead ones and the content-filtered ones
    assert by_model["cand"]["requests"] == o["failed"]
    assert by_model["judge"]["requests"] == 2 * (o["failed"] - failed_now)
    assert failed_now == healed.stats()["scripted"]["content_filter"]
    assert again["overall"]["n"] == n - failed_now
