"""``evalkit gate --sequential`` end to end: the real CLI against the real scripted
OpenAI-compatible server. It stops early, asks for generations only for the prompts it
reached (the server's own counters), stores one comparison holding exactly those prompts, and
reports every look."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import make_scenario, run_cli, write_config, write_pool

from evalkit.store import make_engine, queries

POOL = 600
GATE = """
[gate]
pool = "big"
margin = 0.02
max_mde = 0.12
min_valid = 20
looks = 5
"""


def project(tmp_path: Path, srv, gate: str = GATE) -> Path:
    write_pool(tmp_path / "pool.jsonl", POOL)
    write_config(tmp_path / "evalkit.toml", srv.base_url, max_retries=1)
    with open(tmp_path / "evalkit.toml", "a", encoding="utf-8") as fh:
        fh.write(gate)
    run_cli(["pool", "import", "big", "pool.jsonl"], tmp_path)
    run_cli(["baseline", "promote", "base", "--pool", "big", "-m", "release 1"], tmp_path)
    return tmp_path


def sequential_gate(tmp_path: Path, *extra: str) -> tuple[int, dict]:
    proc = run_cli(["gate", "cand", "--sequential", "--json", "--markdown", "gate.md",
                    "--junit", "gate.xml", *extra], tmp_path, check=False)
    assert proc.returncode in (0, 1, 2), proc.stderr
    report = json.loads(proc.stdout)
    assert report["exit_code"] == proc.returncode
    return proc.returncode, report


def requests(srv) -> dict[str, int]:
    return {m: c.get("requests", 0) for m, c in srv.stats()["by_model"].items()}


def test_clear_regression_stops_early_and_generates_only_what_it_reached(serve,
                                                                         tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=-1.0, tie_prob=0.2))  # true win rate ≈ 0.30
    code, report = sequential_gate(project(tmp_path, srv))
    assert code == 1 and report["decision"] == "regression"
    seq = report["sequential"]
    judged = seq["judged_prompts"]
    assert seq["stopped"] == "decided" and judged < POOL / 4
    assert len(seq["looks"]) < 5 and seq["looks"][-1]["decision"] == "regression"
    assert [lk["decision"] for lk in seq["looks"][:-1]] == ["continue"] * (len(seq["looks"]) - 1)
    last = seq["looks"][-1]
    assert last["estimate"] <= last["block_below"] and last["n"] == report["rules"][0]["n"]
    assert seq["design"]["alpha"] == 0.05 and seq["design"]["alternative"] == 0.38
    # the server saw generations for the prompts reached and nothing else (one per model)
    assert requests(srv) == {"base": judged, "cand": judged, "judge": 2 * judged}
    rule = report["rules"][0]
    assert rule["verdict"] == "regression" and rule["bound"] < rule["threshold"]
    # one stored comparison, holding the prompts judged, in a seeded random order
    engine = make_engine(f"sqlite:///{tmp_path / 'evalkit.db'}")
    assert [c["id"] for c in queries.list_comparisons(engine)] == [report["comparison_id"]]
    items = sorted(queries.comparison_items(engine, report["comparison_id"]),
                   key=lambda it: it["position"])
    ids = [it["item_id"] for it in items]
    assert len(set(ids)) == judged and ids != sorted(ids)
    md = (tmp_path / "gate.md").read_text()
    assert "Sequential looks" in md and "REGRESSION" in md and "| 1 |" in md
    # a re-run replays from the cache: same decision, no new requests
    code2, report2 = sequential_gate(tmp_path)
    assert code2 == 1 and report2["sequential"]["judged_prompts"] == judged
    assert requests(srv) == {"base": judged, "cand": judged, "judge": 2 * judged}


def test_clear_improvement_passes_early(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=1.0, tie_prob=0.2))
    code, report = sequential_gate(project(tmp_path, srv))
    assert code == 0 and report["decision"] == "pass"
    seq = report["sequential"]
    assert seq["stopped"] == "decided" and seq["judged_prompts"] < POOL / 4
    assert seq["looks"][-1]["estimate"] >= seq["looks"][-1]["pass_above"]
    assert requests(srv)["cand"] == seq["judged_prompts"]
    assert any("Decided after" in n for n in report["notes"])


def test_budget_exhausted_undecided_is_inconclusive(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(strength_b=-0.16, tie_prob=0.2))  # ≈ 0.48: on the threshold
    code, report = sequential_gate(project(tmp_path, srv), "--max-judgments", "80")
    assert code == 2 and report["decision"] == "inconclusive"
    seq = report["sequential"]
    assert seq["stopped"] == "exhausted" and seq["judged_prompts"] == 40
    assert seq["looks"][-1]["decision"] == "inconclusive"
    assert requests(srv) == {"base": 40, "cand": 40, "judge": 80}
    assert any("inconclusive, not a pass" in n for n in report["notes"])


def test_sequential_config_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "evalkit.toml").write_text(
        '[gate]\npool = "p"\nsequential = true\n[gate.tags.category]\nmath = 0.0\n')
    proc = run_cli(["gate", "cand"], tmp_path, check=False)
    assert proc.returncode == 2 and "overall win rate only" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "evalkit.toml").write_text('[gate]\npool = "p"\nrequire = "non-inferiority"\n')
    proc = run_cli(["gate", "cand", "--sequential"], tmp_path, check=False)
    assert proc.returncode == 2 and "no sequential design" in proc.stderr
