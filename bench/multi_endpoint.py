"""Throughput of `evalkit compare` with 4 replicas per model against 1, at equal per-replica
concurrency.

Each replica is a scripted server in its own process, answering every request after 250 ms
(latency-bound, like a busy vLLM replica). Baseline, candidate and judge each get the same
list of base URLs (``base_url = [...]``) with ``max_concurrency`` per replica. With one
replica the judge's 2 calls per prompt bound the run at 2 × prompts × latency / concurrency;
four replicas should take about a quarter of that.

Prints the wall time of each run, the ratio (target ≥ 3), each replica's share of requests
and whether the two runs' results are identical.

Usage: python bench/multi_endpoint.py [--prompts 600] [--latency 0.25] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evalkit.backends.checkpoints import make_checkpoint
from evalkit.compare import CompareOptions, Comparer
from evalkit.config import CheckpointConfig, EndpointConfig, JudgeConfig, Sampling
from evalkit.judging.pairwise import PairwiseJudge
from evalkit.pools import PoolPrompt, pool_version
from evalkit.store import make_engine
from evalkit.store.queries import save_pool


def start_servers(n: int, latency: float, workdir: Path) -> tuple[list[subprocess.Popen[str]],
                                                                 list[str]]:
    scenario = {"latency": latency, "models": {
        "base": {"kind": "chat", "words": 80}, "cand": {"kind": "chat", "words": 100},
        "judge": {"kind": "judge", "strengths": {"base": 0.0, "cand": 0.3}, "tie_prob": 0.1}}}
    path = workdir / "scenario.json"
    path.write_text(json.dumps(scenario))
    procs, urls = [], []
    for _ in range(n):
        proc = subprocess.Popen([sys.executable, "-m", "evalkit.testing", "serve", str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        procs.append(proc)
        urls.append(proc.stdout.readline().strip())
    return procs, urls


def prompts(n: int) -> list[PoolPrompt]:
    cats = ["math", "coding", "law", "safety", "reasoning"]
    return [PoolPrompt(id=f"q{i}", messages=({"role": "user", "content":
                       f"Question {i}: explain idea {i} with an example."},),
                       tags={"category": cats[i % 5]}) for i in range(n)]


def run(urls: list[str], n: int, concurrency: int, db: Path) -> tuple[float, dict, Comparer]:
    engine = make_engine(f"sqlite:///{db}")
    items = prompts(n)
    pool, _ = save_pool(engine, "bench", pool_version(items), items)

    def endpoint(model: str) -> EndpointConfig:
        return EndpointConfig(base_url=urls[0], base_urls=tuple(urls), model=model,
                              max_concurrency=concurrency)

    sampling = Sampling(max_tokens=512, seed=0)
    comparer = Comparer(
        engine, pool, items,
        make_checkpoint(CheckpointConfig(name="base", endpoint=endpoint("base"),
                                         sampling=sampling)),
        make_checkpoint(CheckpointConfig(name="cand", endpoint=endpoint("cand"),
                                         sampling=sampling)),
        PairwiseJudge(JudgeConfig(name="judge", endpoint=endpoint("judge"))),
        CompareOptions(n_boot=1000))
    t0 = time.perf_counter()
    summary = asyncio.run(comparer.run())
    wall = time.perf_counter() - t0
    assert summary["overall"]["n"] == n and summary["overall"]["failed"] == 0, summary
    return wall, summary, comparer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=600)
    ap.add_argument("--latency", type=float, default=0.25)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--replicas", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        procs, urls = start_servers(args.replicas, args.latency, workdir)
        try:
            one, s1, _ = run(urls[:1], args.prompts, args.concurrency, workdir / "one.db")
            many, s4, comparer = run(urls, args.prompts, args.concurrency, workdir / "many.db")
        finally:
            for p in procs:
                p.terminate()
                p.wait()
    ideal = 2 * args.prompts * args.latency / args.concurrency
    shares = [r.started for r in comparer.judge.client.replicas]
    print(f"prompts={args.prompts} latency={args.latency}s concurrency={args.concurrency} per "
          f"replica, {args.replicas} replicas")
    print(f"1 replica:  {one:.2f}s (ideal {ideal:.2f}s)")
    print(f"{args.replicas} replicas: {many:.2f}s (ideal {ideal / args.replicas:.2f}s); judge "
          f"requests per replica {shares}")
    same = s1["overall"] == s4["overall"] and s1["by_tag"] == s4["by_tag"]
    print(f"identical results: {same}")
    print(f"throughput ratio {args.replicas} vs 1 replica = {one / many:.2f}x   (target >= 3)")


if __name__ == "__main__":
    main()
