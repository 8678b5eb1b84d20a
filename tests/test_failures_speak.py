"""Failures speak, through the real CLI: a dead endpoint, a refused key, a mistyped model name,
a timeout on every request and a missing key each end quickly with the reason on one line and
a non-zero exit, store no comparison, and no later command takes the dead run for a result."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

N = 40
QUICK = 10.0  # seconds: generous for a loaded 2-core machine; the runs take 1-3 s


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def project(root: Path, base_url: str, **config: Any) -> Path:
    """A folder with a config and a store holding pool 'small' (imported in-process: the
    CLI's `pool import` is tested elsewhere, and each subprocess costs a second)."""
    from evalkit.pools import pool_version, read_pool
    from evalkit.store import make_engine
    from evalkit.store.queries import save_pool

    root.mkdir(exist_ok=True)
    prompts = read_pool(write_pool(root / "pool.jsonl", N))
    engine = make_engine(f"sqlite:///{root / 'evalkit.db'}")
    save_pool(engine, "small", pool_version(prompts), prompts)
    engine.dispose()
    write_config(root / "evalkit.toml", base_url, **config)
    return root


def compare(root: Path, *extra: str, env: dict[str, str] | None = None
            ) -> tuple[int, str, str, float]:
    import os
    import subprocess
    import sys

    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "evalkit", "compare", "base", "cand",
                           "--pool", "small", *extra], cwd=root, text=True,
                          capture_output=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start


