"""``evalkit compare``, ``show``, ``comparisons``, ``leaderboard``, ``judge-eval``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import ConfigOpt, DbOpt, JsonOpt, _config, _console, _engine, _print_json, _store_url

app = typer.Typer()
MIN_N_BOOT = 100  # fewer resamples give intervals too coarse to report


@app.command()
def compare(
    checkpoints: Annotated[list[str], typer.Argument(
        help="BASELINE CANDIDATE, or just CANDIDATE with --against", show_default=False)],
    against: Annotated[str | None, typer.Option(
        "--against", help="with one checkpoint: 'baseline' (the promoted one), 'previous' "
        "(the last candidate compared in the pool) or a checkpoint name")] = None,
    pool: Annotated[str | None, typer.Option("--pool", "-p", help="pool name")] = None,
    judge: Annotated[str | None, typer.Option("--judge", "-j", help="judge name")] = None,
    pool_version: Annotated[str | None, typer.Option("--pool-version")] = None,
    samples: Annotated[int, typer.Option(min=1, help="samples per prompt and checkpoint")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N prompts")] = None,
    seed: Annotated[int, typer.Option(min=0, help="seed for resampling and, with "
                                        "both_orders = false, for each prompt's judge order")] = 0,
    n_boot: Annotated[int, typer.Option("--n-boot", min=MIN_N_BOOT,
                                        help="accepted for older scripts; no effect: the win-rate "
                                        "CI is analytic (Agresti-Coull at the effective n) "
                                        "and the length-controlled CI sizes its own "
                                        "bootstrap")] = 10_000,
    no_preflight: Annotated[bool, typer.Option(
        "--no-preflight", help="skip the check of every endpoint (GET /models) before the "
        "run")] = False,
    exclude_contaminated: Annotated[str | None, typer.Option(
        "--exclude-contaminated", help="leave out the prompts not clean in the stored "
        "contamination scan of this pool against CORPUS (name, id or path)")] = None,
    turns: Annotated[str | None, typer.Option(
        "--turns", help="multi-turn prompts: 'self' (each checkpoint answers every user turn "
        "after its own earlier answers; needs a multi-turn judge template) or 'pool' (earlier "
        "assistant turns from the pool); default: [pools.NAME] turns, else 'pool'")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Compare CANDIDATE against BASELINE on a pool: generate, judge both orders, report.
    Failed requests are listed by reason; a run where nothing could be judged stores no
    comparison and exits 3."""
    from dataclasses import replace

    from ..errors import ConfigError

    cfg = _config(config)  # a bad config fails before the heavy imports below
    cfg = replace(cfg, store_url=_store_url(db, cfg))
    pool = pool or cfg.defaults.pool
    if not pool:
        raise ConfigError("no pool given; pass --pool NAME or set [defaults] pool")
    early = None
    if len(checkpoints) in (1, 2):  # keys, and is anyone listening: before the store loads
        from ..preflight import check_keys
        from ..reachability import for_compare

        check_keys(cfg, checkpoints, judge)
        early = for_compare(cfg, checkpoints, judge) if not no_preflight else None
    from ..compare import CompareOptions, compare_checkpoints

    if len(checkpoints) == 2 and against is None:
        baseline, candidate = checkpoints
    elif len(checkpoints) == 1 and against is not None:
        from ..gate.run import resolve_baseline
        from ..store import make_engine

        candidate = checkpoints[0]
        baseline = resolve_baseline(make_engine(cfg.store_url), against, pool, candidate)
    else:
        raise ConfigError("give BASELINE CANDIDATE, or CANDIDATE --against "
                          "baseline|previous|NAME")
    options = CompareOptions(samples=samples, seed=seed, n_boot=n_boot, limit=limit,
                             progress=not as_json and sys.stderr.isatty(),
                             preflight=not no_preflight, turns=turns)
    if exclude_contaminated:
        from ..contamination.report import pool_exclusion
        from ..store import make_engine

        drop, why = pool_exclusion(make_engine(cfg.store_url), pool, pool_version,
                                   exclude_contaminated)
        options = replace(options, exclude_items=drop, exclude_reason=why)
    shown: list[bool] = []

    def table(summary: dict) -> None:  # the table first, while the refits finish
        _reasons(summary)
        _print_table(summary)
        shown.append(True)

    summary = compare_checkpoints(cfg, baseline, candidate, pool=pool, judge=judge,
                                  pool_version=pool_version, options=options,
                                  on_table=None if as_json else table, early=early)
    from ..failures import EXIT_NOTHING_JUDGED

    if not shown:
        _reasons(summary)
    if as_json:
        _print_json(summary)
    if summary["comparison_id"] is None:
        raise typer.Exit(EXIT_NOTHING_JUDGED)
    if as_json:
        return
    if not shown:
        _print_table(summary)
    from ..report import footer

    _console().print(footer(summary), style="dim", highlight=False)


def _reasons(summary: dict) -> None:
    """The reasons first, for people (stderr)."""
    from ..failures import summary_lines

    for line in summary_lines(summary):
        sys.stderr.write(f"evalkit: {line}\n" if not line.startswith(" ") else line + "\n")


def _print_table(summary: dict) -> None:
    from ..report import summary_table
    from ..report_modes import panel_lines

    console = _console()
    console.print(summary_table(summary))
    for line in panel_lines(summary):
        console.print(line, highlight=False, markup=False)


