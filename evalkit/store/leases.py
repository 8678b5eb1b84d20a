"""Leases on requests in flight: the store-side half of cross-process deduplication.

Before a process sends a generation or judgment request it claims the request's content key
in the ``lease`` table; a process that finds the key claimed by a live owner waits for the
result row instead of paying for the same request again. The rules (docs/reliability.md):

* an owner is ``host:pid:start:run`` (``host`` = host name and PID namespace, ``start`` = the
  process start time in clock ticks since boot, ``run`` = one claimer within the process);
* a lease is free when it has expired (``expires_at`` in the past; the owner's heartbeat keeps
  pushing it forward while the request is in flight), or at once when its owner is on this
  host and its process is gone (no such pid, a zombie, or a reused pid with another start
  time), so a restart right after a SIGKILL never waits;
* a claim that wins a key whose result row already exists hands the row back and drops the
  lease in the same transaction;
* the writer drops a lease in the transaction that writes the key's result row
  (``release_sql``), so "no lease" and "no result" are never both seen for a finished key.

Every statement is parameterised; SQLite transactions start with ``BEGIN IMMEDIATE`` (a
deferred one that reads then writes fails at once instead of waiting for the lock).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy.engine import Engine

from .models import Generation, Grade, Judgment, Score

CHUNK = 300  # keys per statement (3 parameters each: under SQLite's oldest 999 limit)
_RETRY_STATES = {"40P01", "40001"}  # PostgreSQL: deadlock detected, serialization failure

# what a finished key looks like in each table: a success; a stored failure is retried
RESULTS: dict[str, tuple[Any, str]] = {
    "generation": (Generation, "error IS NULL"),
    "judgment": (Judgment, "verdict IS NOT NULL"),
    "score": (Score, "error IS NULL"),  # a reward-model score (evalkit/reward/scorer.py)
    "grade": (Grade, "error IS NULL"),  # a single-answer grade (evalkit/grading/runs.py)
}


# ---- owners --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Owner:
    """Who holds a lease. ``start`` is '' where the platform cannot tell (no /proc)."""

    host: str
    pid: int
    start: str
    run: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}:{self.run}"

    @classmethod
    def parse(cls, raw: str) -> Owner | None:
        parts = raw.rsplit(":", 3)
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2], parts[3])


@cache
def this_host() -> str:
    """The host name, plus the PID namespace where there is one: two containers that share a
    host name but not their pids must not judge each other's processes."""
    name = socket.gethostname().replace(":", "_") or "localhost"
    try:
        ns = os.readlink("/proc/self/ns/pid")  # 'pid:[4026531836]'
        name += "~" + "".join(ch for ch in ns if ch.isdigit())
    except OSError:
        pass
    return name


