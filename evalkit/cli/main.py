"""The ``evalkit`` command. Each command parses, calls one library function and prints.

Heavy libraries are imported inside the commands so ``evalkit --help`` stays fast.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import EvalkitError

app = typer.Typer(name="evalkit", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Is the new checkpoint better than the last one? Pairwise LLM-judge "
                       "comparisons with paired bootstrap CIs, stored in SQLite.")
pool_app = typer.Typer(no_args_is_help=True, help="Import, list and inspect prompt pools.")
app.add_typer(pool_app, name="pool")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="evalkit.toml to use "
                                                "(default: ./evalkit.toml if present)")]
DbOpt = Annotated[str | None, typer.Option("--db", help="store: a SQLite file path or any "
                                           "SQLAlchemy URL (overrides [store] url)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]


def _store_url(db: str | None, config: Any) -> str:
    if db is None:
        return config.store_url
    return db if "://" in db else f"sqlite:///{Path(db).resolve()}"


def _config(path: Path | None) -> Any:
    from ..config import load_config

    return load_config(path)


def _engine(db: str | None, config_path: Path | None) -> Any:
    from ..store import make_engine

    return make_engine(_store_url(db, _config(config_path)))


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def _console() -> Any:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    return console


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
    samples: Annotated[int, typer.Option(help="samples per prompt and checkpoint")] = 1,
    limit: Annotated[int | None, typer.Option(help="only the first N prompts")] = None,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    n_boot: Annotated[int, typer.Option("--n-boot", help="bootstrap resamples")] = 10_000,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Compare CANDIDATE against BASELINE on a pool: generate, judge both orders, report."""
    from dataclasses import replace

    from ..compare import CompareOptions, compare_checkpoints
    from ..errors import ConfigError

    cfg = _config(config)
    cfg = replace(cfg, store_url=_store_url(db, cfg))
    pool = pool or cfg.defaults.pool
    if not pool:
        raise ConfigError("no pool given; pass --pool NAME or set [defaults] pool")
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
                             progress=not as_json and sys.stderr.isatty())
    summary = compare_checkpoints(cfg, baseline, candidate, pool=pool, judge=judge,
                                  pool_version=pool_version, options=options)
    if as_json:
        _print_json(summary)
        return
    from ..report import footer, summary_table

    console = _console()
    console.print(summary_table(summary))
    console.print(footer(summary), style="dim", highlight=False)


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
        "--max-judgments", help="cap on judge calls (the first prompts of the pool)")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="write the Markdown "
                                                  "summary here (also $GITHUB_STEP_SUMMARY)")
                        ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="write JUnit XML here")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Block regressions in CI: exit 0 pass, 1 regression, 2 inconclusive or error."""
    from dataclasses import replace

    from ..gate.policy import load_gate_policy
    from ..gate.reports import markdown as render_markdown
    from ..gate.run import run_gate, write_reports

    cfg = _config(config)
    cfg = replace(cfg, store_url=_store_url(db, cfg))
    policy = load_gate_policy(cfg.path, str(policy_file)) if policy_file else cfg.gate
    report = run_gate(cfg, candidate, policy=policy, baseline=baseline, pool=pool, judge=judge,
                      max_judgments=max_judgments, seed=seed,
                      progress=not as_json and sys.stderr.isatty())
    write_reports(report, markdown_path=str(markdown) if markdown else None,
                  junit_path=str(junit) if junit else None)
    if as_json:
        _print_json(report)
    else:
        typer.echo(render_markdown(report))
    raise typer.Exit(report["exit_code"])


baseline_app = typer.Typer(no_args_is_help=True, help="The promoted baseline the gate "
                           "compares against.")
app.add_typer(baseline_app, name="baseline")


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
             "at": str(r.created_at)} for r in promotions(_engine(db, config), pool)]
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


@app.command()
def demo(
    db: Annotated[str, typer.Option("--db", help="SQLite file for the demo store")] = (
        "evalkit-demo.db"),
    as_json: JsonOpt = False,
) -> None:
    """Run the whole pipeline offline against simulated models (no API key needed)."""
    from ..demo import run_demo
    from ..report import footer, summary_table

    summary = run_demo(_store_url(db, None), progress=not as_json and sys.stderr.isatty())
    truth = summary["simulated"]["true_win_rate"]
    lo, hi = summary["overall"]["ci"]
    summary["simulated"]["covered"] = lo <= truth <= hi
    if as_json:
        _print_json(summary)
        return
    console = _console()
    console.print("[bold yellow]SIMULATED MODELS[/]: two scripted checkpoints and a scripted "
                  f"judge served by evalkit.testing on {summary['simulated']['server']}.")
    console.print(summary_table(summary, tags=["category"]))
    console.print(footer(summary), style="dim", highlight=False)
    verdict = "inside" if summary["simulated"]["covered"] else "OUTSIDE"
    console.print(f"\nThe scripted judge prefers {summary['candidate']} with true win rate "
                  f"[bold]{truth:.3f}[/]; it is {verdict} the printed 95% CI "
                  f"[{lo:.3f}, {hi:.3f}].")
    console.print(f"Results are stored in {db}. To compare real models, run "
                  "[bold]evalkit init[/] and point the checkpoints in evalkit.toml at your "
                  "OpenAI-compatible endpoints (vLLM, SGLang, TGI, Ollama, OpenAI), then "
                  "[bold]evalkit compare BASELINE CANDIDATE --pool rlhf_prompts[/].")


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(help="port to serve on")] = 8501,
    host: Annotated[str, typer.Option(help="address to bind; 127.0.0.1 keeps it local")] = (
        "127.0.0.1"),
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Open the Streamlit dashboard on the store (leaderboard, A vs B, samples, trajectory)."""
    from ..dashboard_launch import launch

    url = _store_url(db, _config(config))
    typer.echo(f"evalkit dashboard on http://{host}:{port} (store: {url})")
    raise typer.Exit(launch(url, host=host, port=port))


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="where to write")] = Path("evalkit.toml"),
    force: Annotated[bool, typer.Option("--force", help="overwrite")] = False,
) -> None:
    """Write a commented example evalkit.toml."""
    from ..errors import ConfigError
    from ..init_template import EXAMPLE_CONFIG

    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite")
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    typer.echo(f"wrote {path}")


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
    from ..store.queries import comparison_item_verdicts, get_comparison

    engine = _engine(db, config)
    row = get_comparison(engine, comparison_id)
    if row is None:
        raise ConfigError(f"no comparison '{comparison_id}' in the store")
    summary = json.loads(row["summary_json"])
    rows = comparison_item_verdicts(engine, row["id"]) if items else None
    if as_json:
        _print_json({**summary, "items": rows} if items else summary)
        return
    console = _console()
    console.print(summary_table(summary))
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

    rows = list_comparisons(_engine(db, config), pool)
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
    rounds: Annotated[int, typer.Option(help="bootstrap rounds")] = 200,
    seed: Annotated[int, typer.Option()] = 0,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Bradley–Terry ratings of every checkpoint compared on a pool, with CIs and ranks."""
    from ..errors import ConfigError
    from ..leaderboard import build_leaderboard

    cfg = _config(config)
    pool = pool or cfg.defaults.pool
    if not pool:
        raise ConfigError("no pool given; pass --pool NAME or set [defaults] pool")
    board = build_leaderboard(_engine(db, config), pool, judge, rounds=rounds, seed=seed,
                              anchor=anchor)
    if as_json:
        _print_json(board)
        return
    from ..report import leaderboard_tables

    console = _console()
    for table in leaderboard_tables(board):
        console.print(table)
    console.print(board["method"], style="dim", highlight=False)


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


import_app = typer.Typer(no_args_is_help=True, help="Bring existing results into the store: "
                         "AlpacaEval, Arena-Hard, MT-Bench.")
app.add_typer(import_app, name="import")


def _store_import(bundle: Any, db: str | None, config: Path | None, as_json: bool) -> None:
    from ..importing import store_bundle

    info = store_bundle(_engine(db, config), bundle)
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
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """MT-Bench questions, model answers and pairwise judgments (turn 1)."""
    from ..importers.mt_bench import read_mt_bench

    bundle = read_mt_bench(questions, answers, judgments or [], references, pool_name=pool)
    _store_import(bundle, db, config, as_json)


@pool_app.command("import")
def pool_import(
    name: Annotated[str, typer.Argument(help="pool name")],
    file: Annotated[Path, typer.Argument(help="JSONL, CSV, Parquet or a saved HF dataset")],
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl|csv|parquet|hf")] = None,
    split: Annotated[str | None, typer.Option(help="split of a saved DatasetDict")] = None,
    id_field: Annotated[str, typer.Option("--id-field", help="id column; '' = auto")] = "id",
    prompt_field: Annotated[str, typer.Option("--prompt-field")] = "prompt",
    messages_field: Annotated[str, typer.Option("--messages-field")] = "messages",
    system_field: Annotated[str | None, typer.Option("--system-field")] = None,
    reference_field: Annotated[str, typer.Option("--reference-field")] = "reference",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="column to use as a tag "
                                                  "(repeatable)")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Validate FILE and store it as a new version of pool NAME (all or nothing)."""
    from ..catalog import import_pool
    from ..pools import FieldMap

    mapping = FieldMap(id=id_field or None, prompt=prompt_field, messages=messages_field,
                       system=system_field, reference=reference_field or None,
                       tags=tuple(tag or ()))
    pool, created = import_pool(_engine(db, config), name, file, mapping, fmt=fmt, split=split)
    info = {"name": pool.name, "version": pool.version, "prompts": pool.n_prompts,
            "created": created}
    if as_json:
        _print_json(info)
    else:
        what = "imported" if created else "unchanged (this version is already stored)"
        typer.echo(f"pool {pool.name}@{pool.version}: {pool.n_prompts} prompts, {what}")


