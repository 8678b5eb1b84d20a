"""``evalkit gate`` and ``evalkit baseline``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import (
    ConfigOpt,
    DbOpt,
    JsonOpt,
    _check_output_file,
    _config,
    _engine,
    _print_json,
    _store_url,
)

app = typer.Typer()


@app.command()
def gate(
    candidate: Annotated[str, typer.Argument(help="the checkpoint to let through or block")],
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="default: [gate] baseline ('promoted')")] = None,
    pool: Annotated[str | None, typer.Option("--pool", "-p")] = None,
    judge: Annotated[str | None, typer.Option("--judge", "-j")] = None,
    policy_file: Annotated[Path | None, typer.Option(
        "--policy", help="a TOML file with a [gate] table (default: evalkit.toml's)")] = None,
    max_judgments: Annotated[int | None, typer.Option(
        "--max-judgments", min=1, help="cap on judge calls (the first prompts of the pool)")
                                     ] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="write the Markdown "
                                                  "summary here (also $GITHUB_STEP_SUMMARY)")
                        ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="write JUnit XML here")] = None,
    sequential: Annotated[bool, typer.Option(
        "--sequential", help="judge in looks, in a seeded random order, and stop as soon as "
        "the decision is clear (docs/sequential-gate.md)")] = False,
    seed: Annotated[int, typer.Option(min=0, help="seed of the bootstrap and of the "
                                      "sequential order")] = 0,
    exclude_contaminated: Annotated[str | None, typer.Option(
        "--exclude-contaminated", help="leave out the prompts not clean in the stored "
        "contamination scan of the pool against CORPUS (name, id or path)")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Block regressions in CI: exit 0 pass, 1 regression, 2 inconclusive or error."""
    from dataclasses import replace

    from ..gate.policy import load_gate_policy
    from ..gate.reports import markdown as render_markdown
    from ..gate.run import run_gate, write_reports

    _check_output_file(markdown, "--markdown")
    _check_output_file(junit, "--junit")
    cfg = _config(config)
    cfg = replace(cfg, store_url=_store_url(db, cfg))
    policy = load_gate_policy(cfg.path, str(policy_file)) if policy_file else cfg.gate
    report = run_gate(cfg, candidate, policy=policy, baseline=baseline, pool=pool, judge=judge,
                      max_judgments=max_judgments, seed=seed, sequential=sequential,
                      progress=not as_json and sys.stderr.isatty(),
                      exclude_contaminated=exclude_contaminated)
    write_reports(report, markdown_path=str(markdown) if markdown else None,
                  junit_path=str(junit) if junit else None)
    for group in report.get("failures") or []:  # why requests failed, for people
        sys.stderr.write(f"evalkit: {group['message']}\n")
    if as_json:
        _print_json(report)
    else:
        typer.echo(render_markdown(report))
    raise typer.Exit(report["exit_code"])


baseline_app = typer.Typer(no_args_is_help=True, help="The promoted baseline the gate "
                           "compares against.")


@baseline_app.command("promote")
def baseline_promote(
    checkpoint: Annotated[str, typer.Argument()],
    pool: Annotated[str | None, typer.Option("--pool", "-p", help="only for this pool "
                                             "(default: every pool)")] = None,
    reason: Annotated[str | None, typer.Option("--reason", "-m", help="why")] = None,
    who: Annotated[str | None, typer.Option("--who", help="default: $GITHUB_ACTOR or the "
                                            "user")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Record CHECKPOINT as the reference the gate compares against (with who/when/why)."""
    import getpass
    import os

    from ..store.queries import promote

    who = who or os.environ.get("GITHUB_ACTOR") or getpass.getuser()
    row = promote(_engine(db, config), checkpoint, pool, who, reason)
    info = {"checkpoint": row.checkpoint, "pool": row.pool, "who": row.who, "why": row.why,
            "at": str(row.created_at)}
    if as_json:
        _print_json(info)
    else:
        typer.echo(f"promoted {checkpoint} as the baseline"
                   + (f" for pool {pool}" if pool else "") + f" ({who}, {info['at'][:19]})")


@baseline_app.command("show")
def baseline_show(
    pool: Annotated[str | None, typer.Option("--pool", "-p")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """The current promoted baseline and its history."""
    from ..store.queries import promotions

    rows = [{"checkpoint": r.checkpoint, "pool": r.pool, "who": r.who, "why": r.why,
             "at": str(r.created_at)} for r in promotions(_engine(db, config, create=False), pool)]
    if as_json:
        _print_json({"current": rows[0] if rows else None, "history": rows})
        return
    if not rows:
        typer.echo("no promoted baseline yet; run `evalkit baseline promote CHECKPOINT`")
        return
    for i, r in enumerate(rows):
        mark = "current " if i == 0 else "        "
        typer.echo(f"{mark}{r['checkpoint']:<24} pool={r['pool'] or '*':<16} {r['at'][:19]} "
                   f"{r['who']}" + (f" — {r['why']}" if r["why"] else ""))


