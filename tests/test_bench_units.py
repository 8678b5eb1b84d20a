"""The pieces of ``evalkit bench`` on their own: paired statistics (with a coverage
simulation), suites and their one-line errors, request keys, the store queries on SQLite and
PostgreSQL, config and gate-policy parsing, the scripted tokenizer and completions endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import requests
from conftest import run_cli
from scipy.stats import binomtest

from evalkit import stats
from evalkit.errors import ConfigError

# --------------------------------------------------------------------------- statistics


def test_mcnemar_is_the_exact_binomial_test_on_discordant_documents() -> None:
    for gained, lost in ((0, 0), (3, 0), (7, 2), (12, 25), (40, 41)):
        want = 1.0 if gained + lost == 0 else binomtest(gained, gained + lost, 0.5).pvalue
        assert stats.mcnemar_exact(gained, lost) == pytest.approx(want, rel=1e-12)


def test_paired_delta_counts_and_test() -> None:
    a = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 1], dtype=float)
    b = np.array([1, 0, 1, 1, 1, 1, 1, 0, 0, 1], dtype=float)
    r = stats.paired_delta(a, b, n_boot=2000)
    assert (r.n, r.b_only, r.a_only, r.binary) == (10, 3, 2, True)
    assert r.delta == pytest.approx(0.1) and r.ci[0] <= 0.1 <= r.ci[1]
    assert r.p_value == pytest.approx(binomtest(3, 5, 0.5).pvalue)
    soft = stats.paired_delta(a * 0.5, b * 0.7, n_boot=500)
    assert not soft.binary and soft.test == "paired t-test"


def test_paired_bootstrap_ci_covers_the_true_delta() -> None:
    """Two checkpoints that mostly agree, as consecutive ones do: both right on 65% of the
    documents, only B on 10%, only A on 5% (true delta 0.05). The paired CI covers it ~95%
    of the time and is far narrower than the unpaired z-interval (docs/benchmarks.md)."""
    rng = np.random.default_rng(1)
    n, sims, hits, widths, unpaired = 200, 300, 0, [], []
    for i in range(sims):
        u = rng.random(n)
        a = ((u < 0.65) | ((u >= 0.75) & (u < 0.8))).astype(float)
        b = (u < 0.75).astype(float)
        r = stats.paired_delta(a, b, n_boot=1000, seed=i)
        hits += r.ci[0] <= 0.05 <= r.ci[1]
        widths.append(r.ci[1] - r.ci[0])
        se = np.sqrt(a.var(ddof=1) / n + b.var(ddof=1) / n)
        unpaired.append(2 * 1.96 * se)
    assert 0.92 <= hits / sims <= 0.985
    assert np.mean(widths) < 0.75 * np.mean(unpaired)


# --------------------------------------------------------------------------- suites

def _suite(folder: Path, toml: str, yaml: str | None = None, data: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.toml").write_text(toml, encoding="utf-8")
    if yaml is not None:
        (folder / "t.yaml").write_text(yaml, encoding="utf-8")
    if data:
        (folder / "data").mkdir(exist_ok=True)
        (folder / "data" / "t.jsonl").write_text('{"q": "x", "a": "y"}\n', encoding="utf-8")
    return folder


TASK = ("task: mytask\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        "    test: data/t.jsonl\noutput_type: generate_until\ntest_split: test\n"
        "doc_to_text: '{{q}}'\ndoc_to_target: '{{a}}'\n")


def test_shipped_offline_suite_and_data_resolved_against_its_folder(tmp_path: Path,
                                                                    monkeypatch) -> None:
    from evalkit.bench.suites import load_suite

    monkeypatch.chdir(tmp_path)
    suite = load_suite("offline")
    assert [t.name for t in suite.tasks] == ["ek_arith", "ek_facts", "ek_follow"]
    assert {n: s.output_type for n, s in suite.sources.items()} == {
        "ek_arith": "generate_until", "ek_facts": "multiple_choice",
        "ek_follow": "generate_until"}
    test_file = suite.sources["ek_arith"].resolved["test"]
    assert Path(test_file).is_absolute() and Path(test_file).is_file()
    assert suite.tolerance_for("ek_arith") == 0.03 and suite.tolerance_for("ek_facts") == 0.02
    assert suite.source_hash("ek_arith", "0.4.13") != suite.source_hash("ek_arith", "0.4.14")


def test_a_changed_data_file_changes_the_source_hash(tmp_path: Path) -> None:
    from evalkit.bench.suites import load_suite

    folder = _suite(tmp_path / "s", "[tasks.mytask]\n", TASK)
    before = load_suite(str(folder)).source_hash("mytask", "v")
    (folder / "data" / "t.jsonl").write_text('{"q": "x", "a": "z"}\n', encoding="utf-8")
    assert load_suite(str(folder)).source_hash("mytask", "v") != before


@pytest.mark.parametrize(("toml", "yaml", "data", "needle"), [
    ("[tasks.mytask]\nshots = 2\n", TASK, True, "tasks.mytask: unknown key 'shots'"),
    ("tolerance = 2\n[tasks.mytask]\n", TASK, True, "tolerance: must be in [0, 1)"),
    ("[tasks.mytask]\nnum_fewshot = -1\n", TASK, True, "num_fewshot: must be at least 0"),
    ("name = 3\n[tasks.mytask]\n", TASK, True, "name: expected str"),
    ("description = 'no tasks'\n", None, True, "the suite names no tasks"),
    ("[tasks.mytask]\n", TASK, False, "data/t.jsonl not found (paths are relative to the "
     "suite folder"),
    ("[tasks.mytask]\n", "task: [unclosed\n", True, "t.yaml:2: not valid YAML"),
    ("[tasks\n", TASK, True, "suite.toml: "),
])
def test_bad_suites_are_one_line_errors(tmp_path: Path, toml: str, yaml: str | None,
                                        data: bool, needle: str) -> None:
    from evalkit.bench.suites import load_suite

    folder = _suite(tmp_path / "s", toml, yaml, data)
    with pytest.raises(ConfigError) as err:
        load_suite(str(folder))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_suite_yaml_that_calls_python_is_refused(tmp_path: Path) -> None:
    from evalkit.bench.runner import _custom_config
    from evalkit.bench.suites import load_suite

    folder = _suite(tmp_path / "s", "[tasks.mytask]\n",
                    TASK + "process_results: !function utils.process\n")
    suite = load_suite(str(folder))

    class Entry:
        cfg = {"task": "mytask", "process_results": "!function utils.process"}

    class TM:
        task_index = {"mytask": Entry()}

    with pytest.raises(ConfigError, match="uses !function"):
        _custom_config(TM(), suite, "mytask")


def test_cli_bad_suite_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "evalkit.toml").write_text('[checkpoints.a]\nbase_url = "http://127.0.0.1:9/v1"'
                                           '\nmodel = "a"\n', encoding="utf-8")
    proc = run_cli(["bench", "a", "--suite", "nosuch"], tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no suite 'nosuch'" in proc.stderr
    proc = run_cli(["bench", "compare", "a", "b", "--suite", "offline"], tmp_path,
                   check=False)
    assert proc.returncode == 2 and "no stored run of suite 'offline'" in proc.stderr
    proc = run_cli(["bench", "zzz", "--suite", "offline"], tmp_path, check=False)
    assert proc.returncode == 2 and "no checkpoint named 'zzz'" in proc.stderr
    listed = json.loads(run_cli(["bench", "list", "--json"], tmp_path).stdout)
    assert "offline" in listed["suites"] and listed["stored"] == {}


# --------------------------------------------------------------------------- keys and store

def test_request_keys_carry_the_checkpoint() -> None:
    from evalkit.bench.cache import request_key

    args = ("Question: 2+2?\nAnswer:", " 4")
    assert request_key("spec-a", "completions", "loglikelihood", args) == request_key(
        "spec-a", "completions", "loglikelihood", list(args))
    assert request_key("spec-a", "completions", "loglikelihood", args) != request_key(
        "spec-b", "completions", "loglikelihood", args)
    gen = ("ctx", {"until": ["\n"], "max_gen_toks": 8})
    assert request_key("s", "chat", "generate_until", gen) != request_key(
        "s", "chat", "generate_until", gen, occurrence=1)
    assert request_key("s", "chat", "generate_until", gen) == request_key(
        "s", "chat", "generate_until", ("ctx", {"max_gen_toks": 8, "until": ["\n"]}))


def test_bench_queries_on_sqlite_and_postgresql(store_url: str) -> None:
    from evalkit.store import bench_queries as bq
    from evalkit.store import make_engine
    from evalkit.store.models import utcnow

    engine = make_engine(store_url)
    bq.save_requests(engine, [{"key": f"k{i}", "checkpoint_spec": "s", "method": "x",
                               "result_json": json.dumps([-0.5, True])} for i in range(700)])
    bq.save_requests(engine, [{"key": "k1", "checkpoint_spec": "s", "method": "x",
                               "result_json": "[0, false]"}])  # a stored answer is kept
    found = bq.request_results(engine, [f"k{i}" for i in range(0, 800, 2)])
    assert len(found) == 350 and json.loads(found["k0"]) == [-0.5, True]
    assert bq.request_results(engine, ["k1"])["k1"] == json.dumps([-0.5, True])
    assert bq.count_requests(engine, "s") == 700
    for ckpt, value in (("old", 0.5), ("new", 0.75)):
        run = {"id": f"run-{ckpt}", "created_at": utcnow(), "checkpoint": ckpt,
               "checkpoint_spec": "spec", "suite": "s", "task": "t", "source_hash": "h",
               "task_hash": "th", "lm_eval_version": "0.4.13", "evalkit_version": "0.1.0",
               "mode": "chat", "doc_limit": None, "num_fewshot": 0,
               "primary_metric": "acc,none", "higher_is_better": True, "n_samples": 2,
               "metrics_json": json.dumps({"acc,none": {"value": value, "stderr": 0.1}}),
               "config_json": "{}", "requests_json": "{}", "duration_s": 1.0}
        samples = [{"run_id": run["id"], "filter_name": "none", "doc_id": i,
                    "doc_hash": f"d{i}", "prompt": "p", "response": "r", "extracted": "e",
                    "target": "t", "metrics_json": json.dumps({"acc": float(i)})}
                   for i in range(2)]
        bq.save_run(engine, run, samples)
        bq.save_run(engine, run, samples)  # a re-run replaces, never duplicates
    assert bq.suites(engine) == ["s"]
    assert bq.checkpoint_order(engine, "s") == ["old", "new"]
    latest = bq.latest_runs(engine, "new", "s")["t"]
    assert latest.metrics["acc,none"]["value"] == 0.75 and latest.higher_is_better
    samples = bq.run_samples(engine, "run-new", "none")
    assert [s.metrics["acc"] for s in samples] == [0.0, 1.0]
    assert {r.checkpoint for r in bq.suite_overview(engine, "s")} == {"old", "new"}
    assert set(bq.runs_by_id(engine, ["run-old", "nope"])) == {"run-old"}


# --------------------------------------------------------------------------- config, policy

def test_checkpoint_bench_keys() -> None:
    from evalkit.config import parse_config

    cfg = parse_config({"checkpoints": {
        "a": {"base_url": "http://h:1/v1", "model": "m", "completions_url": "http://h:2/v1/"},
        "b": {"base_url": "http://h:1/v1", "model": "m"},
        "h": {"backend": "hf", "path": "org/model"}}})
    a, b, h = cfg.checkpoints["a"], cfg.checkpoints["b"], cfg.checkpoints["h"]
    assert (a.completions_url, a.tokenizer) == ("http://h:2/v1", "remote")
    assert "tokenizer" not in a.identity()  # the server's own tokenizer: same answers
    assert b.completions_url is None and b.identity() == {**a.identity(), "name": "b"}
    assert h.identity() == {"backend": "hf", "name": "h", "path": "org/model"}
    for raw, needle in (
            ({"base_url": "http://h/v1", "model": "m", "completions_url": "ftp://h"},
             "completions_url: expected an http(s) URL"),
            ({"base_url": "http://h/v1", "model": "m", "tokenizer": "remote"},
             "tokenizer: only used with completions_url"),
            ({"backend": "hf"}, "'path' (the model folder or hub name) is required"),
            ({"backend": "hf", "path": "x", "model": "m"}, "unknown key 'model'")):
        with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            parse_config({"checkpoints": {"x": raw}})


def test_gate_bench_policy() -> None:
    from evalkit.gate.policy import BenchGate, check_sequential, parse_gate

    p = parse_gate({"bench": {"offline": {"tolerance": 0.03, "tasks": {"ek_facts": 0.0}}}})
    assert p.bench == {"offline": BenchGate(tolerance=0.03, tasks={"ek_facts": 0.0})}
    for raw, needle in (({"bench": {"s": {"tolerance": 1.5}}}, "tolerance: expected"),
                        ({"bench": {"s": {"tol": 0.1}}}, "unknown key 'tol'"),
                        ({"bench": {"s": {"tasks": {"t": "x"}}}}, "tasks.t: expected"),
                        ({"bench": {"s": 3}}, "expected a table")):
        with pytest.raises(ConfigError, match=needle):
            parse_gate(raw)
    with pytest.raises(ConfigError, match="gate.bench"):
        check_sequential(p)


def test_hf_backend_needs_the_hf_extra() -> None:
    from importlib.util import find_spec

    from evalkit.bench.models import make_lm, modes_for
    from evalkit.config import parse_config

    h = parse_config({"checkpoints": {"h": {"backend": "hf", "path": "x"}}}).checkpoints["h"]
    assert modes_for(h).loglikelihood == "hf" and modes_for(h).generate == "hf"
    if all(find_spec(m) is not None for m in ("torch", "transformers", "accelerate")):
        pytest.skip("the hf extra is installed; this checks the message without it "
                    "(test_bench_hf.py runs a real local model)")
    with pytest.raises(ConfigError, match=r"pip install 'evalkit\[hf\]'"):
        make_lm(h, "hf")


# --------------------------------------------------------------------------- scripted server

def test_scripted_tokenizer_is_lossless() -> None:
    from evalkit.testing.completions import decode, encode

    for text in ("Question: What is 2+2?\nAnswer: 4", "  spaces  and\ttabs\n\n",
                 "héllo wörld — ünïcode ✓ 数学", "</s><s>x", ""):
        assert decode(encode(text)) == text


def test_completions_endpoint_echo_logprobs_and_tokenizer_routes() -> None:
    from evalkit.testing import ScriptedServer
    from evalkit.testing.completions import encode

    items = [{"task": "t", "q": "Capital of France?", "a": "Paris"}]
    scenario = {"bench": {"items": items, "models": {"m": {"correct": 1.0}}}}
    with ScriptedServer(scenario) as srv:
        root = srv.base_url[:-3]
        info = requests.get(root + "/tokenizer_info", timeout=5).json()
        assert info["eos_token"] == "</s>"
        ids = requests.post(root + "/tokenize", json={"prompt": "Capital of France? Paris",
                                                      "add_special_tokens": False},
                            timeout=5).json()["tokens"]
        assert ids == encode("Capital of France? Paris")
        assert requests.post(root + "/detokenize", json={"tokens": ids},
                             timeout=5).json()["prompt"] == "Capital of France? Paris"
        out = requests.post(srv.base_url + "/completions", json={
            "model": "m", "prompt": [encode("Capital of France? Paris"),
                                     encode("Capital of France? Rome")],
            "max_tokens": 1, "logprobs": 1, "echo": True, "temperature": 0}, timeout=5).json()
        right, wrong = (c["logprobs"] for c in out["choices"])
        assert len(right["token_logprobs"]) == len(ids) + 1 and right["token_logprobs"][0] is None
        assert sum(right["token_logprobs"][-2:-1]) > sum(wrong["token_logprobs"][-2:-1])
        gen = requests.post(srv.base_url + "/completions", json={
            "model": "m", "prompt": "Q: Capital of France?\nA:", "max_tokens": 5},
            timeout=5).json()
        assert gen["choices"][0]["text"] == "Paris"
        assert srv.stats()["by_model"]["(tokenizer)"]["requests"] == 3
