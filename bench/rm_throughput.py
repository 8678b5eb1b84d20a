"""Scores per second of the ``vllm`` reward-model backend against a zero-latency scripted
server, as a ratio to a bare async HTTP loop sending the same batched requests.

The scripted server (``python -m evalkit.testing serve``) runs in its own process and answers
vLLM's ``POST /classify`` at once. In this process, in alternating rounds:

* **evalkit**: ``VLLMRewardModel.score`` on batches of ``--batch`` texts, all batches at once,
  bounded by ``max_concurrency = --concurrency`` (the chat client's balancer, retries,
  breaker, timeout and response parsing all in the path);
* **bare**: an ``aiohttp`` session with the same connection limit posting the same JSON
  bodies under a semaphore and reading the first logit of each result — nothing else.

Prints the median scores/s of each, the median of the rounds' ratios (target ≥ 0.7), and the speed-up of batched
requests (``--batch`` texts per request) over one text per request through evalkit. Also,
for information, the end-to-end ``Scorer`` (SQLite store, claims, writer) at the same batch.

Usage: python bench/rm_throughput.py [--texts 16384] [--batch 16] [--concurrency 64]
       [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from evalkit.backends.reward_base import RewardInput, render_hh
from evalkit.backends.reward_http import VLLMRewardModel
from evalkit.reward.spec import parse_reward_model


def start_server(workdir: Path) -> tuple[subprocess.Popen[str], str]:
    scenario = {"latency": 0.0, "models": {},
                "rewards": {"models": {"rm": {"rule": "hash", "seed": 0}}}}
    path = workdir / "scenario.json"
    path.write_text(json.dumps(scenario))
    proc = subprocess.Popen([sys.executable, "-m", "evalkit.testing", "serve", str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def inputs(n: int) -> list[RewardInput]:
    return [RewardInput(({"role": "user", "content": f"Question {i}: explain idea {i} with "
                          "an example, step by step."},),
                        f"Answer {i}: the idea is simple once we check each step; here is "
                        f"an example with {i % 97} parts and a short summary.")
            for i in range(n)]


def batches(items: list[RewardInput], size: int) -> list[list[RewardInput]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


async def evalkit_run(url: str, items: list[RewardInput], batch: int, concurrency: int
                      ) -> float:
    backend = VLLMRewardModel(parse_reward_model("rm", {
        "backend": "vllm", "base_url": url, "model": "rm", "max_concurrency": concurrency,
        "batch_size": batch}))
    try:
        t0 = time.perf_counter()
        done = await asyncio.gather(*(backend.score(b) for b in batches(items, batch)))
        wall = time.perf_counter() - t0
    finally:
        await backend.aclose()
    assert sum(len(d) for d in done) == len(items) and all(s.ok for d in done for s in d)
    return len(items) / wall


async def bare_run(url: str, items: list[RewardInput], batch: int, concurrency: int) -> float:
    import aiohttp

    root = url.removesuffix("/v1")
    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector,
                                     headers={"Content-Type": "application/json"}) as session:
        async def one(chunk: list[RewardInput]) -> list[float]:
            body = json.dumps({"model": "rm", "input": [render_hh(i.messages, i.response)
                                                        for i in chunk],
                               "use_activation": False}).encode()
            async with sem, session.post(root + "/classify", data=body) as resp:
                data = json.loads(await resp.read())
            return [float(r["probs"][0]) for r in data["data"]]

        t0 = time.perf_counter()
        done = await asyncio.gather(*(one(b) for b in batches(items, batch)))
        wall = time.perf_counter() - t0
    assert sum(len(d) for d in done) == len(items)
    return len(items) / wall


def scorer_run(url: str, items: list[RewardInput], batch: int, concurrency: int,
               db: Path) -> float:
    from evalkit.pools import PoolPrompt
    from evalkit.reward.scorer import Scorer
    from evalkit.store import make_engine

    engine = make_engine(f"sqlite:///{db}")
    scorer = Scorer(engine, VLLMRewardModel(parse_reward_model("rm", {
        "backend": "vllm", "base_url": url, "model": "rm", "max_concurrency": concurrency,
        "batch_size": batch})))
    pairs = [(PoolPrompt(id=str(i), messages=it.messages), it.response)
             for i, it in enumerate(items)]

    async def go() -> Any:
        try:
            return await asyncio.gather(*(scorer.score(p, r) for p, r in pairs))
        finally:
            await scorer.aclose()

    t0 = time.perf_counter()
    done = asyncio.run(go())
    wall = time.perf_counter() - t0
    assert all(d.ok for d in done) and scorer.counts["scored"] == len(items)
    return len(items) / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=16384)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    items = inputs(args.texts)
    single = items[: max(args.concurrency * 16, args.texts // 4)]
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp))
        try:
            asyncio.run(evalkit_run(url, items[:2048], args.batch, args.concurrency))  # warm
            ours, bare, one = [], [], []
            for r in range(args.rounds):
                ours.append(asyncio.run(evalkit_run(url, items, args.batch, args.concurrency)))
                bare.append(asyncio.run(bare_run(url, items, args.batch, args.concurrency)))
                one.append(asyncio.run(evalkit_run(url, single, 1, args.concurrency)))
                print(f"round {r + 1}: evalkit {ours[-1]:,.0f}/s, bare {bare[-1]:,.0f}/s, "
                      f"evalkit 1 text/request {one[-1]:,.0f}/s", flush=True)
            e2e = scorer_run(url, items, args.batch, args.concurrency, Path(tmp) / "s.db")
        finally:
            proc.terminate()
            proc.wait(10)
    m_ours, m_bare, m_one = (statistics.median(x) for x in (ours, bare, one))
    ratios = [o / b for o, b in zip(ours, bare, strict=True)]
    print(f"\n{args.texts} texts, {args.batch} per request, concurrency {args.concurrency}, "
          f"median of {args.rounds} rounds")
    print(f"evalkit vllm backend: {m_ours:,.0f} scores/s")
    print(f"bare aiohttp loop:    {m_bare:,.0f} scores/s")
    print(f"ratio evalkit/bare:   {statistics.median(ratios):.2f} median of the rounds' "
          f"ratios (min {min(ratios):.2f}, max {max(ratios):.2f}; target >= 0.7)")
    print(f"batched ({args.batch}/request) vs 1 text/request: {m_ours / m_one:.1f}x "
          f"({m_one:,.0f} scores/s unbatched)")
    print(f"end to end (Scorer: SQLite store, claims, writer): {e2e:,.0f} scores/s")


if __name__ == "__main__":
    main()
