"""Benchmark rules in the gate (same correction as the pairwise rules), the transfer check
along a chain a → b → c, and the dashboard's benchmarks page (Streamlit AppTest) — on a store
filled by the REAL CLI: pairwise comparisons on a pool and lm-eval runs of the offline suite,
against one scripted server where each checkpoint is both a chat model and a benchmark model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from conftest import run_cli, write_pool
from streamlit.testing.v1 import AppTest

from evalkit.resources import data_dir
from evalkit.testing import ScriptedServer
from evalkit.testing.completions import expected_accuracy, offline_items

ITEMS = offline_items()
RATES = {"a": {"ek_arith": 0.5, "ek_facts": 0.5, "ek_follow": 0.9},
         "b": {"ek_arith": 0.95, "ek_facts": 0.5, "ek_follow": 0.9},
         "c": {"ek_arith": 0.95, "ek_facts": 0.95, "ek_follow": 0.1}}
# b games the arithmetic benchmark and loses pairwise against a; c gains on both
STRENGTHS = {"a": 0.0, "b": -1.5, "c": 1.5}
APP = str(data_dir("dashboard") / "app.py")


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


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("bench-chain")
    scenario = {"models": {**{m: {"kind": "chat"} for m in RATES},
                           "judge": {"kind": "judge", "strengths": STRENGTHS,
                                     "tie_prob": 0.1}},
                "bench": {"items": ITEMS, "models": {m: {"correct": r}
                                                     for m, r in RATES.items()}}}
    with ScriptedServer(scenario) as srv:
        parts = ['[store]\nurl = "sqlite:///evalkit.db"\n']
        for m in RATES:
            parts.append(f'[checkpoints.{m}]\nbase_url = "{srv.base_url}"\nmodel = "{m}"\n'
                         f'completions_url = "{srv.base_url}"\nmax_concurrency = 8\n'
                         'sampling = { temperature = 0.0, max_tokens = 64, seed = 0 }\n')
        parts.append(f'[judges.sim]\nbase_url = "{srv.base_url}"\nmodel = "judge"\n'
                     'max_concurrency = 8\n')
        parts.append('[defaults]\njudge = "sim"\npool = "small"\n')
        parts.append('[gate]\nbaseline = "b"\npool = "small"\nmin_valid = 20\n\n'
                     '[gate.bench.offline]\ntolerance = 0.05\n')
        (root / "evalkit.toml").write_text("\n".join(parts), encoding="utf-8")
        write_pool(root / "pool.jsonl", 60)
        run_cli(["pool", "import", "small", "pool.jsonl"], root)
        for m in RATES:
            run_cli(["bench", m, "--suite", "offline"], root, timeout=180)
        compares = {}
        for base, cand in (("a", "b"), ("b", "c")):
            compares[cand] = json.loads(run_cli(["compare", base, cand, "--json"],
                                                root).stdout)
        gate = run_cli(["gate", "c", "--json"], root, check=False)
        lenient = root / "lenient.toml"
        lenient.write_text('[gate]\nbaseline = "b"\npool = "small"\nmin_valid = 20\n\n'
                           '[gate.bench.offline]\ntolerance = 0.05\n'
                           'tasks = { ek_follow = 0.9 }\n', encoding="utf-8")
        gate_lenient = run_cli(["gate", "c", "--policy", str(lenient), "--json"], root,
                               check=False)
        yield {"root": root, "compares": compares, "gate": gate, "lenient": gate_lenient}


def _holm(ps: list[float]) -> list[float]:
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def test_gate_blocks_a_task_that_dropped_beyond_its_tolerance(chain: Any) -> None:
    proc = chain["gate"]
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["decision"] == "regression"
    rules = {r["name"]: r for r in report["rules"]}
    follow = rules["bench:offline/ek_follow"]
    expected = (expected_accuracy(ITEMS, "c", RATES["c"], "ek_follow")
                - expected_accuracy(ITEMS, "b", RATES["b"], "ek_follow"))
    assert follow["estimate"] == pytest.approx(expected) and follow["n"] == 30
    assert follow["verdict"] == "regression" and follow["threshold"] == -0.05
    assert follow["bound"] < follow["threshold"]  # the bound matches the corrected test
    facts = rules["bench:offline/ek_facts"]
    assert facts["verdict"] == "pass" and facts["estimate"] > 0.3
    assert facts["bound"] > facts["threshold"]
    # one correction over every tested rule, pairwise and benchmark
    tested = [r for r in report["rules"] if r["p_adjusted"] is not None]
    assert len([r for r in tested if r["name"].startswith("bench:")]) == 3
    assert [r["p_adjusted"] for r in tested] == pytest.approx(
        _holm([r["p_value"] for r in tested]))
    assert rules["overall"]["verdict"] == "pass"


def test_gate_passes_with_a_tolerance_that_allows_the_drop(chain: Any) -> None:
    proc = chain["lenient"]
    report = json.loads(proc.stdout)
    assert report["decision"] == "pass" and proc.returncode == 0
    assert all(r["verdict"] == "pass" for r in report["rules"] if r["name"].startswith("bench:"))


def test_gate_markdown_lists_the_benchmark_rules(chain: Any) -> None:
    proc = run_cli(["gate", "c"], chain["root"], check=False)
    assert proc.returncode == 1
    assert "**Benchmark rules**" in proc.stdout and "offline/ek_follow" in proc.stdout


def test_transfer_flags_a_benchmark_gain_that_comes_with_a_pairwise_loss(chain: Any) -> None:
    out = json.loads(run_cli(["bench", "transfer", "--suite", "offline", "--pool", "small",
                              "--json"], chain["root"]).stdout)
    assert out["chain"] == ["a", "b", "c"]
    first, second = out["steps"]
    ab = chain["compares"]["b"]["overall"]
    assert first["pairwise"]["win_rate"] == pytest.approx(ab["win_rate"])
    assert first["pairwise"]["ci"] == pytest.approx(ab["ci"])
    assert first["pairwise"]["direction"] == "loss"
    assert first["gained"] == ["ek_arith"] and first["lost"] == []
    assert first["flag"] == "benchmark gain, pairwise loss"
    assert second["pairwise"]["direction"] == "gain"
    assert second["gained"] == ["ek_facts"] and second["lost"] == ["ek_follow"]
    assert second["flag"] is None
    text = run_cli(["bench", "transfer", "--suite", "offline", "--pool", "small"],
                   chain["root"]).stdout
    assert "benchmark gain, pairwise loss" in text and "a → b → c" in text


def test_transfer_reads_a_comparison_stored_the_other_way_round(chain: Any) -> None:
    out = json.loads(run_cli(["bench", "transfer", "--suite", "offline", "--chain", "c,b,a",
                              "--json"], chain["root"]).stdout)
    cb, ba = out["steps"]
    bc = chain["compares"]["c"]["overall"]
    assert cb["pairwise"]["reversed"]
    assert cb["pairwise"]["win_rate"] == pytest.approx(1 - bc["win_rate"])
    assert cb["pairwise"]["direction"] == "loss"
    assert cb["gained"] == ["ek_follow"] and cb["flag"] == "benchmark gain, pairwise loss"
    assert ba["pairwise"]["direction"] == "gain" and ba["gained"] == []
    assert ba["flag"] is None


def test_transfer_rule() -> None:
    from evalkit.bench.transfer import OVERFIT, OVERFIT_LOSS, flag_for

    assert flag_for(("t",), "flat") == OVERFIT == "possible benchmark overfitting"
    assert flag_for(("t",), "loss") == OVERFIT_LOSS
    assert flag_for(("t",), "gain") is None and flag_for(("t",), None) is None
    assert flag_for((), "loss") is None and flag_for((), "flat") is None


# --------------------------------------------------------------------------- dashboard

@pytest.fixture
def page(chain: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EVALKIT_DB", str(chain["root"] / "evalkit.db"))
    st.cache_data.clear()
    st.cache_resource.clear()

    def open_page(**params: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=90)
        at.query_params.update(params)
        at.run()
        at.query_params.update(params)
        at.switch_page("views/benchmarks.py")
        at.run()
        assert not at.exception, at.exception[0].value if at.exception else ""
        return at

    yield open_page
    st.cache_data.clear()
    st.cache_resource.clear()


def test_benchmarks_page_shows_grid_deltas_flips_and_transfer(page: Any) -> None:
    at = page(pool="small", judge="sim", suite="offline", bbase="b", bcand="c")
    frames = [d.value for d in at.dataframe]
    grid = frames[0].set_index("checkpoint")
    assert list(grid.index) == ["a", "b", "c"]
    want = expected_accuracy(ITEMS, "c", RATES["c"], "ek_facts")
    assert grid.loc["c", "ek_facts"].startswith(f"{want:.3f} [")
    deltas = next(f for f in frames if "p_holm" in f.columns and "gained" in f.columns)
    row = deltas.set_index("task").loc["ek_follow"]
    assert row["delta"] == pytest.approx(
        expected_accuracy(ITEMS, "c", RATES["c"], "ek_follow")
        - expected_accuracy(ITEMS, "b", RATES["b"], "ek_follow"))
    flips = next(f for f in frames if "response_a" in f.columns)
    assert len(flips) > 0 and set(flips["change"]) <= {"gained", "lost"}
    transfer = next(f for f in frames if "flag" in f.columns)
    assert list(transfer["flag"]) == ["benchmark gain, pairwise loss", ""]
    assert any("benchmark gain, pairwise loss" in w.value for w in at.warning)


def test_benchmarks_page_without_runs_says_what_to_run(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.store import make_engine

    make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("EVALKIT_DB", str(tmp_path / "empty.db"))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/benchmarks.py")
    at.run()
    assert not at.exception
    assert any("evalkit bench" in i.value for i in at.info)
