"""Reward models through the CLI against the scripted server: ``compare --judge rm:NAME``
(hard and soft outcomes) gives exactly the win rate the scripted rewards imply, with the
statistics, storage, leaderboard and gate an LLM judge has; ``evalkit score`` reports the
reward distribution per tag, reuses its cache and reports failures grouped; ``rm-vs-judge``
reports the agreement and the disagreements the scripts imply."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool
from rm_helpers import rm_table, with_rewards

from evalkit.backends.reward_base import render_hh
from evalkit.stats.reliability import agreement
from evalkit.testing.rewards import RewardScript
from evalkit.testing.scripts import ChatScript

SHARE = {"base": 0.3, "cand": 0.8}
REWARDS = {"rm": {"rule": "markers", "share": SHARE, "seed": 1},
           "graded": {"rule": "hash", "seed": 2},
           "dead": {"rule": "hash", "failures": {"dead": True, "status": 503}}}


def pool_messages(path: Path) -> list[list[dict[str, str]]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r.get("messages") or [{"role": "user", "content": r["prompt"]}] for r in rows]


def rewards(model: str, ckpt: str, pool: Path) -> list[float]:
    """The scripted reward of each of ``ckpt``'s answers on the pool, computed directly."""
    spec = REWARDS[model]
    script = RewardScript(name=model, **{k: v for k, v in spec.items() if k != "failures"})
    out = []
    for messages in pool_messages(pool):
        answer, _ = ChatScript(name=ckpt).answer(messages, 256)
        out.append(script.reward(render_hh(messages, answer)))
    return out


@pytest.fixture
def project(tmp_path: Path, serve) -> tuple[Path, Any]:
    srv = serve(with_rewards(make_scenario(), REWARDS, tei="graded"))
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    extra = [rm_table("rm", backend="vllm", base_url=srv.base_url, model="rm", batch_size=8),
             rm_table("soft", backend="vllm", base_url=srv.base_url, model="graded",
                      temperature=0.5),
             rm_table("wide", backend="vllm", base_url=srv.base_url, model="rm",
                      tie_margin=1.5),
             rm_table("graded", backend="tei", base_url=srv.base_url, tie_margin=0.25),
             rm_table("dead", backend="vllm", base_url=srv.base_url, model="dead",
                      max_retries=1, retry_base=0.01),
             '[gate]\nbaseline = "base"\npool = "p"\njudge = "rm:rm"\nmin_valid = 10\n']
    with open(tmp_path / "evalkit.toml", "a") as fh:
        fh.write("\n" + "\n".join(extra))
    write_pool(tmp_path / "pool.jsonl", n=40)
    run_cli(["pool", "import", "p", "pool.jsonl"], tmp_path)
    return tmp_path, srv


def rm_requests(srv: Any, model: str = "rm") -> int:
    return srv.stats()["by_model"].get(model, {}).get("requests", 0)


def test_compare_with_a_reward_model_judge(project: tuple[Path, Any]) -> None:
    tmp, srv = project
    rb, rc = rewards("rm", "base", tmp / "pool.jsonl"), rewards("rm", "cand", tmp / "pool.jsonl")
    outcomes = [1.0 if c > b else 0.5 if c == b else 0.0 for b, c in zip(rb, rc, strict=True)]
    share = sum(outcomes) / len(outcomes)
    assert 0.6 < share < 0.9  # the scripted advantage shows
    out = cli_json(["compare", "base", "cand", "--pool", "p", "--judge", "rm:rm"], tmp)
    o = out["overall"]
    assert out["judge"] == "rm:rm" and out["both_orders"] is False
    assert o["win_rate"] == pytest.approx(share, abs=1e-12)
    assert (o["wins"], o["ties"], o["losses"]) == (outcomes.count(1.0), outcomes.count(0.5),
                                                   outcomes.count(0.0))
    assert o["ci"][0] < share < o["ci"][1] and o["p_value"] is not None
    assert set(out["by_tag"]["category"]) == {"math", "coding", "law", "safety"}
    assert out["requests"]["judge"] == {"judged": 40}
    assert rm_requests(srv) == math.ceil(80 / 8)  # both answers of 40 prompts, batched
    shown = cli_json(["show", out["comparison_id"], "--items"], tmp)
    assert len(shown["items"]) == 40 and shown["overall"] == o
    again = cli_json(["compare", "base", "cand", "--pool", "p", "--judge", "rm:rm"], tmp)
    assert again["overall"]["win_rate"] == o["win_rate"] and rm_requests(srv) == 10
    board = cli_json(["leaderboard", "--pool", "p", "--judge", "rm:rm"], tmp)
    assert {r["checkpoint"] for r in board["ratings"]} == {"base", "cand"}
    gate = run_cli(["gate", "cand", "--json"], tmp, check=False)
    report = json.loads(gate.stdout)
    assert report["judge"] == "rm:rm" and gate.returncode == report["exit_code"]
    assert rm_requests(srv) == 10  # the gate's compare reused every verdict


def test_soft_outcome_and_tie_margin(project: tuple[Path, Any]) -> None:
    tmp, srv = project
    pool = tmp / "pool.jsonl"
    rb, rc = rewards("graded", "base", pool), rewards("graded", "cand", pool)
    soft = [1 / (1 + math.exp(-(c - b) / 0.5)) for b, c in zip(rb, rc, strict=True)]
    out = cli_json(["compare", "base", "cand", "--pool", "p", "--judge", "rm:soft"], tmp)
    assert out["overall"]["win_rate"] == pytest.approx(sum(soft) / len(soft), abs=1e-12)
    assert out["overall"]["ties"] == 0
    wide = cli_json(["compare", "base", "cand", "--pool", "p", "--judge", "rm:wide"], tmp)
    assert wide["overall"]["ties"] == 40 and wide["overall"]["win_rate"] == 0.5  # |Δ| <= 1