def no_comparison_stored(root: Path) -> None:
    assert cli_json(["comparisons"], root) == []


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evalkit: error: preflight: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_dead_endpoint_is_caught_by_the_preflight_and_fails_fast_without_it(
        tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    root = project(tmp_path, url)
    rc, _, err, wall = compare(root)
    assert rc == 2 and wall < QUICK
    assert one_line(err) == (f"evalkit: error: preflight: cannot reach {url} (baseline base, "
                             "candidate cand, judge sim): connection refused; is the server "
                             "running? (--no-preflight skips this check)")
    # without the preflight the circuit breaker fails the run in about a second, not the
    # minutes 80 requests x 4 attempts with backoff would take; the reasons come grouped
    rc, out, err, wall = compare(root, "--no-preflight", "--json")
    assert rc == 3 and wall < QUICK
    assert f"{N} failed: connection refused at {url} (baseline base)" in err
    assert err.startswith("evalkit: nothing could be judged: no comparison was stored")
    summary = json.loads(out)
    assert summary["comparison_id"] is None and summary["overall"]["failed"] == N
    assert {(f["role"], f["name"], f["endpoint"], f["reason"], f["count"])
            for f in summary["failures"]} == {("baseline", "base", url, "connection_refused", N),
                                              ("candidate", "cand", url, "connection_refused",
                                               N)}
    assert all(f["example"].startswith("connection refused: Cannot connect to host")
               for f in summary["failures"])
    no_comparison_stored(root)


def test_refused_key_says_which_variable_to_check(serve, tmp_path: Path) -> None:
    srv = serve({**make_scenario(), "api_key": "sk-the-right-key-0123"})
    root = project(tmp_path, srv.base_url, checkpoint_extra='api_key_env = "EK_TEST_KEY"',
                   judge_extra='api_key_env = "EK_TEST_KEY"')
    env = {"EK_TEST_KEY": "sk-a-wrong-key-4567"}
    rc, _, err, wall = compare(root, env=env)
    assert rc == 2 and wall < QUICK
    assert one_line(err) == (f"evalkit: error: preflight: 401 Unauthorized from "
                             f"{srv.base_url} (baseline base, candidate cand, judge sim): "
                             "check EK_TEST_KEY (--no-preflight skips this check)")
    rc, _, err, wall = compare(root, "--no-preflight", env=env)
    assert rc == 3 and wall < QUICK  # a 401 is not retried
    assert (f"{N} failed: 401 Unauthorized from {srv.base_url} (baseline base): check "
            "EK_TEST_KEY") in err
    assert "sk-a-wrong-key-4567" not in err  # the server echoes the key; evalkit does not
    db = sqlite3.connect(root / "evalkit.db")
    assert db.execute("SELECT COUNT(*), MAX(attempts) FROM generation").fetchone() == (2 * N, 1)
    no_comparison_stored(root)

    rc, _, err, _ = compare(root, env={"EK_TEST_KEY": "sk-the-right-key-0123"})
    assert rc == 0 and err == ""


def test_mistyped_model_name_lists_the_served_models(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario())
    root = project(tmp_path, srv.base_url)
    config = (root / "evalkit.toml").read_text().replace('model = "cand"', 'model = "cnad"')
    (root / "evalkit.toml").write_text(config)
    rc, _, err, wall = compare(root)
    assert rc == 2 and wall < QUICK
    assert one_line(err) == (f"evalkit: error: preflight: model 'cnad' is not served at "
                             f"{srv.base_url} (candidate cand); it serves: base, cand, judge, "
                             "third (--no-preflight skips this check)")
    assert srv.stats()["requests"] == 0  # nothing was generated
    rc, _, err, wall = compare(root, "--no-preflight")
    assert rc == 3 and wall < QUICK
    assert f"{N} failed: 404 Not Found from {srv.base_url} (candidate cand)" in err
    no_comparison_stored(root)


def test_server_without_models_route_is_let_through(serve, tmp_path: Path) -> None:
    srv = serve({**make_scenario(), "list_models": False})
    root = project(tmp_path, srv.base_url)
    rc, out, err, _ = compare(root)
    assert rc == 0 and "overall" in out


def test_timeout_on_every_request_fails_fast(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(models={"base": {"kind": "chat", "latency": 30}}))
    root = project(tmp_path, srv.base_url)
    config = (root / "evalkit.toml").read_text().replace("timeout = 10", "timeout = 0.5")
    (root / "evalkit.toml").write_text(config)
    rc, out, err, wall = compare(root, "--json")
    assert rc == 3 and wall < QUICK
    assert f"{N} failed: timeout after 0.5s at {srv.base_url} (baseline base)" in err
    assert json.loads(out)["failures"][0]["reason"] == "timeout"
    # the breaker opened after a few timeouts: far fewer than 40 x 4 attempts were sent
    assert srv.stats()["by_model"]["base"]["requests"] < 2 * N
    no_comparison_stored(root)


def test_missing_key_variable_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.delenv("EK_UNSET_KEY", raising=False)
    root = project(tmp_path, f"http://127.0.0.1:{closed_port()}/v1",
                   judge_extra='api_key_env = "EK_UNSET_KEY"')
    rc, _, err, wall = compare(root)
    assert rc == 2 and wall < QUICK
    assert err.strip() == ("evalkit: error: environment variable EK_UNSET_KEY is not set "
                           "(named by api_key_env for judge 'sim')")
    no_comparison_stored(root)


def test_dead_runs_are_never_taken_for_results(serve, tmp_path: Path) -> None:
    """`comparisons`, `leaderboard`, `--against previous` and the gate's 'previous' see only
    runs that judged something."""
    srv = serve(make_scenario(models={"third": {"kind": "chat", "failures": {"dead": True}}}))
    root = project(tmp_path, srv.base_url, max_retries=0)
    good = cli_json(["compare", "base", "cand", "--pool", "small"], root)
    proc = run_cli(["compare", "cand", "third", "--pool", "small"], root, check=False)
    assert proc.returncode == 3 and f"{N} failed: server errors from" in proc.stderr
    assert [c["id"] for c in cli_json(["comparisons"], root)] == [good["comparison_id"]]
    board = cli_json(["leaderboard", "--pool", "small"], root)
    assert {r["checkpoint"] for r in board["ratings"]} == {"base", "cand"}
    # the last candidate *compared* is cand (the dead run compared nothing)
    proc = run_cli(["compare", "third", "--against", "previous", "--pool", "small", "--json"],
                   root, check=False)
    assert proc.returncode == 3 and json.loads(proc.stdout)["baseline"] == "cand"
    report = json.loads(run_cli(["gate", "third", "--baseline", "previous", "--pool", "small",
                                 "--json"], root, check=False).stdout)
    assert report["baseline"] == "cand" and report["decision"] == "inconclusive"
    assert [c["id"] for c in cli_json(["comparisons"], root)] == [good["comparison_id"]]
    # the preflight asks only endpoints the run still needs: with every answer stored, the
    # server may be gone
    write_config(root / "evalkit.toml", f"http://127.0.0.1:{closed_port()}/v1")
    again = cli_json(["compare", "base", "cand", "--pool", "small"], root)
    assert again["overall"] == good["overall"] and again["requests"]["judge"] == {"cached": 2 * N}


def test_some_failures_are_counted_explained_and_stored(serve, tmp_path: Path) -> None:
    srv = serve(make_scenario(models={"cand": {"kind": "chat",
                                               "failures": {"always": 0.2, "status": 503}}}))
    root = project(tmp_path, srv.base_url, max_retries=1)
    rc, out, err, _ = compare(root, "--json")
    summary = json.loads(out)
    failed = summary["overall"]["failed"]
    assert rc == 0 and 0 < failed < N and summary["comparison_id"] is not None
    assert err.splitlines()[0] == (f"evalkit: {failed} of {N} prompt items failed (excluded, "
                                   "never counted as losses; failed requests are retried on "
                                   "the next run):")
    assert summary["failures"] == [{
        "role": "candidate", "name": "cand", "endpoint": srv.base_url, "reason": "http_5xx",
        "count": failed, "example": "HTTP 503: scripted failure", "hint": None,
        "message": f"{failed} failed: server errors from {srv.base_url} after every retry "
                   "(HTTP 503) (candidate cand)"}]
    shown = run_cli(["show", summary["comparison_id"]], root).stdout
    assert f"{failed} of {N} prompt items failed" in shown


def test_a_404_hint_names_the_route_a_reward_model_server_uses() -> None:
    from types import SimpleNamespace

    from evalkit.config import EndpointConfig
    from evalkit.failures import failure_groups

    source = SimpleNamespace(config=SimpleNamespace(
        backend="vllm", name="rm", endpoint=EndpointConfig(base_url="http://h:8000/v1",
                                                           model="rm-7b")))
    rows = {"k1": "HTTP 404: Not Found", "k2": "HTTP 404: Not Found"}
    (reward,) = failure_groups("reward_model", source, rows)
    assert (reward.reason, reward.count, reward.endpoint) == ("http_404", 2, "http://h:8000/v1")
    assert reward.hint is not None and "/models" not in reward.hint
    assert "/classify" in reward.hint and "/predict" in reward.hint
    (chat,) = failure_groups("checkpoint", source, rows)
    assert chat.hint == "is model 'rm-7b' served there? (evalkit checks /models before a run)"
