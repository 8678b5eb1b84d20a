"""``evalkit score``, ``evalkit rm-eval``, ``evalkit rm-vs-judge``: reward models
(docs/reward-models.md). ``evalkit compare A B --judge rm:NAME`` uses a reward model as the
judge. Everything heavy (torch, transformers, the statistics, the store) is imported inside
the commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import ConfigOpt, DbOpt, JsonOpt, _config, _console, _print_json, _store_url

app = typer.Typer()
RmOpt = Annotated[str, typer.Option("--rm", help="a reward model: [reward_models.NAME] in "
                                    "evalkit.toml")]


def _setup(config: Path | None, db: str | None) -> tuple[Any, Any]:
    from dataclasses import replace

    from ..store import make_engine

    cfg = _config(config)
    cfg = replace(cfg, store_url=_store_url(db, cfg))
    return cfg, make_engine(cfg.store_url)


def _pool(cfg: Any, pool: str | None) -> str:
    from ..errors import ConfigError

    pool = pool or cfg.defaults.pool
    if not pool:
        raise ConfigError("no pool given; pass --pool NAME or set [defaults] pool")
    return pool


def _failure_lines(summary: dict[str, Any], what: str) -> None:
    groups = summary.get("failures") or []
    if groups:
        sys.stderr.write(f"evalkit: some requests failed ({what}; left out, never guessed, "
                         "asked again by the next run):\n")
        for g in groups:
            sys.stderr.write(f"  {g['message']}\n")


@app.command()
def score(
    checkpoint: Annotated[str, typer.Argument(help="a checkpoint (configured or imported)")],
    rm: RmOpt,
    pool: Annotated[str | None, typer.Option("--pool", "-p", help="pool name")] = None,
    pool_version: Annotated[str | None, typer.Option("--pool-version")] = None,
    samples: Annotated[int, typer.Option(min=1, help="samples per prompt")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N prompts")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="the reward distribution per "
                                          "tag too (mean with CI, quantiles)")] = False,
    no_preflight: Annotated[bool, typer.Option("--no-preflight", help="skip the check of the "
                                               "checkpoint's endpoint")] = False,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Score every response of CHECKPOINT on a pool with a reward model (generating what is
    missing); cached per (reward model, prompt, response); store the run."""
    cfg = _config(config)
    cfg.reward_model(rm)  # a bad name fails before the heavy imports
    pool_name = _pool(cfg, pool)
    from ..failures import EXIT_NOTHING_JUDGED
    from ..reward.runs import ScoreOptions, score_checkpoint

    cfg, engine = _setup(config, db)
    options = ScoreOptions(samples=samples, limit=limit, preflight=not no_preflight,
                           progress=not as_json and sys.stderr.isatty())
    out = score_checkpoint(cfg, checkpoint, pool=pool_name, reward_model=rm,
                           pool_version=pool_version, options=options, engine=engine)
    _failure_lines(out, "scoring")
    if as_json:
        _print_json(out)
    if out["score_run_id"] is None:
        sys.stderr.write("evalkit: nothing could be scored; no score run was stored\n")
        raise typer.Exit(EXIT_NOTHING_JUDGED)
    if as_json:
        return
    from ..reward.report import distribution_table, score_footer

    console = _console()
    console.print(distribution_table(out, by_tag=summary))
    console.print(score_footer(out), style="dim", highlight=False)


@app.command("rm-eval")
def rm_eval(
    reward_model: Annotated[str, typer.Argument(help="a reward model: [reward_models.NAME]")],
    pairs: Annotated[list[Path], typer.Option("--pairs", help="human preference pairs: "
                                              "HH-RLHF chosen/rejected transcripts, LLMBar "
                                              "input/output_1/output_2/label or prompt/"
                                              "chosen/rejected; JSON or JSONL, .gz allowed; "
                                              "repeatable (one subset per file)")],
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N pairs of each "
                                              "file")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Accuracy of a reward model on human-labelled chosen/rejected pairs, per subset, with
    exact binomial CIs (RewardBench's check); stored for the dashboard."""
    cfg = _config(config)
    cfg.reward_model(reward_model)
    from ..failures import EXIT_NOTHING_JUDGED
    from ..reward.rm_eval import run_rm_eval

    cfg, engine = _setup(config, db)
    out = run_rm_eval(engine, cfg, reward_model, [str(p) for p in pairs], limit=limit,
                      progress=not as_json and sys.stderr.isatty())
    _failure_lines(out, "rm-eval")
    if as_json:
        _print_json(out)
    if out["rm_eval_id"] is None:
        sys.stderr.write("evalkit: no pair could be scored; nothing was stored\n")
        raise typer.Exit(EXIT_NOTHING_JUDGED)
    if as_json:
        return
    from ..reward.report import rm_eval_footer, rm_eval_table

    console = _console()
    console.print(rm_eval_table(out))
    console.print(rm_eval_footer(out), style="dim", highlight=False)


@app.command("rm-vs-judge")
def rm_vs_judge(
    checkpoints: Annotated[list[str], typer.Argument(help="BASELINE CANDIDATE",
                                                     show_default=False)],
    rm: RmOpt,
    judge: Annotated[str, typer.Option("--judge", "-j", help="the LLM judge of the stored "
                                       "comparison")],
    pool: Annotated[str | None, typer.Option("--pool", "-p", help="pool name")] = None,
    pool_version: Annotated[str | None, typer.Option("--pool-version")] = None,
    top: Annotated[int, typer.Option(min=1, help="disagreements to list")] = 20,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Where a reward model and an LLM judge disagree on the same comparison: agreement with
    its CI, Cohen's kappa, and the prompts decided in opposite directions, strongest first."""
    from ..errors import ConfigError

    if len(checkpoints) != 2:
        raise ConfigError("give BASELINE CANDIDATE")
    cfg = _config(config)
    cfg.reward_model(rm)
    pool_name = _pool(cfg, pool)
    from ..reward.disagreement import rm_vs_judge as run

    cfg, engine = _setup(config, db)
    out = run(cfg, engine, checkpoints[0], checkpoints[1], pool=pool_name, reward_model=rm,
              judge=judge, pool_version=pool_version, top=top,
              progress=not as_json and sys.stderr.isatty())
    if as_json:
        _print_json(out)
        return
    from ..reward.report import rm_vs_judge_lines

    for line in rm_vs_judge_lines(out):
        typer.echo(line)
