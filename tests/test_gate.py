"""`evalkit gate` through the CLI against the scripted server, seeded scenarios; reports; and
the false-block rate by simulation."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from conftest import CATEGORIES, cli_json, make_scenario, run_cli, write_config, write_pool

from evalkit.gate.evaluate import evaluate
from evalkit.gate.policy import GatePolicy
from evalkit.testing.scripts import JudgeScript

N = 120
GATE = """
[gate]
baseline = "promoted"
pool = "small"
confidence = 0.95
correction = "holm"
margin = 0.05
min_valid = 60
max_invalid_rate = 0.10
max_failed_rate = 0.10

[gate.tags.category]
safety = 0.0
math = 0.03
"""


def project(tmp_path: Path, srv, *, judge_extra: str = "") -> Path:
    write_pool(tmp_path / "pool.jsonl", N)
    write_config(tmp_path / "evalkit.toml", srv.base_url, judge_extra=judge_extra,
                 max_retries=1)
    with open(tmp_path / "evalkit.toml", "a", encoding="utf-8") as fh:
        fh.write(GATE)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    run_cli(["baseline", "promote", "base", "--pool", "small", "-m", "release 1"], tmp_path)
    return tmp_path


def gate(tmp_path: Path, *extra: str) -> tuple[int, dict]:
    proc = run_cli(["gate", "cand", "--json", "--markdown", "gate.md", "--junit", "gate.xml",
                    *extra], tmp_path, check=False)
    assert proc.returncode in (0, 1, 2), proc.stderr
    report = json.loads(proc.stdout)
    assert report["exit_code"] == proc.returncode
    return proc.returncode, report


def rule(report: dict, name: str) -> dict:
    return next(r for r in report["rules"] if r["name"] == name)


def test_clear_improvement_passes_with_reports(serve, tmp_path: Path, monkeypatch) -> None:
    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    srv = serve(make_scenario(strength_b=1.0))
    code, report = gate(project(tmp_path, srv))
    assert code == 0 and report["decision"] == "pass" and report["baseline"] == "base"
    assert [r["name"] for r in report["rules"]] == (
        ["overall"] + [f"category={c}" for c in sorted(CATEGORIES)])
    assert all(r["verdict"] == "pass" for r in report["rules"])
    assert rule(report, "category=safety")["threshold"] == 0.5
    assert rule(report, "category=math")["threshold"] == 0.47
    assert rule(report, "overall")["threshold"] == 0.45
    md = (tmp_path / "gate.md").read_text()
    assert "evalkit gate: passed" in md and "| category=safety |" in md
    assert summary.read_text() == md  # the same summary lands in the GitHub step summary
    suite = ET.parse(tmp_path / "gate.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "5" and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.findall("testcase")][0] == "overall"
    runs = cli_json(["baseline", "show", "--pool", "small"], tmp_path)
    assert runs["current"]["checkpoint"] == "base" and runs["current"]["why"] == "release 1"


def test_clear_regression_overall_blocks(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=-1.0))
    code, report = gate(project(tmp_path, srv))
    assert code == 1 and report["decision"] == "regression"
    assert rule(report, "overall")["verdict"] == "regression"
    assert rule(report, "overall")["ci"][1] < 0.45
    suite = ET.parse(tmp_path / "gate.xml").getroot().find("testsuite")
    failures = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert "overall" in [c.get("name") for c in failures]
    assert "REGRESSION" in (tmp_path / "gate.md").read_text()


def test_regression_confined_to_one_tag_is_caught_by_its_rule(serve, tmp_path: Path) -> None:
    override = [{"contains": "about safety", "strengths": {"base": 0.0, "cand": -3.0}}]
    srv = serve(make_scenario(strength_b=0.4, judge={"overrides": override}))
    code, report = gate(project(tmp_path, srv))
    assert code == 1
    assert rule(report, "overall")["verdict"] == "pass"
    assert rule(report, "category=safety")["verdict"] == "regression"
    assert all(r["verdict"] == "pass" for r in report["rules"]
               if r["name"] not in ("category=safety",))
    suite = ET.parse(tmp_path / "gate.xml").getroot().find("testsuite")
    assert suite.get("failures") == "1"


def test_difference_within_the_margin_passes(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=-0.08, tie_prob=0.2))  # true win rate ≈ 0.484
    code, report = gate(project(tmp_path, srv))
    assert code == 0, report["rules"]
    assert rule(report, "overall")["estimate"] < 0.5


def test_mostly_unparsable_judge_is_inconclusive(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=-2.0, judge={"invalid_rate": 0.8}))
    code, report = gate(project(tmp_path, srv, judge_extra="reask_invalid = false"))
    assert code == 2 and report["decision"] == "inconclusive"
    bad = {c["name"] for c in report["checks"] if not c["ok"]}
    assert "max_invalid_rate" in bad
    suite = ET.parse(tmp_path / "gate.xml").getroot().find("testsuite")
    assert suite.get("errors") == "1"
    assert "INCONCLUSIVE" in (tmp_path / "gate.md").read_text()


def test_dead_endpoint_is_inconclusive_never_a_pass(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(models={"cand": {"kind": "chat", "failures": {"dead": True}}}))
    code, report = gate(project(tmp_path, srv))
    assert code == 2
    assert report["counts"] == {"failed": N}
    assert {c["name"] for c in report["checks"] if not c["ok"]} == {"min_valid",
                                                                    "max_failed_rate"}


def test_budget_caps_judge_calls_and_against_previous(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=1.0))
    p = project(tmp_path, srv)
    code, report = gate(p, "--max-judgments", "100")
    assert srv.stats()["by_model"]["judge"]["requests"] == 100
    assert rule(report, "overall")["n"] == 50 and code == 2  # 50 < min_valid
    out = cli_json(["compare", "third", "--against", "previous", "--pool", "small"], p)
    assert out["baseline"] == "cand" and out["candidate"] == "third"
    out = cli_json(["compare", "third", "--against", "baseline", "--pool", "small"], p)
    assert out["baseline"] == "base"


def test_flips_from_win_to_loss_are_listed(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=-1.0))
    p = project(tmp_path, srv)
    cli_json(["compare", "base", "third", "--pool", "small"], p)  # an earlier candidate
    code, report = gate(p)
    flips = report["flips"]
    assert code == 1 and flips["against_candidate"] == "third" and flips["win_to_loss"]
    md = (p / "gate.md").read_text()
    assert "flipped from win to loss" in md and flips["win_to_loss"][0]["item_id"] in md


def test_gate_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "evalkit.toml").write_text("[gate]\nmargin = 0.7\n")
    proc = run_cli(["gate", "cand"], tmp_path, check=False)
    assert proc.returncode == 2 and "margin" in proc.stderr
    (tmp_path / "evalkit.toml").write_text('[gate]\npool = "p"\n')
    proc = run_cli(["gate", "cand"], tmp_path, check=False)
    assert proc.returncode == 2 and "evalkit baseline promote" in proc.stderr


def _false_blocks(policy: GatePolicy, runs: int = 400) -> float:
    tags = [{"category": CATEGORIES[i % 4]} for i in range(240)]
    to_score = {"x": 1.0, "y": 0.0, "tie": 0.5}
    blocked = 0
    for run in range(runs):
        judge = JudgeScript(name="j", strengths={"a": 0.0, "b": 0.0}, tie_prob=0.2, seed=run)
        scores = [to_score[judge.outcome("b", "a", f"p{i}")] for i in range(240)]
        counts = {"win": scores.count(1.0), "tie": scores.count(0.5),
                  "loss": scores.count(0.0)}
        blocked += evaluate(policy, scores, tags, counts, seed=run).decision == "regression"
    return blocked / runs


def test_equal_candidate_is_blocked_in_at_most_alpha_of_runs() -> None:
    """400 seeded runs where the candidate truly equals the baseline, 240 prompts, 5 rules
    (overall + 4 tags), Holm, alpha 0.05."""
    configured = GatePolicy(margin=0.02, min_valid=100, confidence=0.95,
                            tags={"category": {"safety": 0.0, "math": 0.03}})
    assert _false_blocks(configured) <= 0.05
    # at the boundary (every margin 0) the rate is alpha itself, up to simulation noise
    boundary = GatePolicy(margin=0.0, min_valid=100, tags={"category": {}}, confidence=0.95)
    assert _false_blocks(boundary) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 400)


def test_gate_has_power_against_a_real_regression() -> None:
    policy = GatePolicy(margin=0.02, min_valid=100, tags={"category": {}})
    tags = [{"category": CATEGORIES[i % 4]} for i in range(240)]
    judge = JudgeScript(name="j", strengths={"a": 0.0, "b": float(np.log(0.38 / 0.62))},
                        seed=1)
    to_score = {"x": 1.0, "y": 0.0, "tie": 0.5}
    scores = [to_score[judge.outcome("b", "a", f"p{i}")] for i in range(240)]
    result = evaluate(policy, scores, tags, {"win": 1}, seed=0)
    assert result.rules[0].verdict == "regression"


def test_a_rerun_gate_reuses_the_comparison_and_decides_the_same(serve, tmp_path: Path) -> None:
    """A second gate on unchanged inputs sends nothing and stores no second comparison
    (reuse.py); its decision, rules and flips are the first run's, and both runs are
    recorded as gate runs."""
    srv = serve(make_scenario(strength_b=-1.0))
    p = project(tmp_path, srv)
    cli_json(["compare", "base", "third", "--pool", "small"], p)  # an earlier candidate
    code, first = gate(p)
    sent = srv.stats()["requests"]
    again_code, again = gate(p)
    assert srv.stats()["requests"] == sent  # every answer and verdict is stored
    assert again_code == code == 1
    assert again["comparison_id"] == first["comparison_id"]
    assert again["gate_id"] != first["gate_id"]
    assert again["rules"] == first["rules"] and again["flips"] == first["flips"]
    assert len(cli_json(["comparisons"], p)) == 2  # base vs third, base vs cand: no duplicate
