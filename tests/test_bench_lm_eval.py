"""Benchmarks through the REAL lm-eval (the installed package) against evalkit's scripted
server: the offline suite on two checkpoints whose accuracy per task is known, the paired
compare, zero-request reruns, two checkpoints kept apart, a run killed midway that resumes,
a chat-only checkpoint, a failing endpoint, and GSM8K's real test split."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED_DATA, run_cli
from scipy.stats import binomtest

from evalkit.testing import ScriptedServer
from evalkit.testing.completions import (
    BenchItem,
    BenchScript,
    expected_accuracy,
    items_from_jsonl,
    offline_items,
)

ITEMS = offline_items()
RATES = {"a": {"ek_arith": 0.6, "ek_facts": 0.5, "ek_follow": 0.8},
         "b": {"ek_arith": 0.9, "ek_facts": 0.55, "ek_follow": 0.4}}
METRICS = {"ek_arith": "exact_match,last-number", "ek_facts": "acc,none",
           "ek_follow": "exact_match,tagged"}
DOCS = {"ek_arith": 60, "ek_facts": 40, "ek_follow": 30}
REQUESTS = 60 + 40 * 4 + 30  # chat generations + one log-likelihood per option


@pytest.fixture(scope="module", autouse=True)
def _caches_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """HF's and lm-eval's caches in a temp folder for this module's shared fixtures too (the
    conftest's per-test fixture comes after module-scoped ones); offline. evalkit never turns
    lm-eval's own caches on, and the tests check none appears."""
    base = tmp_path_factory.getbasetemp()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HOME", str(base / "hf-cache"))
        mp.setenv("HF_DATASETS_CACHE", str(base / "hf-cache" / "datasets"))
        mp.setenv("LM_HARNESS_CACHE_PATH", str(base / "lm-eval"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        yield


def config(path: Path, url: str, names: tuple[str, ...] = ("a", "b"), *,
           chat_only: tuple[str, ...] = (), extra: str = "", retries: int = 2) -> Path:
    parts = ['[store]\nurl = "sqlite:///evalkit.db"\n']
    for name in names:
        parts.append(f'[checkpoints.{name}]\nbase_url = "{url}"\nmodel = "{name}"\n'
                     f'max_concurrency = 4\ntimeout = 20\nmax_retries = {retries}\n'
                     + ("" if name in chat_only else f'completions_url = "{url}"\n') + extra)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def known(model: str, task: str) -> float:
    return expected_accuracy(ITEMS, model, RATES[model], task)


def knows(model: str, task: str) -> list[bool]:
    script = BenchScript(model, RATES[model])
    return [script.knows(BenchItem(**it)) for it in ITEMS if it["task"] == task]


def bench(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli(["bench", *args], root, check=check, timeout=180)


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Both checkpoints benchmarked once, one after the other, through the CLI."""
    root = tmp_path_factory.mktemp("bench")
    scenario = {"bench": {"items": ITEMS, "models": {m: {"correct": r}
                                                     for m, r in RATES.items()}}}
    with ScriptedServer(scenario) as srv:
        config(root / "evalkit.toml", srv.base_url)
        runs, counts = {}, {}
        for model in ("a", "b"):
            before = srv.stats()["by_model"]
            runs[model] = json.loads(bench(root, model, "--suite", "offline", "--json").stdout)
            after = srv.stats()["by_model"]
            counts[model] = {m: after.get(m, {}).get("requests", 0)
                             - before.get(m, {}).get("requests", 0) for m in ("a", "b")}
        yield {"root": root, "srv": srv, "runs": runs, "counts": counts}


def test_stored_metrics_equal_the_known_accuracies(offline: Any) -> None:
    from evalkit.store import bench_queries, make_engine

    for model in ("a", "b"):
        report = offline["runs"][model]
        assert report["requests"] == {"cached": 0, "sent": REQUESTS}
        by_task = {t["task"]: t for t in report["tasks"]}
        assert set(by_task) == set(METRICS)
        for task, metric in METRICS.items():
            t = by_task[task]
            assert t["metric"] == metric and t["n"] == DOCS[task]
            assert t["value"] == pytest.approx(known(model, task), abs=1e-12), (model, task)
            assert t["stderr"] > 0
    engine = make_engine(str(offline["root"] / "evalkit.db"), create=False)
    runs = bench_queries.latest_runs(engine, "a", "offline")
    facts = runs["ek_facts"]
    assert facts.lm_eval_version == "0.4.13" and len(facts.task_hash) == 24
    assert set(facts.metrics) == {"acc,none", "acc_norm,none"}
    samples = bench_queries.run_samples(engine, facts.id)
    assert len(samples) == 40 and all(s.doc_hash for s in samples)
    right = knows("a", "ek_facts")
    for s, ok in zip(samples, right, strict=True):  # the chosen option, per document
        assert s.metrics["acc"] == float(ok)
        assert (s.response == s.target.split(": ", 1)[1]) == ok
    arith = bench_queries.run_samples(engine, runs["ek_arith"].id)
    assert arith[0].prompt.startswith("[{") and "Question:" in arith[0].prompt  # chat messages
    assert arith[0].response.startswith("The answer is ")


def test_two_checkpoints_never_see_each_others_answers(offline: Any) -> None:
    """Each checkpoint's requests went to its own model, all of them (nothing came from the
    other's answers), and the two score their own accuracies (checked above), not the same."""
    assert offline["counts"]["a"] == {"a": REQUESTS, "b": 0}
    assert offline["counts"]["b"] == {"a": 0, "b": REQUESTS}
    a = {t["task"]: t["value"] for t in offline["runs"]["a"]["tasks"]}
    b = {t["task"]: t["value"] for t in offline["runs"]["b"]["tasks"]}
    assert a != b


def test_rerun_makes_zero_requests(offline: Any) -> None:
    srv, root = offline["srv"], offline["root"]
    srv.reset()
    again = json.loads(bench(root, "a", "--suite", "offline", "--json").stdout)
    assert srv.stats()["requests"] == 0  # chat, completions and tokenizer endpoints
    assert all(t["reused"] for t in again["tasks"])
    assert again["requests"] == {"cached": 0, "sent": 0}
    # lm-eval run again on the stored answers: still no request, the same numbers
    rescored = json.loads(bench(root, "a", "--suite", "offline", "--rescore", "--json").stdout)
    assert srv.stats()["requests"] == 0
    assert rescored["requests"] == {"cached": REQUESTS, "sent": 0}
    assert [t["value"] for t in rescored["tasks"]] == [t["value"] for t in again["tasks"]]
    assert not list(root.glob("*.db_rank*"))  # lm-eval's own cache stays off
    assert not (Path(os.environ["LM_HARNESS_CACHE_PATH"]).exists()
                and any(Path(os.environ["LM_HARNESS_CACHE_PATH"]).iterdir()))


def test_paired_compare_matches_the_scripts(offline: Any) -> None:
    out = json.loads(bench(offline["root"], "compare", "a", "b", "--suite", "offline",
                           "--flips", "1000", "--json").stdout)
    ps = []
    for t in out["tasks"]:
        ka, kb = knows("a", t["task"]), knows("b", t["task"])
        gained = sum(1 for x, y in zip(ka, kb, strict=True) if y and not x)
        lost = sum(1 for x, y in zip(ka, kb, strict=True) if x and not y)
        assert t["n"] == DOCS[t["task"]] and t["binary"]
        assert t["delta"] == pytest.approx(known("b", t["task"]) - known("a", t["task"]))
        assert (t["gained"], t["lost"]) == (gained, lost)
        p = 1.0 if gained + lost == 0 else binomtest(gained, gained + lost, 0.5).pvalue
        assert t["p_value"] == pytest.approx(p, rel=1e-9)
        assert t["ci"][0] <= t["delta"] <= t["ci"][1]
        flips = {f["doc_id"]: f["change"] for f in t["flips"]}
        assert flips == {i: "gained" if y else "lost"
                         for i, (x, y) in enumerate(zip(ka, kb, strict=True)) if x != y}
        ps.append(p)
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    holm, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        holm[i] = running
    assert [t["p_holm"] for t in out["tasks"]] == pytest.approx(holm)


def test_chat_only_checkpoint_says_so_before_starting(tmp_path: Path) -> None:
    scenario = {"bench": {"items": ITEMS, "models": {"a": {"correct": RATES["a"]}}}}
    with ScriptedServer(scenario) as srv:
        config(tmp_path / "evalkit.toml", srv.base_url, ("a",), chat_only=("a",))
        proc = bench(tmp_path, "a", "--suite", "offline", "--json")
        first = proc.stderr.strip().splitlines()[0]
        assert "cannot run ek_facts" in first and "completions_url" in first
        out = json.loads(proc.stdout)
        assert [s["task"] for s in out["skipped"]] == ["ek_facts"]
        assert {t["task"] for t in out["tasks"]} == {"ek_arith", "ek_follow"}
        assert srv.stats()["by_model"]["a"]["requests"] == 90
        assert "(tokenizer)" not in srv.stats()["by_model"]


def test_failing_endpoint_says_how_many_and_why_and_exits_nonzero(tmp_path: Path) -> None:
    scenario = {"bench": {"items": ITEMS, "models": {
        "a": {"correct": RATES["a"], "failures": {"always": 0.5, "status": 503}}}}}
    with ScriptedServer(scenario) as srv:
        config(tmp_path / "evalkit.toml", srv.base_url, ("a",), retries=0)
        proc = bench(tmp_path, "a", "--suite", "offline", "--task", "ek_arith", check=False)
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "failed after 1 attempt:" in lines[0] and "503" in lines[0]
        assert "new answers were stored" in lines[0] and "run again" in lines[0]
        assert srv.stats()["by_model"]["a"]["errors"] >= 1


def _wait_for(predicate: Any, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_a_run_killed_midway_resumes(tmp_path: Path) -> None:
    """SIGKILL after ~60 answers; the rerun asks only for what is missing and ends with the
    known accuracies."""
    from evalkit.store import bench_queries, make_engine

    scenario = {"latency": 0.02,
                "bench": {"items": ITEMS, "models": {"a": {"correct": RATES["a"]}}}}
    with ScriptedServer(scenario) as srv:
        config(tmp_path / "evalkit.toml", srv.base_url, ("a",))
        proc = subprocess.Popen([sys.executable, "-m", "evalkit", "bench", "a", "--suite",
                                 "offline"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={**os.environ})
        _wait_for(lambda: srv.stats()["by_model"].get("a", {}).get("completed", 0) >= 60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        first = srv.stats()["by_model"]["a"]["completed"]
        assert first < REQUESTS
        stored = bench_queries.count_requests(make_engine(str(tmp_path / "evalkit.db")))
        # answers are committed within ~50 ms of arriving: only those are asked again
        assert first - 40 <= stored <= first
        srv.reset()
        out = json.loads(bench(tmp_path, "a", "--suite", "offline", "--json").stdout)
        second = srv.stats()
    assert out["requests"]["sent"] == REQUESTS - stored
    assert out["requests"]["cached"] == stored
    assert second["by_model"]["a"]["completed"] == REQUESTS - stored
    assert {t["task"]: t["value"] for t in out["tasks"]} == pytest.approx(
        {task: known("a", task) for task in METRICS})


GSM8K = SHARED_DATA / "gsm8k" / "test.jsonl"
GSM8K_YAML = """\
task: evalkit_gsm8k
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer.split('####')[-1].strip()}}}}"
generation_kwargs:
  until: ["Question:"]
  do_sample: false
  max_gen_toks: 1024
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    regexes_to_ignore: [",", "\\\\$", "\\\\.$"]
"""


@pytest.mark.slow
@pytest.mark.skipif(not GSM8K.is_file(), reason=f"GSM8K test split not found at {GSM8K} "
                    "(../shared/data/gsm8k/test.jsonl)")
def test_gsm8k_stored_accuracy_is_exactly_the_known_share(tmp_path: Path) -> None:
    """GSM8K's real test split as a custom generate_until task whose data_files path is
    relative to the suite folder, run from another working directory; the scripted
    checkpoint answers a known subset of the first 300 questions with the gold number."""
    n = 300
    suite = tmp_path / "suites" / "gsm"
    suite.mkdir(parents=True)
    rel = os.path.relpath(GSM8K, suite)
    (suite / "gsm8k.yaml").write_text(GSM8K_YAML.format(data=rel), encoding="utf-8")
    (suite / "suite.toml").write_text('[tasks.evalkit_gsm8k]\nmetric = "exact_match"\n',
                                      encoding="utf-8")
    items = items_from_jsonl(GSM8K, "evalkit_gsm8k", lambda r: r["question"],
                             lambda r: r["answer"], limit=n)
    rate = {"evalkit_gsm8k": 0.55}
    share = expected_accuracy(items, "g", rate, "evalkit_gsm8k")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with ScriptedServer({"bench": {"items": items, "models": {"g": {"correct": rate}}}}) as srv:
        config(tmp_path / "evalkit.toml", srv.base_url, ("g",), chat_only=("g",))
        out = json.loads(run_cli(["bench", "g", "--suite", str(suite), "--limit", str(n),
                                  "--config", str(tmp_path / "evalkit.toml"), "--json"],
                                 elsewhere, timeout=240).stdout)
        assert srv.stats()["by_model"]["g"]["requests"] == n
    (task,) = out["tasks"]
    assert task["n"] == n and task["metric"] == "exact_match,strict-match"
    assert task["value"] == share and 0.45 < share < 0.65
    assert round(share * n) == sum(BenchScript("g", rate).knows(BenchItem(**it))
                                   for it in items)
