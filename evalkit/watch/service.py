"""The watcher: poll the sources, place each new checkpoint in its chain, run its plan — one
checkpoint at a time — and tell people.

A pass (``run_once``; ``evalkit watch --once``) polls every source, records what is new, then
evaluates every checkpoint that is due, in chain order: new ones, ones whose retry time has
come, and ones a stopped watcher left half done (their finished steps are kept). A checkpoint
whose evaluation fails (its endpoint down, nothing judged) is retried after a backoff that
doubles from ``retry_base`` to ``retry_max``, ``max_attempts`` times, then marked failed;
the others go on meanwhile. ``run_forever`` repeats passes every ``poll_interval`` seconds
(sooner when a retry is due) until stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ..errors import ConfigError
from . import chain, plan
from .config import WatchConfig
from .evaluation import Evaluator, Outcome
from .sources import make_source
from .state import (
    DONE,
    IGNORED,
    KNOWN,
    PENDING,
    RETRYING,
    RUNNING,
    Watched,
    WatchState,
)
from .template import checkpoint_name

log = logging.getLogger("evalkit.watch")


@dataclass(frozen=True)
class PassReport:
    discovered: tuple[str, ...] = ()
    evaluated: tuple[Outcome, ...] = ()
    waiting: tuple[str, ...] = ()  # folder entries not complete yet
    not_due: tuple[str, ...] = ()  # "NAME (retry in Ns)"
    busy: tuple[str, ...] = ()  # evaluated by another watcher right now
    problems: tuple[str, ...] = ()  # sources that could not be read, checkpoints not placed

    @property
    def ok(self) -> bool:
        return all(o.status == DONE for o in self.evaluated)

    def as_dict(self) -> dict[str, Any]:
        return {"discovered": list(self.discovered),
                "evaluated": [o.as_dict() for o in self.evaluated],
                "waiting": list(self.waiting), "not_due": list(self.not_due),
                "busy": list(self.busy), "problems": list(self.problems)}


class Watcher:
    def __init__(self, config: Any, engine: Engine, *, echo: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.time) -> None:
        if config.watch is None:
            raise ConfigError(f"{config.where}: no [watch] table (see docs/watch.md)")
        from ..claims import lease_ttl

        self.config, self.engine, self.echo, self.clock = config, engine, echo, clock
        self.watch: WatchConfig = config.watch
        plan.pools(config)  # no pool: one line now, not at the first checkpoint
        self.sources = [make_source(s) for s in self.watch.sources]
        self.state = WatchState(engine, ttl=lease_ttl())
        self._said: set[str] = set()  # problems and waiting entries already reported
        self.evaluator = Evaluator(config, engine, self.state, self.say, clock)

    def say(self, line: str) -> None:
        log.info(line)
        self.echo(line)

    # ---- discovery ------------------------------------------------------------------------
    def discover(self) -> tuple[list[str], list[str], list[str]]:
        """Poll every source; record what is new. Returns (new names, waiting, problems)."""
        rows = self.state.rows()
        first_ever = not rows
        new, waiting, problems, taken = [], [], [], set(rows)
        for source in self.sources:
            polled = source.poll(self.clock())
            waiting += [f"{polled.source}: {w}" for w in polled.waiting]
            if polled.problem:
                problems.append(polled.problem)
            for d in polled.found:
                cfg = self.watch.source(d.source)
                try:
                    name = checkpoint_name(self.watch, cfg, d.id, d.path)
                except ConfigError as exc:
                    problems.append(str(exc))
                    continue
                if name in taken:
                    continue
                taken.add(name)
                row = {"name": name, "source": d.source, "external_id": d.id, "path": d.path,
                       "parent": d.parent, "step": None, "status": PENDING}
                if self.watch.chain == "step":
                    row["step"] = chain.step_number(d.id, self.watch.step_pattern)
                    if row["step"] is None:
                        row["status"], row["last_error"] = IGNORED, (
                            f"no step number in '{d.id}' (step_pattern "
                            f"{self.watch.step_pattern!r})")
                        problems.append(f"watch: {name}: {row['last_error']}; not evaluated")
                if first_ever and not self.watch.backfill and row["status"] == PENDING:
                    row["status"] = KNOWN
                new.append(row)
        added = self.state.add(new)
        for row in new:
            if row["name"] in added:
                what = {KNOWN: "known (present at the first poll; backfill = false)",
                        IGNORED: "ignored"}.get(row["status"], "new")
                self.say(f"watch: found {row['name']} ({row['source']}): {what}")
        return added, waiting, problems

    # ---- a pass ---------------------------------------------------------------------------
    def run_once(self) -> PassReport:
        added, waiting, problems = self.discover()
        for line in [*problems, *(f"waiting for {w}" for w in waiting)]:
            if line not in self._said:  # once per process, not at every poll
                self.say(line if line.startswith("watch:") else f"watch: {line}")
        self._said = set(problems) | {f"waiting for {w}" for w in waiting}
        evaluated, not_due, busy = [], [], []
        done: set[str] = set()
        while True:  # statuses change as checkpoints finish: read them again each time
            now = self.clock()
            rows = self.state.rows()
            todo = [r for r in chain.in_order(rows, self.watch.chain)
                    if r.name not in done and self._due(r, now)]
            if not todo:
                break
            row = todo[0]
            done.add(row.name)
            if not self.state.claim(row):
                busy.append(row.name)
                continue
            evaluated.append(self.evaluator.evaluate(row))
        now = self.clock()
        for r in self.state.rows().values():
            if r.status == RETRYING and r.name not in done and r.next_attempt_at is not None:
                not_due.append(f"{r.name} (retry in {max(0.0, r.next_attempt_at - now):.1f}s)")
        return PassReport(tuple(added), tuple(evaluated), tuple(waiting), tuple(not_due),
                          tuple(busy), tuple(problems))

    def _due(self, row: Watched, now: float) -> bool:
        if row.status == PENDING:
            return True
        if row.status == RETRYING:
            return row.next_attempt_at is None or row.next_attempt_at <= now
        if row.status == RUNNING:  # left by a watcher that stopped (or is it still working?)
            return not row.held_by_other(self.state.owner, time.time())
        return False

    def run_forever(self, stop: threading.Event | None = None,
                    max_passes: int | None = None) -> None:
        stop = stop or threading.Event()
        passes = 0
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # e.g. the store unreachable for a while: next poll
                self.say(f"watch: this pass stopped: {type(exc).__name__}: {exc}; trying "
                         f"again in {self.watch.poll_interval:g}s")
            passes += 1
            if max_passes is not None and passes >= max_passes:
                return
            stop.wait(self._wait())

    def _wait(self) -> float:
        """Until the next poll, or the next retry when that comes sooner."""
        wait = self.watch.poll_interval
        now = self.clock()
        for r in self.state.rows().values():
            if r.status == RETRYING and r.next_attempt_at is not None:
                wait = min(wait, max(0.05, r.next_attempt_at - now))
        return wait