@app.command()
def show(
    comparison_id: Annotated[str, typer.Argument(help="comparison id (or a prefix)")],
    items: Annotated[bool, typer.Option("--items", help="also list every prompt's outcome "
                                        "and both raw verdicts")] = False,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Print a stored comparison (with --items: per prompt, both orders' verdicts)."""
    from ..errors import ConfigError
    from ..report import footer, items_table, summary_table
    from ..store.queries import (
        comparison_ids_with_prefix,
        comparison_item_verdicts,
        get_comparison,
    )

    engine = _engine(db, config, create=False)
    row = get_comparison(engine, comparison_id) if comparison_id else None
    if row is None:
        found = comparison_ids_with_prefix(engine, comparison_id, limit=11)
        if len(found) > 1:
            more = ", …" if len(found) > 10 else ""
            raise ConfigError(f"comparison id '{comparison_id}' is ambiguous: matches "
                              f"{', '.join(found[:10])}{more}; give more characters")
        raise ConfigError(f"no comparison '{comparison_id}' in the store (see `evalkit "
                          "comparisons`)")
    summary = json.loads(row["summary_json"])
    rows = comparison_item_verdicts(engine, row["id"]) if items else None
    if as_json:
        _print_json({**summary, "items": rows} if items else summary)
        return
    from ..failures import summary_lines

    console = _console()
    for line in summary_lines(summary):
        console.print(line, highlight=False, markup=False)
    console.print(summary_table(summary))
    from ..report_modes import panel_lines

    for line in panel_lines(summary):
        console.print(line, highlight=False, markup=False)
    console.print(footer(summary), style="dim", highlight=False)
    if rows is not None:
        console.print(items_table(rows))


@app.command("comparisons")
def comparisons(
    pool: Annotated[str | None, typer.Option("--pool", "-p")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """List stored comparisons."""
    from ..store.queries import list_comparisons

    rows = list_comparisons(_engine(db, config, create=False), pool)
    out = []
    for r in rows:
        o = json.loads(r["summary_json"])["overall"]
        out.append({"id": r["id"], "created_at": str(r["created_at"]), "pool": r["pool"],
                    "pool_version": r["pool_version"], "baseline": r["baseline"],
                    "candidate": r["candidate"], "judge": r["judge"], "n": o["n"],
                    "win_rate": o["win_rate"], "ci": o["ci"]})
    if as_json:
        _print_json(out)
        return
    from rich.table import Table

    table = Table("id", "created", "pool", "baseline", "candidate", "judge", "n", "win rate",
                  "95% CI")
    for r in out:
        rate = "—" if r["win_rate"] is None else f"{r['win_rate']:.3f}"
        ci = "—" if r["ci"] is None else f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
        table.add_row(r["id"], r["created_at"][:19], f"{r['pool']}@{r['pool_version'][:8]}",
                      r["baseline"], r["candidate"], r["judge"], str(r["n"]), rate, ci)
    _console().print(table)


@app.command()
def leaderboard(
    pool: Annotated[str | None, typer.Option("--pool", "-p", help="pool name")] = None,
    judge: Annotated[str | None, typer.Option("--judge", "-j")] = None,
    anchor: Annotated[str | None, typer.Option(help="checkpoint fixed at 1000")] = None,
    rounds: Annotated[int, typer.Option(min=1, help="bootstrap rounds")] = 200,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    style_control: Annotated[bool, typer.Option(
        "--style-control", help="also fit the ratings jointly with standardised style "
        "covariates (length, markdown headers, lists, bold): both ratings side by side and "
        "what the judge pays for style")] = False,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Bradley–Terry ratings of every checkpoint compared on a pool, with CIs and ranks."""
    from ..errors import ConfigError
    from ..leaderboard import build_leaderboard

    cfg = _config(config)
    pool = pool or cfg.defaults.pool
    if not pool:
        raise ConfigError("no pool given; pass --pool NAME or set [defaults] pool")
    board = build_leaderboard(_engine(db, config, create=False), pool, judge, rounds=rounds, seed=seed,
                              anchor=anchor, style_control=style_control)
    if as_json:
        _print_json(board)
        return
    from ..report import leaderboard_tables

    console = _console()
    for table in leaderboard_tables(board):
        console.print(table)
    console.print(board["method"], style="dim", highlight=False)
    if style_control:
        from ..report_modes import style_tables

        for table in style_tables(board):
            console.print(table)
        console.print(board["style_control"]["method"], style="dim", highlight=False)


@app.command("judge-eval")
def judge_eval(
    judge: Annotated[str, typer.Argument(help="judge name from evalkit.toml")],
    labels: Annotated[Path, typer.Option("--labels", help="LLMBar-style JSON/JSONL: input, "
                                         "output_1, output_2, label (1 or 2)")],
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Run a judge on human-labelled pairs in both orders: accuracy, kappa, flip rate, bias."""
    from dataclasses import replace

    from ..judge_eval import run_judge_eval
    from ..store import make_engine

    cfg = _config(config)
    cfg = replace(cfg, store_url=_store_url(db, cfg))
    result = run_judge_eval(make_engine(cfg.store_url), cfg, judge, str(labels),
                            progress=not as_json and sys.stderr.isatty())
    if as_json:
        _print_json(result)
        return
    from ..report import judge_eval_lines

    for line in judge_eval_lines(result):
        typer.echo(line)


