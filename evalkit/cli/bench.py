"""``evalkit bench``: benchmark suites through lm-eval (docs/benchmarks.md).

    evalkit bench CKPT --suite S [--limit N]     (short for ``evalkit bench run``)
    evalkit bench compare A B --suite S
    evalkit bench transfer --suite S --pool P [--chain A,B,C]
    evalkit bench list

lm-eval, ``datasets`` and the statistics are imported inside the commands, so ``evalkit
--help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .common import ConfigOpt, DbOpt, JsonOpt, _config, _print_json, _store_url


class _RunByDefault(TyperGroup):
    """``evalkit bench CKPT …`` is ``evalkit bench run CKPT …`` (a checkpoint named like a
    subcommand needs the explicit ``run``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


bench_app = typer.Typer(cls=_RunByDefault, no_args_is_help=True,
                        help="Benchmark suites through lm-eval: run a suite on a checkpoint "
                        "(evalkit bench CKPT --suite S), compare two checkpoints with paired "
                        "tests, check that benchmark gains transfer.")
SuiteOpt = Annotated[str, typer.Option("--suite", "-s", help="a suite name (suites/NAME, or "
                                       "shipped: offline) or a suite folder")]


def _setup(config: Any, db: str | None) -> tuple[Any, Any]:
    from dataclasses import replace

    from ..store import make_engine

    cfg = _config(config)
    cfg = replace(cfg, store_url=_store_url(db, cfg))
    return cfg, make_engine(cfg.store_url)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


@bench_app.command("run")
def run(
    checkpoint: Annotated[str, typer.Argument(help="a checkpoint in evalkit.toml")],
    suite: SuiteOpt,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N documents of "
                                              "each task")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="only this task "
                                                   "(repeatable)")] = None,
    rescore: Annotated[bool, typer.Option("--rescore", help="run lm-eval again on the stored "
                                          "answers (no request is repeated)")] = False,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Run SUITE on CHECKPOINT through lm-eval; store metrics, standard errors and every
    sample. A rerun reuses what is stored (no request); a stopped run resumes."""
    cfg = _config(config)  # a bad config fails before anything heavy
    from ..bench.suites import load_suite

    loaded = load_suite(suite, cfg.path)
    cfg.checkpoint(checkpoint)
    progress = not as_json and sys.stderr.isatty()
    if not progress:
        os.environ.setdefault("TQDM_DISABLE", "1")
    from ..bench.runner import RunOptions, run_suite

    cfg, engine = _setup(config, db)
    report = run_suite(cfg, checkpoint, loaded,
                       RunOptions(limit=limit, rescore=rescore, tasks=tuple(task or ()),
                                  progress=progress),
                       engine=engine, notify=_say)
    if as_json:
        _print_json(report.as_dict())
        return
    typer.echo(f"{report.checkpoint} on suite {report.suite} (lm-eval "
               f"{report.lm_eval_version}" + (f", first {limit} documents" if limit else "")
               + ")")
    typer.echo(f"{'task':<24} {'metric':<28} {'value':>7} {'stderr':>7}  {'95% CI':<17} "
               f"{'n':>6}  source")
    for r in report.results:
        ci = ("—" if r.value is None or r.stderr is None else
              f"[{r.value - 1.96 * r.stderr:.3f}, {r.value + 1.96 * r.stderr:.3f}]")
        typer.echo(f"{r.task:<24} {r.metric:<28} {_fmt(r.value):>7} {_fmt(r.stderr):>7}  "
                   f"{ci:<17} {r.n:>6}  {'stored' if r.reused else r.mode}")
    for s in report.skipped:
        typer.echo(f"{s.task:<24} skipped: {s.reason}")
    typer.echo(f"requests: {report.requests['sent']} sent, {report.requests['cached']} from "
               f"the store; {report.duration_s:.1f} s")


def _say(line: str) -> None:
    sys.stderr.write(f"evalkit: {line}\n")


@bench_app.command("compare")
def compare(
    baseline: Annotated[str, typer.Argument(help="A, the reference checkpoint")],
    candidate: Annotated[str, typer.Argument(help="B, the new checkpoint")],
    suite: SuiteOpt,
    flips: Annotated[int, typer.Option(min=0, help="flipped documents to list per task")] = 10,
    seed: Annotated[int, typer.Option(min=0, help="bootstrap seed")] = 0,
    n_boot: Annotated[int, typer.Option("--n-boot", min=100, help="bootstrap resamples")
                      ] = 10_000,
    exclude_contaminated: Annotated[str | None, typer.Option(
        "--exclude-contaminated", help="leave out the documents not clean in the stored "
        "contamination scan of the suite against CORPUS (name, id or path)")] = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Per task, B − A on the documents both answered: paired bootstrap CI, exact McNemar
    p-value (0/1 metrics), Holm across tasks, and the documents that flipped."""
    from ..bench.compare import compare_checkpoints

    cfg, engine = _setup(config, db)
    loaded, name = _maybe_suite(suite, cfg.path)
    exclude: frozenset[str] = frozenset()
    if exclude_contaminated:
        from ..contamination.report import exclusion

        exclude = exclusion(engine, name, None, exclude_contaminated)[0]
    result = compare_checkpoints(engine, name, baseline, candidate, suite=loaded,
                                 n_boot=n_boot, seed=seed, exclude=exclude)
    if as_json:
        _print_json(result.as_dict(flips))
        return
    typer.echo(f"{candidate} − {baseline} on suite {name} (paired by document; "
               f"{result.ci_method}, {result.n_boot:,} resamples; Holm across tasks)")
    typer.echo(f"{'task':<24} {'metric':<28} {'n':>5} {'A':>6} {'B':>6} {'B−A':>7}  "
               f"{'95% CI':<18} {'p':>8} {'p_holm':>8}  +/−")
    for t in result.tasks:
        ci = "—" if t.ci is None else f"[{t.ci[0]:+.3f}, {t.ci[1]:+.3f}]"
        typer.echo(f"{t.task:<24} {t.metric:<28} {t.n:>5} {_fmt(t.mean_a):>6} "
                   f"{_fmt(t.mean_b):>6} {_fmt(t.delta, 3) if t.delta is None else f'{t.delta:+.3f}':>7}  "
                   f"{ci:<18} {_fmt(t.p_value, 4):>8} {_fmt(t.p_holm, 4):>8}  "
                   f"{'+' + str(t.gained) + '/−' + str(t.lost) if t.binary else '—'}")
    for t in result.tasks:
        for note in t.notes:
            typer.echo(f"  {t.task}: {note}")
        shown = t.flips[:flips]
        if shown:
            typer.echo(f"  {t.task}: flipped documents ({len(t.flips)}; lost first):")
            for f in shown:
                typer.echo(f"    doc {f.doc_id:<5} {f.change:<6} target {f.target[:40]!r}  "
                           f"A {str(f.response_a)[:40]!r}  B {str(f.response_b)[:40]!r}")
    if result.missing:
        typer.echo(f"not compared (no run of both): {', '.join(result.missing)}")


