"""``evalkit grade``: single-answer grading of one checkpoint (the mean score per tag), or of
two (each one's, and the paired score difference) — docs/judging-modes.md."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from .common import ConfigOpt, DbOpt, JsonOpt, _config, _console, _print_json, _store_url

app = typer.Typer()


def _failure_lines(summary: dict[str, Any]) -> None:
    groups = summary.get("failures") or []
    if groups:
        sys.stderr.write(f"evalkit: {summary['checkpoint']}: some requests failed (left out, "
                         "never counted; asked again by the next run):\n")
        for g in groups:
            sys.stderr.write(f"  {g['message']}\n")


@app.command()
def grade(
    checkpoints: Annotated[list[str], typer.Argument(
        help="CHECKPOINT, or BASELINE CANDIDATE for the paired score difference",
        show_default=False)],
    grader: Annotated[str, typer.Option("--grader", "-g", help="a [graders.NAME] in "
                                        "evalkit.toml")],
    pool: Annotated[str | None, typer.Option("--pool", "-p", help="pool name")] = None,
    pool_version: Annotated[str | None, typer.Option("--pool-version")] = None,
    samples: Annotated[int, typer.Option(min=1, help="samples per prompt")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N prompts")] = None,
    turns: Annotated[str | None, typer.Option(
        "--turns", help="multi-turn prompts: 'self' (each checkpoint answers every user turn "
        "after its own earlier answers) or 'pool'; default: [pools.NAME] turns, else 'pool'"
    )] = None,
    seed: Annotated[int, typer.Option(min=0, help="seed of the paired bootstrap")] = 0,
    no_preflight: Annotated[bool, typer.Option("--no-preflight", help="skip the check of the "
                                               "endpoints still needed")] = False,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Grade every response of a checkpoint on an absolute scale (a rubric template): the mean
    score overall and per tag with prompt-clustered CIs. With two checkpoints, also the paired
    difference (candidate minus baseline) with a CI and a paired test. Exit 3 when nothing
    could be graded."""
    from dataclasses import replace

    from ..errors import ConfigError
    from ..failures import EXIT_NOTHING_JUDGED

    cfg = _config(config)
    cfg = replace(cfg, store_url=_store_url(db, cfg))
    pool = pool or cfg.defaults.pool
    if not pool:
        raise ConfigError("no pool given; pass --pool NAME or set [defaults] pool")
    if len(checkpoints) not in (1, 2):
        raise ConfigError("give CHECKPOINT, or BASELINE CANDIDATE")
    cfg.grader(grader)  # an unknown grader fails before anything runs
    from ..grading.runs import GradeOptions, grade_checkpoint
    from ..store import make_engine

    engine = make_engine(cfg.store_url)
    options = GradeOptions(samples=samples, limit=limit, turns=turns,
                           preflight=not no_preflight)
    summaries = [grade_checkpoint(cfg, name, pool=pool, grader=grader,
                                  pool_version=pool_version, options=options, engine=engine)
                 for name in checkpoints]
    for s in summaries:
        _failure_lines(s)
    nothing = any(s["grade_run_id"] is None for s in summaries)
    diff = None
    if len(summaries) == 2 and not nothing:
        from ..grading.paired import grade_difference

        diff = grade_difference(engine, pool, grader, checkpoints[0], checkpoints[1],
                                level=options.ci_level, seed=seed)
    if as_json:
        _print_json(summaries[0] if len(summaries) == 1 else
                    {"baseline": summaries[0], "candidate": summaries[1], "difference": diff})
    else:
        from ..report_modes import difference_lines, grade_table

        console = _console()
        for s in summaries:
            if s["grade_run_id"] is not None:
                console.print(grade_table(s))
        if diff is not None:
            for line in difference_lines(diff):
                console.print(line, highlight=False, markup=False)
        console.print("mean: of per-prompt mean scores; CI: t-interval over prompts; invalid "
                      "scores (unreadable, after one re-ask) and failed requests are excluded, "
                      "never coerced", style="dim", highlight=False)
    if nothing:
        sys.stderr.write("evalkit: nothing could be graded for "
                         + ", ".join(s["checkpoint"] for s in summaries
                                     if s["grade_run_id"] is None)
                         + "; no grade run stored\n")
        raise typer.Exit(EXIT_NOTHING_JUDGED)
