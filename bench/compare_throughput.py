"""Throughput of `evalkit compare` against a scripted server with fixed latency.

2,000 prompts; the scripted server (its own process) answers every request after 100 ms; each
endpoint (baseline, candidate, judge) allows 64 requests in flight. The ideal time is the
busiest endpoint's requests × latency / concurrency (the judge's 4,000 calls: 6.25 s).

Prints:
  efficiency = ideal / measured                 (target ≥ 0.85)
  ratio to a raw-client baseline run in this process (bare aiohttp, same dependency order:
        both generations, then both judge orders, no parsing/caching/storage)
  harness CPU seconds per 1,000 requests        (this process only; the server is separate)

Usage: python bench/compare_throughput.py [--prompts 2000] [--latency 0.1] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
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


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def start_server(latency: float, workdir: Path) -> tuple[subprocess.Popen[str], str]:
    scenario = {"latency": latency, "models": {
        "base": {"kind": "chat", "words": 80}, "cand": {"kind": "chat", "words": 100},
        "judge": {"kind": "judge", "strengths": {"base": 0.0, "cand": 0.3}, "tie_prob": 0.1}}}
    path = workdir / "scenario.json"
    path.write_text(json.dumps(scenario))
    proc = subprocess.Popen([sys.executable, "-m", "evalkit.testing", "serve", str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def prompts(n: int, salt: str) -> list[PoolPrompt]:
    cats = ["math", "coding", "law", "safety", "reasoning"]
    return [PoolPrompt(id=f"{salt}{i}", messages=({"role": "user", "content":
                       f"[{salt}] Question {i}: explain idea {i} with an example."},),
                       tags={"category": cats[i % 5]}) for i in range(n)]


def run_evalkit(url: str, n: int, concurrency: int, workdir: Path) -> tuple[float, float, int]:
    engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
    items = prompts(n, "evalkit")
    pool, _ = save_pool(engine, "bench", pool_version(items), items)

    def endpoint(model: str) -> EndpointConfig:
        return EndpointConfig(base_url=url, model=model, max_concurrency=concurrency)

    sampling = Sampling(max_tokens=512, seed=0)
    base = make_checkpoint(CheckpointConfig(name="base", endpoint=endpoint("base"),
                                            sampling=sampling))
    cand = make_checkpoint(CheckpointConfig(name="cand", endpoint=endpoint("cand"),
                                            sampling=sampling))
    judge = PairwiseJudge(JudgeConfig(name="judge", endpoint=endpoint("judge")))
    comparer = Comparer(engine, pool, items, base, cand, judge, CompareOptions())
    c0, t0 = cpu_seconds(), time.perf_counter()
    summary = asyncio.run(comparer.run())
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    requests = sum(sum(v.values()) for v in summary["requests"].values())
    assert summary["overall"]["n"] == n, summary["overall"]
    print("phases (s from start):", {k: round(v, 2) for k, v in comparer.phases.items()})
    claims = getattr(comparer, "claims", None)  # request leases (absent in older evalkit)
    if claims is not None:
        print(f"leases: {claims.counts['claimed']} claimed in "
              f"{claims.counts['transactions']} transactions; writer: "
              f"{comparer.writer.rows_written} rows in {comparer.writer.commits} commits")
    return wall, cpu, requests


async def raw_baseline(url: str, n: int, concurrency: int) -> None:
    """The least a client can do: same requests, same order, bare aiohttp."""
    import aiohttp

    sessions = {m: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
                for m in ("base", "cand", "judge")}
    sems = {m: asyncio.Semaphore(concurrency) for m in sessions}

    async def call(model: str, content: str) -> str:
        body = {"model": model, "messages": [{"role": "user", "content": content}]}
        async with sems[model], sessions[model].post(url + "/chat/completions",
                                                     json=body) as resp:
            data = await resp.json()
        return data["choices"][0]["message"]["content"]

    async def one(i: int) -> None:
        q = f"[raw] Question {i}: explain idea {i} with an example."
        a, b = await asyncio.gather(call("base", q), call("cand", q))
        await asyncio.gather(call("judge", f"{q}\nA: {a}\nB: {b}"),
                             call("judge", f"{q}\nA: {b}\nB: {a}"))

    await asyncio.gather(*(one(i) for i in range(n)))
    for s in sessions.values():
        await s.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        proc, url = start_server(args.latency, workdir)
        try:
            t0 = time.perf_counter()
            asyncio.run(raw_baseline(url, args.prompts, args.concurrency))
            raw = time.perf_counter() - t0
            wall, cpu, requests = run_evalkit(url, args.prompts, args.concurrency, workdir)
        finally:
            proc.terminate()
            proc.wait()
    server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu_s = server_cpu.ru_utime + server_cpu.ru_stime
    ideal = 2 * args.prompts * args.latency / args.concurrency  # the judge endpoint
    print(f"prompts={args.prompts} latency={args.latency}s concurrency={args.concurrency} "
          f"requests={requests}")
    print(f"ideal {ideal:.2f}s | raw aiohttp baseline {raw:.2f}s | evalkit {wall:.2f}s")
    print(f"efficiency (ideal / evalkit)        = {ideal / wall:.3f}   (target >= 0.85)")
    print(f"raw-client baseline / evalkit        = {raw / wall:.3f}")
    print(f"harness CPU seconds per 1000 requests = {cpu / requests * 1000:.3f}")
    print(f"(scripted server process, both runs: {server_cpu_s:.2f} CPU s for "
          f"{2 * requests} requests)")


if __name__ == "__main__":
    main()
