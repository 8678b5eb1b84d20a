"""One checkpoint's evaluation: fix its baselines, run (or finish) its plan, decide what
comes next (done, a retry after a backoff, failed), tell people.

The baselines — the previous checkpoint of the chain and the promoted baseline of every pool —
are fixed when the plan first starts and kept in the store, so a checkpoint finished after a
restart is compared with the same ones. Steps already done are never run again; a step that
fails (an endpoint down, nothing judged) ends the attempt: the rest would meet the same
trouble, and the whole checkpoint is tried again after ``retry_base * 2**(attempt - 1)``
seconds (at most ``retry_max``), ``max_attempts`` times.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..errors import ConfigError, InputError
from . import chain, notify, plan
from .config import WatchConfig
from .state import DONE, FAILED, RETRYING, RUNNING, Planned, Watched, WatchState
from .template import checkpoint_table

log = logging.getLogger("evalkit.watch")


@dataclass(frozen=True)
class Outcome:
    """What one evaluation attempt of a checkpoint ended in."""

    name: str
    status: str  # done | retrying | failed
    previous: str | None
    summary: str
    steps: dict[str, dict[str, Any]]
    decision: str | None = None
    error: str | None = None
    retry_in: float | None = None
    webhook: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.name, "status": self.status, "previous": self.previous,
                "summary": self.summary, "decision": self.decision, "error": self.error,
                "retry_in": self.retry_in, "webhook": self.webhook, "steps": self.steps}


class Evaluator:
    """Evaluates checkpoints this watcher has claimed (``WatchState.claim``)."""

    def __init__(self, config: Any, engine: Engine, state: WatchState,
                 say: Callable[[str], None], clock: Callable[[], float]) -> None:
        self.config, self.engine, self.state, self.say, self.clock = (config, engine, state,
                                                                      say, clock)
        self.watch: WatchConfig = config.watch

    def evaluate(self, row: Watched) -> Outcome:
        """Run (or finish) ``row``'s plan; this watcher holds its claim until it returns."""
        beat = _Heartbeat(self.state, row.name)
        status, planned = RUNNING, row.planned
        steps = dict(row.steps)  # what is done so far, this attempt's steps added as they end
        try:
            if planned is None:
                planned = self._plan(row)
                self.state.set_planned(row.name, planned)
                for note in planned.notes:
                    self.say(f"watch: {row.name}: {note}")
            ctx = plan.Context(self._config_for(row, planned), self.watch, self.engine,
                               row.name, planned)
            errors: list[str] = []
            retry = None
            for step in plan.build(ctx):
                if steps.get(step.id, {}).get("status") in (plan.DONE, plan.SKIPPED):
                    continue  # finished before a restart: never run again
                result = plan.run(ctx, step)
                steps[step.id] = result.record()
                self.state.set_step(row.name, step.id, result.record())
                if result.status == plan.ERROR:
                    errors.append(f"{step.id}: {result.error}")
                elif result.status == plan.FAILED:
                    retry = f"{step.id}: {result.error}"
                    break  # the rest would meet the same trouble; try again later
            outcome = self._finish(row, planned, steps, errors, retry)
            status = outcome.status
            return outcome
        except (ConfigError, InputError) as exc:  # e.g. a template that no longer parses
            outcome = self._finish(row, planned, steps, [str(exc)], None)
            status = outcome.status
            return outcome
        except Exception as exc:  # a bug, or a store that went away: reported, retried
            outcome = self._finish(row, planned, steps, [], f"{type(exc).__name__}: {exc}")
            status = outcome.status
            return outcome
        finally:
            beat.stop()
            if status == RUNNING:  # interrupted: a later watcher resumes it
                self.state.release(row.name)

    def _finish(self, row: Watched, planned: Planned | None, steps: dict[str, Any],
                errors: list[str], retry: str | None) -> Outcome:
        previous = planned.previous if planned else None
        now = self.clock()
        if retry is not None:
            attempts = row.attempts + 1
            if attempts < self.watch.max_attempts:
                delay = min(self.watch.retry_max, self.watch.retry_base * 2 ** (attempts - 1))
                line = (f"watch: {row.name}: attempt {attempts} of {self.watch.max_attempts} "
                        f"failed: {retry}; retry in {delay:g}s")
                self.say(line)
                self.state.release(row.name, status=RETRYING, attempts=attempts,
                                   next_attempt_at=now + delay, last_error=retry,
                                   summary=line)
                return Outcome(row.name, RETRYING, previous, line, steps, error=retry,
                               retry_in=delay)
            errors.append(f"gave up after {attempts} attempts: {retry}")
            row = replace(row, attempts=attempts)
        status = FAILED if errors else DONE
        error = "; ".join(errors) or None
        line = notify.summary_line(row.name, status, steps, previous, error)
        self.say(line)
        report = self._gate_report(steps)
        webhook = None
        if self.watch.webhook:
            body = notify.payload(row.name, status, steps, planned, line, report)
            delivery = notify.post_json(self.watch.webhook, body,
                                        timeout=self.watch.webhook_timeout,
                                        token_env=self.watch.webhook_token_env)
            webhook = delivery.line(self.watch.webhook)
            self.say(f"watch: {row.name}: {webhook}")
        decision = report.get("decision") if report else None
        from ..store.models import utcnow

        self.state.release(row.name, status=status, attempts=row.attempts, last_error=error,
                           next_attempt_at=None, summary=line, decision=decision,
                           finished_at=utcnow())
        return Outcome(row.name, status, previous, line, steps, decision, error,
                       webhook=webhook)

    def _gate_report(self, steps: dict[str, Any]) -> dict[str, Any] | None:
        gate = steps.get("gate") or {}
        gate_id = (gate.get("result") or {}).get("gate_id")
        if gate.get("status") != plan.DONE or not gate_id:
            return None
        from ..store.models import GateRun

        with self.engine.connect() as conn:
            raw = conn.execute(select(GateRun.report_json).where(  # type: ignore[call-overload]
                GateRun.id == gate_id)).scalar()
        return json.loads(raw) if raw else None

    def _plan(self, row: Watched) -> Planned:
        """Fix the baselines when the plan first starts: the previous checkpoint of the
        chain and the promoted baseline of every pool."""
        from ..store import queries

        rows = self.state.rows()
        previous, notes = chain.previous(row, rows, self.watch.chain, self._known)
        promoted: dict[str, str | None] = {}
        for pool in {*plan.pools(self.config), plan.gate_pool(self.config)}:
            history = queries.promotions(self.engine, pool)
            promoted[pool] = history[0].checkpoint if history else None
        return Planned(previous, promoted, tuple(notes))

    def _known(self, name: str) -> bool:
        """A checkpoint the watcher did not discover that a comparison can still use."""
        if name in self.config.checkpoints:
            return True
        from ..store import queries

        return any(s.get("backend") == "imported"
                   for s in queries.spec_backend(self.engine, "checkpoint", name))

    def _config_for(self, row: Watched, planned: Planned) -> Any:
        """The config with the candidate and its watched baselines added as checkpoints."""
        from ..config import parse_checkpoint

        rows = self.state.rows()
        wanted = {row.name, planned.previous, *planned.promoted.values()}
        extra = {}
        for name in sorted(n for n in wanted if n and n in rows
                           and n not in self.config.checkpoints):
            r = rows[name]
            source = self.watch.source(r.source)
            table = checkpoint_table(self.watch, source, r.external_id, r.path)
            extra[name] = parse_checkpoint(name, table, f"{self.config.where}: watch")
        return replace(self.config, checkpoints={**self.config.checkpoints, **extra})


class _Heartbeat:
    """Renews this watcher's claim on a row every ttl/4 seconds while it works on it."""

    def __init__(self, state: WatchState, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(state, name), daemon=True,
                                        name="evalkit-watch-heartbeat")
        self._thread.start()

    def _run(self, state: WatchState, name: str) -> None:
        while not self._stop.wait(state.ttl / 4):
            try:
                state.renew(name)
            except Exception as exc:  # a missed beat only shortens the claim
                log.warning("could not renew the claim on %s: %s", name, exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
