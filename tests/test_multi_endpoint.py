"""Several endpoints per checkpoint or judge (``base_url = [...]``): requests spread by load,
each replica with its own concurrency; a failing replica is taken out by its circuit breaker
and tried again later; the results equal one endpoint's."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import make_scenario

from evalkit.backends.balancer import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Balancer,
    BreakerPolicy,
    CircuitBreaker,
    Replica,
)
from evalkit.backends.checkpoints import make_checkpoint
from evalkit.backends.openai_chat import ChatClient
from evalkit.backends.retry import RetryPolicy
from evalkit.compare import CompareOptions, Comparer
from evalkit.config import parse_config
from evalkit.errors import ConfigError
from evalkit.judging.pairwise import PairwiseJudge
from evalkit.pools import PoolPrompt, pool_version
from evalkit.store import make_engine
from evalkit.store.queries import save_pool
from evalkit.testing import ScriptedServer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the breaker


def test_breaker_opens_on_unreachable_and_probes_after_the_cooldown() -> None:
    b = CircuitBreaker(BreakerPolicy(threshold=3, cooldown=1.0, max_cooldown=4.0))
    for _ in range(2):
        b.record("unreachable", "connection refused: x", 0.0)
    assert b.state == CLOSED
    b.record("ok", None, 0.0)  # an answer resets the count
    for _ in range(3):
        b.record("unreachable", "connection refused: x", 0.0)
    assert b.state == OPEN and b.open_until == 1.0 and b.last_error == "connection refused: x"
    assert not b.due(0.5) and b.due(1.0)
    b.state = HALF_OPEN  # what the balancer does for the probe
    b.record("unreachable", "connection refused: y", 1.0)  # the probe failed: twice as long
    assert b.state == OPEN and b.open_until == 3.0
    b.state = HALF_OPEN
    b.record("unreachable", "connection refused: y", 3.0)
    b.state = HALF_OPEN
    b.record("unreachable", "connection refused: y", 7.0)
    assert b.open_until == 11.0  # capped at max_cooldown
    b.state = HALF_OPEN
    b.record("ok", None, 11.0)
    assert b.state == CLOSED and b.consecutive == 0 and b.opened == 4


def test_timeouts_open_the_breaker_only_before_the_first_answer() -> None:
    never = CircuitBreaker(BreakerPolicy(threshold=2))
    never.record("timeout", "timeout after 1s", 0.0)
    never.record("timeout", "timeout after 1s", 0.0)
    assert never.state == OPEN  # an endpoint that never answers is as good as gone
    slow = CircuitBreaker(BreakerPolicy(threshold=2))
    slow.record("ok", None, 0.0)
    for _ in range(10):  # one that has answered may be slow on long generations
        slow.record("timeout", "timeout after 1s", 0.0)
        slow.record("transient", "connection error: reset", 0.0)
    assert slow.state == CLOSED


def test_balancer_picks_the_least_loaded_replica_within_its_limit() -> None:
    async def go() -> None:
        reps = [Replica(f"http://r{i}/v1", limit=2, policy=BreakerPolicy()) for i in range(3)]
        bal = Balancer(reps)
        taken = [await bal.acquire() for _ in range(6)]
        assert sorted(r.base_url for r in taken) == sorted(
            [f"http://r{i}/v1" for i in range(3)] * 2)  # spread evenly, two each
        waiting = asyncio.ensure_future(bal.acquire())  # all full: waits for a slot
        await asyncio.sleep(0)
        assert not waiting.done()
        bal.release(reps[1], "ok")
        assert await waiting is reps[1]

    asyncio.run(go())


def test_balancer_fails_fast_when_every_circuit_is_open_and_probes_later() -> None:
    async def go() -> None:
        clock = Clock()
        policy = BreakerPolicy(threshold=1, cooldown=2.0)
        reps = [Replica(f"http://r{i}/v1", limit=4, policy=policy) for i in range(2)]
        bal = Balancer(reps, clock=clock)
        assert {await bal.acquire(), await bal.acquire()} == set(reps)
        bal.release(reps[0], "unreachable", "connection refused: r0")
        assert reps[0].breaker.state == OPEN
        assert await bal.acquire() is reps[1]  # the open one is skipped
        clock.now = 0.5
        bal.release(reps[1], "ok")
        bal.release(reps[1], "unreachable", "connection refused: r1")
        assert reps[1].breaker.state == OPEN
        assert await bal.acquire() is None  # nothing can serve: fail now, not later
        failed, error = bal.last_error()  # the replica that opened last
        assert (failed, error) == (reps[1], "connection refused: r1")
        clock.now = 2.0  # r0's cooldown is over: the next request probes it
        probe = await bal.acquire()
        assert probe is reps[0] and reps[0].breaker.state == HALF_OPEN
        waiting = asyncio.ensure_future(bal.acquire())  # while the probe is out, wait
        await asyncio.sleep(0)
        assert not waiting.done()
        bal.release(reps[0], "ok")  # the probe got an answer: r0 is back
        assert await waiting is reps[0] and reps[0].breaker.state == CLOSED

    asyncio.run(go())


# --------------------------------------------------------------------------- real replicas


def test_a_dead_replica_is_taken_out_and_taken_back_when_it_returns() -> None:
    port = closed_port()
    dead_url = f"http://127.0.0.1:{port}/v1"
    scenario = {"models": {"m": {"kind": "chat"}}}

    async def batch(client: ChatClient, tag: str, n: int = 40) -> list[Any]:
        return await asyncio.gather(*(client.chat([{"role": "user", "content": f"{tag} {i}"}])
                                      for i in range(n)))

    async def go(live: ScriptedServer) -> None:
        client = ChatClient([live.base_url, dead_url], "m", max_concurrency=4,
                            retry=RetryPolicy(max_retries=4, base=0.01),
                            breaker=BreakerPolicy(threshold=3, cooldown=0.3))
        try:
            first = await batch(client, "first")
            assert all(r.ok for r in first)  # refused attempts were retried on the live one
            dead = client.replicas[1]
            assert dead.breaker.opened >= 1 and dead.breaker.state in (OPEN, HALF_OPEN)
            with ScriptedServer(scenario, port=port) as back:  # the replica returns …
                deadline = time.monotonic() + 10
                while dead.breaker.state != CLOSED and time.monotonic() < deadline:
                    assert all(r.ok for r in await batch(client, "again", 8))
                    await asyncio.sleep(0.05)
                assert dead.breaker.state == CLOSED  # … a probe after the cooldown found it
                second = await batch(client, "second", 80)
                assert all(r.ok for r in second)
                assert back.stats()["completed"] >= 10  # and it takes its share again
        finally:
            await client.aclose()

    with ScriptedServer(scenario) as live:
        asyncio.run(go(live))


def config_for(urls: list[str], db: Path, concurrency: int = 8) -> Any:
    ep = {"base_url": urls if len(urls) > 1 else urls[0], "max_concurrency": concurrency,
          "timeout": 5.0, "max_retries": 6, "retry_base": 0.02}
    return parse_config({
        "store": {"url": f"sqlite:///{db}"},
        "checkpoints": {"base": {**ep, "model": "base"}, "cand": {**ep, "model": "cand"}},
        "judges": {"sim": {**ep, "model": "judge"}}, "defaults": {"judge": "sim"}})


def prompts(n: int) -> list[PoolPrompt]:
    cats = ("math", "coding", "law", "safety")
    return [PoolPrompt(id=f"q{i}", messages=({"role": "user", "content": f"Question {i}."},),
                       tags={"category": cats[i % 4]}) for i in range(n)]


def run_compare(urls: list[str], db: Path, n: int, during: Any = None) -> tuple[dict, Comparer]:
    config = config_for(urls, db)
    engine = make_engine(config.store_url)
    items = prompts(n)
    pool, _ = save_pool(engine, "small", pool_version(items), items)
    comparer = Comparer(engine, pool, items, make_checkpoint(config.checkpoints["base"]),
                        make_checkpoint(config.checkpoints["cand"]),
                        PairwiseJudge(config.judge("sim")), CompareOptions(n_boot=200))

    async def go() -> dict:
        side = asyncio.ensure_future(during()) if during else None
        summary = await comparer.run()
        if side is not None:
            await side
        return summary

    return asyncio.run(go()), comparer


def same_result(a: dict, b: dict) -> None:
    assert a["overall"] == b["overall"] and a["by_tag"] == b["by_tag"]


def test_replicas_share_the_load_and_give_one_endpoints_results(serve, tmp_path: Path
                                                                ) -> None:
    n = 120
    single = serve(make_scenario(latency=0.01))
    one, _ = run_compare([single.base_url], tmp_path / "one.db", n)
    replicas = [serve(make_scenario(latency=0.01)) for _ in range(4)]
    four, comparer = run_compare([r.base_url for r in replicas], tmp_path / "four.db", n)
    same_result(one, four)
    assert four["overall"]["failed"] == 0 and four["overall"]["n"] == n
    shares = [r.stats()["requests"] for r in replicas]
    assert sum(shares) == 4 * n  # nothing asked twice
    assert min(shares) >= 0.15 * sum(shares), shares  # each got a share (even: 0.25)
    assert [r.started for r in comparer.judge.client.replicas] == [
        r.stats()["by_model"]["judge"]["requests"] for r in replicas]


def test_a_replica_killed_mid_run_is_taken_out_and_the_run_completes(
        serve, tmp_path: Path) -> None:
    n = 150
    single = serve(make_scenario(latency=0.02))
    one, _ = run_compare([single.base_url], tmp_path / "one.db", n)
    replicas = [serve(make_scenario(latency=0.02)) for _ in range(3)]
    victim = replicas[1]

    async def kill_when_busy() -> None:
        deadline = time.monotonic() + 30
        while victim.stats()["requests"] < 60 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(victim.stop)  # listener and open connections go away

    three, comparer = run_compare([r.base_url for r in replicas], tmp_path / "three.db", n,
                                  during=kill_when_busy)
    assert three["overall"]["failed"] == 0
    same_result(one, three)
    killed = [c.client.replicas[1] for c in (comparer.baseline, comparer.candidate,
                                             comparer.judge)]
    assert sum(r.breaker.opened for r in killed) >= 1  # taken out …
    assert all(r.breaker.state != CLOSED for r in killed if r.breaker.opened)
    survivors = sum(r.stats()["completed"] for r in (replicas[0], replicas[2]))
    assert survivors + victim.stats()["completed"] >= 4 * n  # … and the others finished


def test_base_url_lists_are_checked_like_single_urls(tmp_path: Path) -> None:
    ok = config_for(["http://a:1/v1", "http://b:2/v1/"], tmp_path / "x.db")
    ep = ok.checkpoints["base"].endpoint
    assert ep.base_url == "http://a:1/v1" and ep.urls == ("http://a:1/v1", "http://b:2/v1/")
    assert ok.checkpoints["base"].spec_hash == config_for(
        ["http://c:3/v1"], tmp_path / "x.db").checkpoints["base"].spec_hash  # URLs: not identity
    for urls, message in (([], "'base_url' is required"),
                          (["http://a/v1", "not a url"], "is not a URL"),
                          (["http://a/v1", 3], "base_url[1]: expected str, got int"),
                          (["http://a/v1", "http://a/v1"], "a replica is listed twice"),
                          (["http://u:t1@a/v1", "http://u:t2@b/v1"], "different credentials")):
        with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
            parse_config({"checkpoints": {"c": {"base_url": urls, "model": "m"}}})
    secret = parse_config({"checkpoints": {"c": {"base_url": ["http://u:tok9@a/v1",
                                                              "http://u:tok9@b/v1"],
                                                 "model": "m"}}}).checkpoints["c"].endpoint
    assert secret.url_key == "tok9" and "tok9" not in json.dumps(secret.urls)
