"""Leases on requests in flight (store/leases.py, claims.py): who may take a claimed key over,
and when — on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_scenario

from evalkit.backends.checkpoints import make_checkpoint
from evalkit.claims import Claims
from evalkit.config import CheckpointConfig, EndpointConfig, Sampling
from evalkit.generate import Generator
from evalkit.pools import PoolPrompt
from evalkit.store import make_engine
from evalkit.store.leases import LeaseStore, Owner, new_owner, owner_gone, process_start, this_host
from evalkit.store.models import Generation
from evalkit.store.queries import upsert
from evalkit.store.writer import BatchWriter

CHILD = """
import sys, time
from evalkit.store import make_engine
from evalkit.store.leases import LeaseStore, new_owner
store = LeaseStore(make_engine(sys.argv[1]), new_owner(), ttl=3600)
got = store.acquire({"generation": ["k-child"]})
print("claimed" if "k-child" in got.claimed else "not claimed", flush=True)
time.sleep(600)
"""


def leases(engine) -> dict[str, tuple[str, float]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {k: (o, e) for k, o, e in conn.exec_driver_sql(
            "SELECT key, owner, expires_at FROM lease").all()}


def plant(engine, key: str, owner: str, expires_at: float) -> None:  # type: ignore[no-untyped-def]
    """Put a lease in the store as another process would have left it."""
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM lease WHERE key = {mark}", (key,))
        conn.exec_driver_sql(f"INSERT INTO lease (key, owner, expires_at) VALUES "
                             f"({mark}, {mark}, {mark})", (key, owner, expires_at))


def test_owner_names_host_pid_and_start_time() -> None:
    me = new_owner()
    assert me.host == this_host() and me.pid == os.getpid()
    assert me.start == process_start(os.getpid())
    assert Owner.parse(str(me)) == me
    assert not owner_gone(str(me))
    assert not owner_gone(f"elsewhere:{os.getpid()}:1:x")  # another host: only expiry frees


def test_a_killed_owners_lease_is_free_at_once(store_url: str) -> None:
    """A real child process claims a key with a one-hour lease; while it lives the key is
    held, the moment it is SIGKILLed (not even reaped yet) the key can be taken over."""
    engine = make_engine(store_url)
    child = subprocess.Popen([sys.executable, "-c", CHILD, store_url], text=True,
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "claimed"
        mine = LeaseStore(engine, new_owner(), ttl=60)
        got = mine.acquire({"generation": ["k-child"]})
        assert got.held == {"k-child"} and not got.claimed
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_start(child.pid) is not None:  # a zombie counts as gone
            assert time.monotonic() < deadline
            time.sleep(0.01)
        got = mine.acquire({"generation": ["k-child"]})
        assert got.claimed == {"k-child"}
        assert leases(engine)["k-child"][0] == mine.owner
    finally:
        child.kill()
        child.wait()


def test_a_reused_pid_with_another_start_time_is_gone(store_url: str) -> None:
    engine = make_engine(store_url)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        start = process_start(sleeper.pid)
        assert start
        live = Owner(this_host(), sleeper.pid, start, "r1")
        reused = Owner(this_host(), sleeper.pid, str(int(start) - 100), "r1")
        far = time.time() + 3600
        plant(engine, "k-live", str(live), far)
        plant(engine, "k-reused", str(reused), far)
        got = LeaseStore(engine, new_owner(), ttl=60).acquire(
            {"judgment": ["k-live", "k-reused"]})
        assert got.claimed == {"k-reused"} and got.held == {"k-live"}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_another_hosts_lease_waits_for_its_expiry_and_heartbeats_extend_it(
        store_url: str) -> None:
    engine = make_engine(store_url)
    foreign = "gpu-node-7~4026531836:4242:99:abcd"
    plant(engine, "k-far", foreign, time.time() + 3600)
    plant(engine, "k-expired", foreign, time.time() - 1)
    mine = LeaseStore(engine, new_owner(), ttl=5)
    got = mine.acquire({"generation": ["k-far", "k-expired", "k-new"]})
    assert got.claimed == {"k-expired", "k-new"} and got.held == {"k-far"}
    before = leases(engine)["k-new"][1]
    time.sleep(0.05)
    assert mine.renew() == 2  # the heartbeat pushes every lease of this owner forward
    assert leases(engine)["k-new"][1] > before
    plant(engine, "k-far", foreign, time.time() - 1)  # its heartbeat stopped
    assert mine.acquire({"generation": ["k-far"]}).claimed == {"k-far"}
    mine.release()
    assert leases(engine) == {}


def test_a_claim_on_a_finished_key_returns_the_row_and_keeps_no_lease(store_url: str) -> None:
    engine = make_engine(store_url)
    upsert(engine, Generation, [
        {"key": "k-ok", "checkpoint_spec": "s", "prompt_hash": "p", "response": "hi"},
        {"key": "k-failed", "checkpoint_spec": "s", "prompt_hash": "p", "error": "HTTP 500"}])
    got = LeaseStore(engine, new_owner(), ttl=60).acquire(
        {"generation": ["k-ok", "k-failed"]})
    assert set(got.done) == {"k-ok"} and got.done["k-ok"]["response"] == "hi"
    assert got.claimed == {"k-failed"}  # a stored failure is retried: the claim is ours
    assert set(leases(engine)) == {"k-failed"}


def _checkpoint(url: str, model: str) -> object:
    return make_checkpoint(CheckpointConfig(
        name=model, endpoint=EndpointConfig(base_url=url, model=model, max_concurrency=4,
                                            timeout=10, max_retries=0),
        sampling=Sampling(max_tokens=64, seed=0)))


PROMPT = PoolPrompt(id="p1", messages=({"role": "user", "content": "Say something."},))


def test_a_failed_request_releases_its_lease_and_another_process_takes_over(
        serve, store_url: str) -> None:
    """Owner 1 fails (HTTP 500, no retries): its error row and the end of its lease are one
    commit, so owner 2 — waiting on the key meanwhile — takes it over and succeeds."""
    srv = serve(make_scenario(latency=0.2, models={
        "flaky": {"kind": "chat", "failures": {"first": 1, "status": 500}}}))
    engine = make_engine(store_url)

    async def main() -> tuple[dict, dict]:
        claims1, claims2 = Claims(engine), Claims(engine)
        w1 = BatchWriter(engine, owner=str(claims1.owner))
        w2 = BatchWriter(engine, owner=str(claims2.owner))
        g1 = Generator(_checkpoint(srv.base_url, "flaky"), w1, {}, claims1)  # type: ignore[arg-type]
        g2 = Generator(_checkpoint(srv.base_url, "flaky"), w2, {}, claims2)  # type: ignore[arg-type]
        first = asyncio.create_task(g1.get(PROMPT, 0))
        await asyncio.sleep(0.1)  # owner 1 holds the key, its request in flight
        second = asyncio.create_task(g2.get(PROMPT, 0))
        row1 = await first
        await w1.flush()
        row2 = await second
        await w2.flush()
        assert claims2.counts["waited"] == 1
        for c in (claims1, claims2):
            await c.aclose()
        return row1, row2

    row1, row2 = asyncio.run(main())
    assert row1["error"] and row2["error"] is None and row2["response"]
    stats = srv.stats()["by_model"]["flaky"]
    assert stats["requests"] == 2 and stats["completed"] == 1
    assert leases(engine) == {}


def test_a_waiter_gets_the_owners_result_without_a_request(serve, store_url: str) -> None:
    srv = serve(make_scenario(latency=0.2))
    engine = make_engine(store_url)

    async def main() -> list[dict]:
        owners = [Claims(engine) for _ in range(3)]
        writers = [BatchWriter(engine, owner=str(c.owner)) for c in owners]
        gens = [Generator(_checkpoint(srv.base_url, "base"), w, {}, c)  # type: ignore[arg-type]
                for w, c in zip(writers, owners, strict=True)]
        rows = await asyncio.gather(*(g.get(PROMPT, 0) for g in gens))
        for w in writers:
            await w.flush()
        assert sum(c.counts["claimed"] for c in owners) == 1
        assert sum(c.counts["shared"] for c in owners) == 2
        for c in owners:
            await c.aclose()
        return rows

    rows = asyncio.run(main())
    assert len({r["response"] for r in rows}) == 1
    assert srv.stats()["by_model"]["base"]["requests"] == 1
    assert leases(engine) == {}


def test_a_request_that_raises_releases_its_lease(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")

    class Broken:
        config = CheckpointConfig(name="broken")

        def key(self, prompt: PoolPrompt, sample: int) -> str:
            return "k-broken"

        async def answer(self, prompt: PoolPrompt, sample: int) -> object:
            assert leases(engine)["k-broken"][0] == str(claims.owner)
            raise RuntimeError("bug in a backend")

    claims = Claims(engine)

    async def main() -> None:
        writer = BatchWriter(engine, owner=str(claims.owner))
        gen = Generator(Broken(), writer, {}, claims)  # type: ignore[arg-type]
        with pytest.raises(RuntimeError):
            await gen.get(PROMPT, 0)
        await writer.flush()
        assert leases(engine) == {}  # released at once, not at the end of the run
        await claims.aclose()

    asyncio.run(main())


class Gated:
    """A client whose preflight (``ready``) passes or fails after ``delay`` seconds."""

    def __init__(self, delay: float, error: Exception | None = None) -> None:
        self.delay, self.error, self.is_ready, self.checks = delay, error, False, 0

    async def ready(self) -> None:
        self.checks += 1
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        self.is_ready = True


def test_the_preflight_runs_beside_the_claim_and_a_failed_one_leaves_no_lease(
        tmp_path: Path) -> None:
    from evalkit.preflight import PreflightError

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    claims = Claims(engine, linger=0.05)

    async def main() -> None:
        ok = Gated(0.05)
        assert await claims.claim_checked("generation", "k-ok", ok) is None
        assert ok.checks == 1 and leases(engine)["k-ok"][0] == str(claims.owner)
        # once the client is ready, a claim is a plain claim: no second check
        assert await claims.claim_checked("generation", "k-ok-2", ok) is None
        assert ok.checks == 1
        # a failed check raises its own error and the claim it overlapped leaves no lease
        dead = Gated(0.0, PreflightError("preflight: cannot reach x"))
        with pytest.raises(PreflightError, match="cannot reach x"):
            await claims.claim_checked("generation", "k-dead", dead)
        await asyncio.sleep(0.2)  # the cancelled claim's transaction lands, then is undone
        assert "k-dead" not in leases(engine)
        # no client (a replayed checkpoint): the plain claim
        assert await claims.claim_checked("generation", "k-none", None) is None
        await claims.aclose()
        assert leases(engine) == {}

    asyncio.run(main())
