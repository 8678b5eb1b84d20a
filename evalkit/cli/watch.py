"""``evalkit watch``: evaluate every new checkpoint automatically (docs/watch.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .common import ConfigOpt, DbOpt, JsonOpt, _config, _print_json, _store_url

app = typer.Typer()
EXIT_NOT_ALL_EVALUATED = 3


@app.command()
def watch(
    once: Annotated[bool, typer.Option(
        "--once", help="one pass (poll, evaluate what is due) and exit: for cron or CI")] = False,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="first make the checkpoints marked failed pending again (steps "
        "already done are kept)")] = False,
    status: Annotated[bool, typer.Option(
        "--status", help="list the watched checkpoints and their state, then exit")] = False,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Watch the sources of the watch table for new checkpoints; compare each with the
    previous checkpoint of its chain and the promoted baseline, run the gate, report. --once
    exits 0 when every checkpoint it took was evaluated, 3 when one failed or waits for a
    retry."""
    from dataclasses import replace

    from ..errors import ConfigError

    cfg = _config(config)  # a bad config fails before the heavy imports below
    if cfg.watch is None:
        raise ConfigError(f"{cfg.where}: no [watch] table; add [watch.sources.NAME] (see "
                          "docs/watch.md)")
    cfg = replace(cfg, store_url=_store_url(db, cfg))
    from ..store import make_engine

    engine = make_engine(cfg.store_url)
    if status:
        _status(engine, as_json)
        return
    from ..watch.service import Watcher

    def echo(line: str) -> None:
        (sys.stderr if as_json else sys.stdout).write(line + "\n")
        (sys.stderr if as_json else sys.stdout).flush()

    watcher = Watcher(cfg, engine, echo=echo)
    if retry_failed:
        for name in watcher.state.reset_failed():
            echo(f"watch: {name}: pending again (--retry-failed)")
    if not once:
        echo(f"watch: polling {len(watcher.sources)} source(s) every "
             f"{cfg.watch.poll_interval:g}s; Ctrl-C stops (a checkpoint half done is finished "
             "by the next start)")
        watcher.run_forever()
        return
    report = watcher.run_once()
    for line in report.not_due:
        echo(f"watch: {line}")
    if as_json:
        _print_json(report.as_dict())
    if not report.ok:
        raise typer.Exit(EXIT_NOT_ALL_EVALUATED)


def _status(engine: object, as_json: bool) -> None:
    from ..watch.state import WatchState

    rows = WatchState(engine).rows()  # type: ignore[arg-type]
    out = [{"checkpoint": r.name, "source": r.source, "id": r.external_id, "status": r.status,
            "previous": r.planned.previous if r.planned else None, "attempts": r.attempts,
            "decision": r.decision, "error": r.last_error, "summary": r.summary}
           for r in rows.values()]
    if as_json:
        _print_json(out)
        return
    if not out:
        typer.echo("no checkpoint watched yet")
    for r in out:
        typer.echo(f"{r['checkpoint']:<24} {r['status']:<9} previous={r['previous'] or '—':<16} "
                   f"gate={r['decision'] or '—'}" + (f"  {r['error']}" if r["error"] else ""))