@pool_app.command("list")
def pool_list(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List stored pools (every version) and the pools shipped with evalkit."""
    from ..resources import shipped_pools
    from ..store.queries import list_pools

    stored = [{"name": p.name, "version": p.version, "prompts": p.n_prompts,
               "source": p.source, "created_at": str(p.created_at)}
              for p in list_pools(_engine(db, config))]
    shipped = sorted(shipped_pools())
    if as_json:
        _print_json({"stored": stored, "shipped": shipped})
        return
    for p in stored:
        typer.echo(f"{p['name']}@{p['version']}  {p['prompts']} prompts  {p['source']}  "
                   f"{p['created_at'][:19]}")
    typer.echo("shipped: " + ", ".join(shipped))


@pool_app.command("show")
def pool_show(
    name: Annotated[str, typer.Argument()],
    version: Annotated[str | None, typer.Option("--version")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Show a pool: version, size, tag counts and a few prompts."""
    from collections import Counter

    from ..catalog import resolve_pool

    pool, prompts = resolve_pool(_engine(db, config), name, version)
    tags: dict[str, Counter[str]] = {}
    for p in prompts:
        for k, v in p.tags.items():
            tags.setdefault(k, Counter())[v] += 1
    info = {"name": pool.name, "version": pool.version, "prompts": len(prompts),
            "multi_turn": sum(1 for p in prompts if len(p.messages) > 1),
            "with_reference": sum(1 for p in prompts if p.reference),
            "tags": {k: dict(sorted(c.items())) for k, c in sorted(tags.items())}}
    if as_json:
        _print_json(info)
        return
    typer.echo(f"{pool.name}@{pool.version}: {len(prompts)} prompts "
               f"({info['multi_turn']} multi-turn, {info['with_reference']} with reference)")
    for k, counts in info["tags"].items():
        typer.echo(f"  {k}: " + ", ".join(f"{v} ({n})" for v, n in counts.items()))


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: evalkit's own errors print one line and exit 2; an interrupt exits 130."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rc = app(standalone_mode=False)  # typer turns KeyboardInterrupt into exit code 130
    except EvalkitError as exc:
        sys.stderr.write(f"evalkit: error: {exc}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        rc = 130
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.ClickException):  # usage errors
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            rc = 130
        else:
            raise
    if rc == 130:
        sys.stderr.write("evalkit: interrupted; completed work is stored, run again to "
                         "resume\n")
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
