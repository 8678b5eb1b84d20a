"""Scale: what a run keeps in memory per prompt, and bench/compare_scale.py at CI size (the
100,000-prompt figures are in docs/reliability.md, "Scale")."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_scenario

from evalkit.backends.checkpoints import make_checkpoint
from evalkit.compare import CompareOptions, Comparer
from evalkit.config import CheckpointConfig, EndpointConfig, JudgeConfig, Sampling
from evalkit.judging.pairwise import PairwiseJudge
from evalkit.pools import PoolPrompt, pool_version
from evalkit.store import make_engine
from evalkit.store.queries import save_pool

BENCH = Path(__file__).resolve().parents[1] / "bench" / "compare_scale.py"


def _comparer(engine, pool, prompts, url: str) -> Comparer:  # type: ignore[no-untyped-def]
    def ep(model: str) -> EndpointConfig:
        return EndpointConfig(base_url=url, model=model, max_concurrency=8, timeout=10)

    sampling = Sampling(max_tokens=64, seed=0)
    return Comparer(engine, pool, prompts,
                    make_checkpoint(CheckpointConfig(name="base", endpoint=ep("base"),
                                                     sampling=sampling)),
                    make_checkpoint(CheckpointConfig(name="cand", endpoint=ep("cand"),
                                                     sampling=sampling)),
                    PairwiseJudge(JudgeConfig(name="judge", endpoint=ep("judge"))),
                    CompareOptions(preflight=False))


def test_a_run_keeps_only_the_fields_it_reads_and_a_rerun_asks_nothing(serve,
                                                                         tmp_path: Path) -> None:
    srv = serve(make_scenario())
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    prompts = [PoolPrompt(id=f"q{i}", messages=({"role": "user", "content": f"Q{i}?"},),
                          tags={"category": "abc"[i % 3]}) for i in range(40)]
    pool, _ = save_pool(engine, "p", pool_version(prompts), prompts)
    runs = []
    for _ in range(2):
        comparer = _comparer(engine, pool, prompts, srv.base_url)
        runs.append((asyncio.run(comparer.run()), comparer))
        # full rows (tokens, timings, the judge's whole output) went to the store; the run
        # holds slim ones: ~1/3 of the memory per prompt at 100,000 prompts
        assert {frozenset(r) for r in comparer.gen_a.cache.values()} == {
            frozenset({"key", "response", "error"})}
        assert {frozenset(r) for r in comparer.judgments.values()} == {
            frozenset({"key", "verdict", "strength", "preference", "error"})}
    (first, _), (again, comparer) = runs
    assert first["overall"] == again["overall"] and first["by_tag"] == again["by_tag"]
    assert again["requests"] == {"baseline": {"cached": 40}, "candidate": {"cached": 40},
                                 "judge": {"cached": 80}}
    assert comparer.claims.counts["transactions"] == 0  # nothing to claim on a cached rerun
    assert srv.stats()["requests"] == 160


@pytest.mark.slow
def test_compare_scale_bench_at_ci_size(tmp_path: Path) -> None:
    """The bench end to end through the CLI with 2,000 prompts (8,000 requests): the peak
    memory of each command stays far from the 1 GiB target and the cached rerun is faster
    than the first run and gives the same numbers (the bench checks that itself)."""
    proc = subprocess.run([sys.executable, str(BENCH), "--prompts", "2000", "--json",
                           "--keep", str(tmp_path / "scale")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for name in ("import", "compare", "rerun"):
        assert out[name]["peak_rss_mib"] < 512, out
    assert out["rerun"]["wall_s"] < out["compare"]["wall_s"], out