def process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot ('' where unknown); None when the
    process is gone or a zombie (killed, not yet reaped: it holds nothing any more)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except FileNotFoundError:
        return None
    except OSError:
        return _pid_alive(pid)
    fields = raw[raw.rfind(")") + 2:].split()  # the name may hold spaces and parentheses
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _pid_alive(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


def new_owner() -> Owner:
    """An owner for one claimer in this process (a new ``run`` each time)."""
    return Owner(this_host(), os.getpid(), process_start(os.getpid()) or "",
                 uuid.uuid4().hex[:8])


def owner_gone(raw: str) -> bool:
    """True when ``raw`` names a process on this host that no longer runs (its lease is free
    at once). An owner on another host is never judged gone: its lease expires instead."""
    owner = Owner.parse(raw)
    if owner is None or owner.host != this_host():
        return False
    if owner.pid == os.getpid():
        return False  # this process: another claimer in it releases or lets its lease expire
    start = process_start(owner.pid)
    if start is None:
        return True
    return bool(owner.start and start and owner.start != start)  # a reused pid


# ---- claims ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Acquired:
    """The answer to one batch of claims: keys now held by the claimer, keys whose result
    already exists (with the stored row; no lease is kept for them), and the rest — held by a
    live owner, to be asked again later."""

    claimed: frozenset[str] = frozenset()
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    held: frozenset[str] = frozenset()


def retrying(fn: Any, *args: Any, attempts: int = 5) -> Any:
    """Run ``fn`` again when PostgreSQL aborts it as a deadlock victim or serialization
    failure (two transactions locking the same keys)."""
    for attempt in range(attempts):
        try:
            return fn(*args)
        except Exception as exc:
            orig = getattr(exc, "orig", exc)
            if getattr(orig, "sqlstate", None) not in _RETRY_STATES or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


class LeaseStore:
    """Claims, renewals and releases for one owner, one transaction per call.

    This is the hot path of a run that makes requests, so it speaks DB-API on the raw
    connection (SQLAlchemy's per-statement compile costs more than the statements)."""

    def __init__(self, engine: Engine, owner: Owner, ttl: float) -> None:
        self.engine, self.owner, self.ttl = engine, str(owner), ttl
        self.sqlite = engine.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def _clock(self) -> tuple[str, list[Any]]:
        """The lease clock as SQL and its parameters: the database server's on PostgreSQL
        (one clock for every host), this machine's on SQLite (one host)."""
        if self.sqlite:
            return "?", [time.time()]
        return "EXTRACT(EPOCH FROM clock_timestamp())", []

    def _transaction(self, work: Any) -> Any:
        def go() -> Any:
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                if self.sqlite:
                    cur.execute("BEGIN IMMEDIATE")
                try:
                    out = work(cur)
                except BaseException:
                    raw.rollback()
                    raise
                raw.commit()
                return out
            finally:
                raw.close()
        return retrying(go)

    def acquire(self, keys: dict[str, Sequence[str]]) -> Acquired:
        """Claim ``keys`` (by kind: 'generation' or 'judgment') in one transaction."""
        def work(cur: Any) -> Acquired:
            claimed: set[str] = set()
            done: dict[str, dict[str, Any]] = {}
            wanted: set[str] = set()
            for kind, ks in keys.items():
                model, ok = RESULTS[kind]
                ordered = sorted(set(ks))  # one lock order for every claimer (PostgreSQL)
                wanted.update(ordered)
                for i in range(0, len(ordered), CHUNK):
                    got = sorted(self._claim_chunk(cur, ordered[i:i + CHUNK]))
                    claimed.update(got)
                    found = self._results(cur, model.__tablename__, ok, got)
                    if found:
                        self._delete(cur, sorted(found))
                        done.update(found)
            return Acquired(claimed=frozenset(claimed - set(done)), done=done,
                            held=frozenset(wanted - claimed))
        return self._transaction(work)  # type: ignore[no-any-return]

    def _claim_chunk(self, cur: Any, keys: list[str]) -> list[str]:
        """Claim what is free among ``keys``: new keys and expired leases in one upsert, then
        the leases of owners found gone (one more statement, only when some key is held)."""
        if not keys:
            return []
        m = self.mark
        now, now_params = self._clock()
        values, params = [], []
        for k in keys:
            values.append(f"({m}, {m}, {now} + {m})")
            params += [k, self.owner, *now_params, self.ttl]
        cur.execute(f"INSERT INTO lease (key, owner, expires_at) VALUES {', '.join(values)} "
                    "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, "
                    f"expires_at = excluded.expires_at WHERE lease.expires_at < {now} "
                    "RETURNING key", [*params, *now_params])
        got = [k for (k,) in cur.fetchall()]
        if len(got) == len(keys):
            return got
        rest = sorted(set(keys) - set(got))
        cur.execute(f"SELECT DISTINCT owner FROM lease WHERE key IN ({', '.join([m] * len(rest))})",
                    rest)
        dead = [o for (o,) in cur.fetchall() if o != self.owner and owner_gone(o)]
        if dead:
            cur.execute(f"UPDATE lease SET owner = {m}, expires_at = {now} + {m} "
                        f"WHERE key IN ({', '.join([m] * len(rest))}) "
                        f"AND owner IN ({', '.join([m] * len(dead))}) RETURNING key",
                        [self.owner, *now_params, self.ttl, *rest, *dead])
            got += [k for (k,) in cur.fetchall()]
        return got

    def _results(self, cur: Any, table: str, ok: str, keys: list[str]
                 ) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        cur.execute(f"SELECT * FROM {table} WHERE {ok} AND key IN "
                    f"({', '.join([self.mark] * len(keys))})", keys)
        names = [d[0] for d in cur.description]
        return {row["key"]: row for row in (dict(zip(names, r, strict=True))
                                            for r in cur.fetchall())}

    def _delete(self, cur: Any, keys: list[str]) -> None:
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i:i + CHUNK]
            cur.execute(release_sql(self.engine.dialect.name, len(chunk)), [self.owner, *chunk])

    def renew(self) -> int:
        """Push every lease of this owner ``ttl`` seconds forward (the heartbeat)."""
        def work(cur: Any) -> int:
            now, params = self._clock()
            cur.execute(f"UPDATE lease SET expires_at = {now} + {self.mark} "
                        f"WHERE owner = {self.mark}", [*params, self.ttl, self.owner])
            return int(cur.rowcount or 0)
        return self._transaction(work)  # type: ignore[no-any-return]

    def release(self, keys: Sequence[str] | None = None) -> None:
        """Drop this owner's leases on ``keys`` (all of them when None) without a result."""
        def work(cur: Any) -> None:
            if keys is None:
                cur.execute(f"DELETE FROM lease WHERE owner = {self.mark}", [self.owner])
            else:
                self._delete(cur, sorted(keys))
        self._transaction(work)


def release_sql(dialect: str, n: int) -> str:
    """``DELETE`` of ``n`` of one owner's leases, in DB-API paramstyle (the writer's hot path
    on SQLite uses the raw connection): parameters are the owner, then the keys."""
    mark = "?" if dialect == "sqlite" else "%s"
    return (f"DELETE FROM lease WHERE owner = {mark} AND key IN "
            f"({', '.join([mark] * n)})")
