"""What the watcher discovered and how far each evaluation got, kept in the store
(``WatchedCheckpoint``) so a restarted watcher finishes what a stopped one began.

A row is evaluated by one watcher at a time: ``claim`` sets ``owner`` (``host:pid:start:run``,
as request leases) with an expiry a heartbeat keeps pushing forward; a row whose owner is a
process gone from this host, or whose lease expired, can be claimed by another watcher.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from ..store.leases import new_owner, owner_gone
from ..store.models import WatchedCheckpoint, utcnow

T = WatchedCheckpoint.__table__  # type: ignore[attr-defined]

# statuses
PENDING, RUNNING, RETRYING, DONE, FAILED = "pending", "running", "retrying", "done", "failed"
KNOWN, IGNORED = "known", "ignored"  # present before the first poll (no backfill); unplaceable
USABLE = (DONE, KNOWN)  # may serve as a later checkpoint's previous


@dataclass(frozen=True)
class Planned:
    """The baselines fixed when a checkpoint's plan first started (kept across restarts)."""

    previous: str | None
    promoted: dict[str, str | None]  # pool -> the promoted baseline then (None: none yet)
    notes: tuple[str, ...] = ()

    def as_json(self) -> str:
        return json.dumps({"previous": self.previous, "promoted": self.promoted,
                           "notes": list(self.notes)})

    @classmethod
    def from_json(cls, raw: str | None) -> Planned | None:
        if not raw:
            return None
        data = json.loads(raw)
        return cls(data["previous"], data["promoted"], tuple(data.get("notes", ())))


@dataclass(frozen=True)
class Watched:
    name: str
    source: str
    external_id: str
    path: str | None
    parent: str | None
    step: int | None
    seq: int
    status: str
    planned: Planned | None
    steps: dict[str, dict[str, Any]]
    attempts: int = 0
    next_attempt_at: float | None = None
    last_error: str | None = None
    owner: str | None = None
    owner_expires: float | None = None
    summary: str | None = None
    decision: str | None = None
    discovered_at: datetime | None = field(default=None, compare=False)

    @classmethod
    def from_row(cls, r: Any) -> Watched:
        return cls(name=r.name, source=r.source, external_id=r.external_id, path=r.path,
                   parent=r.parent, step=r.step, seq=r.seq, status=r.status,
                   planned=Planned.from_json(r.plan_json), steps=json.loads(r.steps_json),
                   attempts=r.attempts, next_attempt_at=r.next_attempt_at,
                   last_error=r.last_error, owner=r.owner, owner_expires=r.owner_expires,
                   summary=r.summary, decision=r.decision, discovered_at=r.discovered_at)

    def held_by_other(self, me: str, now: float) -> bool:
        """True while another live watcher evaluates this row."""
        if self.owner is None or self.owner == me:
            return False
        expired = self.owner_expires is not None and self.owner_expires < now
        return not (expired or owner_gone(self.owner))


class WatchState:
    """The ``watchedcheckpoint`` rows of one store, and this watcher's claims on them."""

    def __init__(self, engine: Engine, ttl: float = 60.0) -> None:
        self.engine, self.ttl = engine, ttl
        self.owner = str(new_owner())

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction that reads, then writes: ``BEGIN IMMEDIATE`` on SQLite (a deferred
        one would fail at once, not wait, when another process writes meanwhile)."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    # ---- reading --------------------------------------------------------------------------
    def rows(self) -> dict[str, Watched]:
        with self.engine.connect() as conn:
            found = conn.execute(select(T).order_by(T.c.seq, T.c.name)).all()
        return {r.name: Watched.from_row(r) for r in found}

    def get(self, name: str) -> Watched | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(T).where(T.c.name == name)).first()
        return None if r is None else Watched.from_row(r)

    # ---- discovery ------------------------------------------------------------------------
    def add(self, new: list[dict[str, Any]]) -> list[str]:
        """Insert newly discovered rows (``name``, ``source``, ``external_id``, ``path``,
        ``parent``, ``step``, ``status``) in this order; a name already there is left alone
        (another watcher found it first). Returns the names added."""
        added = []
        with self._write() as conn:
            seq = conn.execute(select(func.max(T.c.seq))).scalar() or 0
            for row in new:
                if conn.execute(select(T.c.name).where(T.c.name == row["name"])).first():
                    continue
                seq += 1
                now = utcnow()
                conn.execute(T.insert().values(**row, seq=seq, steps_json="{}", attempts=0,
                                               discovered_at=now, updated_at=now))
                added.append(row["name"])
        return added

    # ---- claims ---------------------------------------------------------------------------
    def claim(self, row: Watched) -> bool:
        """Take ``row`` for this watcher unless a live one holds it (compare-and-set on the
        owner this watcher read)."""
        now = time.time()
        if row.held_by_other(self.owner, now):
            return False
        seen = T.c.owner.is_(None) if row.owner is None else T.c.owner == row.owner
        with self.engine.begin() as conn:
            done = conn.execute(update(T).where(and_(T.c.name == row.name, seen)).values(
                owner=self.owner, owner_expires=now + self.ttl, status=RUNNING,
                updated_at=utcnow()))
        return done.rowcount == 1

    def renew(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(T).where(and_(T.c.name == name, T.c.owner == self.owner))
                         .values(owner_expires=time.time() + self.ttl))

    def release(self, name: str, **values: Any) -> None:
        """Give ``name`` up, writing ``values`` (status, summary …) in the same statement."""
        self._set(name, owner=None, owner_expires=None, **values)

    # ---- progress -------------------------------------------------------------------------
    def set_planned(self, name: str, planned: Planned) -> None:
        self._set(name, plan_json=planned.as_json())

    def set_step(self, name: str, step: str, record: dict[str, Any]) -> None:
        """Record one step's outcome (read-modify-write under this watcher's claim)."""
        row = self.get(name)
        steps = dict(row.steps) if row else {}
        steps[step] = {**record, "at": utcnow().isoformat(timespec="seconds")}
        self._set(name, steps_json=json.dumps(steps, default=str))

    def reset_failed(self, names: list[str] | None = None) -> list[str]:
        """``--retry-failed``: failed rows (all, or ``names``) become pending again, with
        their attempts counted from zero; steps done stay done."""
        cond = T.c.status == FAILED
        if names:
            cond = and_(cond, T.c.name.in_(names))
        with self._write() as conn:
            found = conn.execute(select(T.c.name, T.c.steps_json).where(cond)).all()
            for name, raw in found:
                kept = {k: v for k, v in json.loads(raw).items()
                        if v.get("status") in ("done", "skipped")}
                conn.execute(update(T).where(T.c.name == name).values(
                    status=PENDING, attempts=0, next_attempt_at=None,
                    steps_json=json.dumps(kept), updated_at=utcnow()))
        return [name for name, _ in found]

    def _set(self, name: str, **values: Any) -> None:
        mine = or_(T.c.owner == self.owner, T.c.owner.is_(None))
        with self.engine.begin() as conn:
            conn.execute(update(T).where(and_(T.c.name == name, mine))
                         .values(**values, updated_at=utcnow()))