def _maybe_suite(suite: str, config_path: str | None) -> tuple[Any, str]:
    """The suite from disk when it can be found (its metric settings), else just its name
    (the stored runs say the rest)."""
    from ..bench.suites import load_suite
    from ..errors import ConfigError

    try:
        loaded = load_suite(suite, config_path)
    except ConfigError:
        if "/" in suite or suite.endswith(".toml"):
            raise
        return None, suite
    return loaded, loaded.name


@bench_app.command("transfer")
def transfer(
    suite: SuiteOpt,
    pool: Annotated[str | None, typer.Option("--pool", "-p", help="the held-out pool of the "
                                             "pairwise comparisons")] = None,
    chain: Annotated[str | None, typer.Option(
        "--chain", help="checkpoints in order, comma-separated (default: the longest chain "
        "of comparisons in the pool)")] = None,
    judge: Annotated[str | None, typer.Option("--judge", "-j")] = None,
    seed: Annotated[int, typer.Option(min=0, help="bootstrap seed")] = 0,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Along a chain of checkpoints: each step's benchmark deltas beside its pairwise win
    rate against the previous checkpoint; a benchmark gain without a pairwise gain is
    flagged as possible benchmark overfitting."""
    from ..bench.transfer import transfer as run_transfer
    from ..errors import ConfigError

    cfg, engine = _setup(config, db)
    pool = pool or cfg.defaults.pool
    if not pool:
        raise ConfigError("no pool given; pass --pool NAME or set [defaults] pool")
    loaded, name = _maybe_suite(suite, cfg.path)
    steps = [c.strip() for c in chain.split(",") if c.strip()] if chain else None
    report = run_transfer(engine, name, pool, chain=steps, judge=judge, suite=loaded,
                          seed=seed)
    if as_json:
        _print_json(report.as_dict())
        return
    typer.echo(f"transfer of suite {name} to pool {pool}: {' → '.join(report.chain)}")
    for s in report.steps:
        pw = s.pairwise
        win = ("no comparison" if pw is None else
               f"win rate {pw.win_rate:.3f} [{pw.ci[0]:.3f}, {pw.ci[1]:.3f}] ({pw.direction})")
        typer.echo(f"{s.previous} → {s.checkpoint}: {win}"
                   + (f"  ** {s.flag} **" if s.flag else ""))
        for t in (s.bench.tasks if s.bench else ()):
            ci = "—" if t.ci is None else f"[{t.ci[0]:+.3f}, {t.ci[1]:+.3f}]"
            delta = "—" if t.delta is None else f"{t.delta:+.3f}"
            typer.echo(f"    {t.task:<24} {t.metric:<28} {delta:>7} {ci:<18} "
                       f"p_holm {_fmt(t.p_holm, 4)}")
        if s.note:
            typer.echo(f"    {s.note}")


@bench_app.command("list")
def list_suites(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Suites that can be run (shipped and in ./suites) and the stored runs per suite."""
    from ..bench.suites import list_suites as find
    from ..store import bench_queries

    cfg = _config(config)
    found = find(cfg.path)
    from ..store import make_engine

    engine = make_engine(_store_url(db, cfg), create=False) if _has_store(db, cfg) else None
    stored = {}
    if engine is not None:
        for name in bench_queries.suites(engine):
            runs = bench_queries.suite_overview(engine, name)
            stored[name] = {"checkpoints": sorted({r.checkpoint for r in runs}),
                            "tasks": sorted({r.task for r in runs})}
    if as_json:
        _print_json({"suites": {n: str(p) for n, p in found.items()}, "stored": stored})
        return
    for n, p in found.items():
        typer.echo(f"{n:<20} {p}")
    for n, info in stored.items():
        typer.echo(f"stored: {n:<12} checkpoints {', '.join(info['checkpoints'])}; "
                   f"tasks {', '.join(info['tasks'])}")


def _has_store(db: str | None, cfg: Any) -> bool:
    url = _store_url(db, cfg)
    if not url.startswith("sqlite:///"):
        return True
    from pathlib import Path

    return Path(url[len("sqlite:///"):]).exists()