def test_score_distribution_cache_and_reuse_by_the_judge(project: tuple[Path, Any]) -> None:
    tmp, srv = project
    pool = tmp / "pool.jsonl"
    out = cli_json(["score", "cand", "--pool", "p", "--rm", "rm"], tmp)
    want = rewards("rm", "cand", pool)
    o = out["overall"]
    assert o["n"] == 40 and o["failed"] == 0 and o["mean"] == pytest.approx(sum(want) / 40)
    assert o["ci"][0] < o["mean"] < o["ci"][1] and o["quantiles"]["p50"] == 1.0
    cats = [json.loads(line)["tags"]["category"] for line in pool.read_text().splitlines()]
    math_scores = [w for w, c in zip(want, cats, strict=True) if c == "math"]
    assert out["by_tag"]["category"]["math"]["mean"] == pytest.approx(
        sum(math_scores) / len(math_scores))
    assert out["requests"]["checkpoint"] == {"generated": 40}
    assert out["requests"]["reward_model"] == {"scored": 40, "requests": 5}
    again = cli_json(["score", "cand", "--pool", "p", "--rm", "rm"], tmp)
    assert again["overall"] == o and again["requests"]["reward_model"]["requests"] == 0
    cli_json(["score", "base", "--pool", "p", "--rm", "rm"], tmp)
    before = rm_requests(srv)
    cli_json(["compare", "base", "cand", "--pool", "p", "--judge", "rm:rm"], tmp)
    assert rm_requests(srv) == before  # every answer was scored already
    human = run_cli(["score", "cand", "--pool", "p", "--rm", "rm", "--summary"], tmp).stdout
    assert "category=math" in human and "p95" in human


def test_failed_scores_are_reported_grouped_and_nothing_is_stored(
        project: tuple[Path, Any]) -> None:
    tmp, srv = project
    proc = run_cli(["score", "cand", "--pool", "p", "--rm", "dead", "--json"], tmp,
                   check=False)
    assert proc.returncode == 3, proc.stderr
    out = json.loads(proc.stdout)
    assert out["score_run_id"] is None and out["overall"]["failed"] == 40
    (group,) = out["failures"]
    assert (group["role"], group["name"], group["reason"], group["count"]) == (
        "reward_model", "dead", "http_5xx", 40)
    assert "40 failed: server errors" in proc.stderr
    judged = run_cli(["compare", "base", "cand", "--pool", "p", "--judge", "rm:dead",
                      "--json"], tmp, check=False)
    assert judged.returncode == 3
    assert json.loads(judged.stdout)["failures"][0]["role"] == "judge"


def test_rm_vs_judge(project: tuple[Path, Any]) -> None:
    tmp, srv = project
    comp = cli_json(["compare", "base", "cand", "--pool", "p"], tmp)  # the LLM judge "sim"
    assert comp["overall"]["failed"] == 0 and comp["overall"]["invalid"] == 0, comp["failures"]
    out = cli_json(["rm-vs-judge", "base", "cand", "--pool", "p", "--rm", "graded",
                    "--judge", "sim", "--top", "50"], tmp)
    pool = tmp / "pool.jsonl"
    delta = [c - b for b, c in zip(rewards("graded", "base", pool),
                                   rewards("graded", "cand", pool), strict=True)]
    rm_says = ["tie" if abs(d) <= 0.25 else "win" if d > 0 else "loss" for d in delta]
    items = {it["position"]: it["outcome"]
             for it in cli_json(["show", comp["comparison_id"], "--items"], tmp)["items"]}
    judge_says = [items[i] for i in range(40)]
    same = sum(a == b for a, b in zip(rm_says, judge_says, strict=True))
    assert out["n"] == 40 and out["agreement"]["k"] == same
    assert out["agreement"]["rate"] == pytest.approx(same / 40)
    lo, hi = out["agreement"]["ci"]
    assert lo < same / 40 < hi
    assert out["kappa"] == pytest.approx(agreement(rm_says, judge_says)["kappa"])
    opposite = [i for i in range(40) if {rm_says[i], judge_says[i]} == {"win", "loss"}]
    listed = out["disagreements"]
    assert sorted(d["position"] for d in listed) == opposite and out["opposite"] == len(opposite)
    assert [abs(d["delta"]) for d in listed] == sorted((abs(delta[i]) for i in opposite),
                                                       reverse=True)
    for d in listed:
        assert d["delta"] == pytest.approx(delta[d["position"]])
        assert d["candidate_response"].startswith("[sim model=cand")
        assert d["baseline_response"].startswith("[sim model=base")
    assert out["rm_comparison_ran"] is True
    again = cli_json(["rm-vs-judge", "base", "cand", "--pool", "p", "--rm", "graded",
                      "--judge", "sim"], tmp)
    assert again["rm_comparison_ran"] is False and again["agreement"] == out["agreement"]
    human = run_cli(["rm-vs-judge", "base", "cand", "--pool", "p", "--rm", "graded",
                     "--judge", "sim"], tmp).stdout
    assert "Cohen's kappa" in human and "opposite directions" in human
    missing = run_cli(["rm-vs-judge", "base", "third", "--pool", "p", "--rm", "graded",
                       "--judge", "sim"], tmp, check=False)
    assert missing.returncode == 2 and "run `evalkit compare base third" in missing.stderr


def test_help_imports_no_torch_and_no_reward_pipeline() -> None:
    code = ("import sys, evalkit.cli.main, evalkit.config\n"
            "print([m for m in ('torch', 'transformers', 'evalkit.reward.scorer', "
            "'evalkit.backends.reward_hf', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
