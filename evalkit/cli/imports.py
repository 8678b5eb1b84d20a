"""``evalkit import alpaca-eval | arena-hard | mt-bench``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .common import ConfigOpt, DbOpt, JsonOpt, _engine, _print_json

import_app = typer.Typer(no_args_is_help=True, help="Bring existing results into the store: "
                         "AlpacaEval, Arena-Hard, MT-Bench.")


def _store_import(bundle: Any, db: str | None, config: Path | None, as_json: bool,
                  turns: Any = None) -> None:
    from ..importing import store_bundle

    engine = _engine(db, config)
    info = store_bundle(engine, bundle)
    if turns is not None:  # MT-Bench's whole conversations (importing_turns.py)
        from ..importing_turns import store_turns

        info["turns"] = store_turns(engine, turns)
    if as_json:
        _print_json(info)
        return
    typer.echo(f"imported {info['source']} into pool {info['pool']}@{info['pool_version']}: "
               f"{info['prompts']} prompts, {len(info['models'])} models, "
               f"{info['judgments']} judgments (import id {info['import_id']})")
    for c in info["comparisons"]:
        rate = "—" if c["win_rate"] is None else f"{c['win_rate']:.3f}"
        typer.echo(f"  comparison {c['comparison_id']}: {c['candidate']} vs {c['baseline']} "
                   f"({c['judge']}): win rate {rate} over {c['n']} prompts")
    t = info.get("turns")
    if t is not None:
        typer.echo(f"whole conversations into pool {t['pool']}@{t['pool_version']} (answered "
                   f"turn by turn): {t['prompts']} prompts, {len(t['models'])} models, "
                   f"{t['judgments']} multi-turn judgments")
        for c in t["comparisons"]:
            rate = "—" if c["win_rate"] is None else f"{c['win_rate']:.3f}"
            typer.echo(f"  comparison {c['comparison_id']}: {c['candidate']} vs "
                       f"{c['baseline']} ({c['judge']}, all turns): win rate {rate} over "
                       f"{c['n']} prompts")
        for why, n in t["skipped"].items():
            typer.echo(f"  left out: {n} {why}")


@import_app.command("alpaca-eval")
def import_alpaca_eval(
    outputs: Annotated[list[Path], typer.Option("--outputs", help="model_outputs.json "
                                                "(repeatable)")],
    annotations: Annotated[Path | None, typer.Option("--annotations")] = None,
    pool: Annotated[str, typer.Option("--pool")] = "alpaca_eval",
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """AlpacaEval model_outputs.json files and annotations.json (soft preferences kept)."""
    from ..importers.alpaca_eval import read_alpaca_eval

    _store_import(read_alpaca_eval(outputs, annotations, pool_name=pool), db, config, as_json)


@import_app.command("arena-hard")
def import_arena_hard(
    questions: Annotated[Path, typer.Option("--questions", help="question.jsonl")],
    answers: Annotated[list[Path], typer.Option("--answers", help="model_answer/*.jsonl")],
    judgments: Annotated[list[Path] | None, typer.Option("--judgments",
                                                         help="model_judgment/*.jsonl")] = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="the judgments' baseline model, for files that do not name it "
        "(v0.1 used gpt-4-0314)")] = None,
    pool: Annotated[str, typer.Option("--pool")] = "arena_hard",
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Arena-Hard questions, model answers and (optionally) pairwise judgments."""
    from ..importers.arena_hard import read_arena_hard

    bundle = read_arena_hard(questions, answers, judgments or [], baseline=baseline,
                             pool_name=pool)
    _store_import(bundle, db, config, as_json)


@import_app.command("mt-bench")
def import_mt_bench(
    questions: Annotated[Path, typer.Option("--questions", help="question.jsonl")],
    answers: Annotated[list[Path], typer.Option("--answers", help="model_answer/*.jsonl")],
    judgments: Annotated[list[Path] | None, typer.Option("--judgments",
                                                         help="model_judgment/*_pair.jsonl")
                         ] = None,
    references: Annotated[Path | None, typer.Option("--references")] = None,
    pool: Annotated[str, typer.Option("--pool")] = "mt_bench",
    turns_pool: Annotated[str | None, typer.Option(
        "--turns-pool", help="pool for the whole conversations (default: POOL_turns); "
        "'' skips them")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """MT-Bench questions, model answers and pairwise judgments: turn 1 into POOL, and the
    whole conversations with the multi-turn judgments into POOL_turns (answered turn by
    turn, each model after its own earlier answers)."""
    from ..importers.mt_bench import read_mt_bench
    from ..importers.mt_bench_turns import turns_bundle

    bundle = read_mt_bench(questions, answers, judgments or [], references, pool_name=pool)
    name = f"{pool}_turns" if turns_pool is None else turns_pool
    _store_import(bundle, db, config, as_json, turns_bundle(bundle, name) if name else None)


