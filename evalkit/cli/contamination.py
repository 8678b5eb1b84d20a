"""``evalkit contamination scan`` and ``evalkit contamination report``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import ConfigOpt, DbOpt, JsonOpt, _config, _console, _engine, _print_json

contamination_app = typer.Typer(
    no_args_is_help=True,
    help="Which prompts and benchmark items appear in a training corpus: n-gram coverage "
         "(Llama 3), the 13-gram any-hit test (GPT-3), Llama 2 labels, clean-vs-full scores.")


@contamination_app.command("scan")
def scan(
    corpus: Annotated[list[Path], typer.Option(
        "--corpus", help="corpus file or saved dataset folder (repeatable; read in order as "
        "one stream): .txt, .jsonl, .parquet, each maybe .gz or .zst")],
    pool: Annotated[str | None, typer.Option("--pool", "-p", help="scan a pool's prompts")
                    ] = None,
    suite: Annotated[str | None, typer.Option("--suite", help="scan a benchmark suite's "
                                              "documents")] = None,
    pool_version: Annotated[str | None, typer.Option("--pool-version")] = None,
    name: Annotated[str | None, typer.Option("--name", help="the corpus's name in the store "
                                             "(default: the first file's name)")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="text | jsonl | parquet | hf "
                                            "(default: from the file names)")] = None,
    field: Annotated[str, typer.Option("--field", help="JSONL field / column holding the "
                                       "text")] = "text",
    split: Annotated[str | None, typer.Option("--split", help="a saved DatasetDict's split")
                     ] = None,
    n: Annotated[int, typer.Option("--n", min=2, max=64, help="coverage n-gram size")] = 8,
    hit_n: Annotated[int, typer.Option("--hit-n", min=0, max=64, help="n of the any-hit "
                                       "test (0: off)")] = 13,
    clean_below: Annotated[float, typer.Option("--clean-below", help="clean: covered "
                                               "fraction below this")] = 0.2,
    dirty_from: Annotated[float, typer.Option("--dirty-from", help="dirty: covered fraction "
                                              "from this on")] = 0.8,
    on_error: Annotated[str, typer.Option("--on-error", help="bad corpus input: fail (one "
                                          "line, exit 2) or skip (listed in the result)")
                        ] = "fail",
    workers: Annotated[int, typer.Option("--workers", min=0, help="scan on a local Dask "
                                         "cluster with N worker processes (0: this process)")
                       ] = 0,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="an existing Dask "
                                                  "scheduler's address")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="scan again even if the store "
                                          "has this result")] = False,
    top: Annotated[int, typer.Option("--top", min=0, help="dirtiest items to show")] = 10,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Scan a pool's prompts or a suite's documents against a training corpus; store the
    per-item fractions, labels and matched spans (a rescan is served from the store)."""
    from ..errors import ConfigError

    if (pool is None) == (suite is None):
        raise ConfigError("give one of --pool NAME or --suite NAME")
    cfg = _config(config)
    from ..contamination.corpus import CorpusSpec
    from ..contamination.matches import Thresholds
    from ..contamination.scan import ScanOptions, run_scan

    spec = CorpusSpec(tuple(str(p) for p in corpus), fmt, field, split, on_error)
    options = ScanOptions(n=n, hit_n=hit_n or None,
                          thresholds=Thresholds(clean_below, dirty_from), workers=workers,
                          scheduler=scheduler, refresh=refresh)
    engine = _engine(db, config)
    if pool is not None:
        from ..contamination.items import pool_items

        items = pool_items(engine, pool, pool_version)
    else:
        from ..contamination.items import suite_items

        items = suite_items(str(suite), str(cfg.path) if cfg.path else None)
    result = run_scan(engine, spec, items, options, name)
    from ..contamination.report import scan_summary
    from ..store import contamination_queries as cq

    out = scan_summary(result.scan, cq.get_corpus(engine, result.corpus.id), result.items)
    out["served_from"] = result.served_from
    out["dirtiest"] = [_item_out(it) for it in cq.dirtiest(engine, result.scan["id"], top)]
    for problem in out["problems"]:
        sys.stderr.write(f"evalkit: skipped: {problem}\n")
    if as_json:
        _print_json(out)
        return
    _print_scan(out)


@contamination_app.command("report")
def report(
    pool: Annotated[str | None, typer.Option("--pool", "-p")] = None,
    suite: Annotated[str | None, typer.Option("--suite")] = None,
    comparison: Annotated[str | None, typer.Option("--comparison", help="a comparison id: "
                                                   "win rate on clean prompts vs all")] = None,
    bench_run: Annotated[str | None, typer.Option("--bench-run", help="a benchmark run id: "
                                                  "score on clean documents vs all")] = None,
    corpus: Annotated[str | None, typer.Option("--corpus", help="corpus name, id or path "
                                               "(default: the newest scan's)")] = None,
    top: Annotated[int, typer.Option("--top", min=0)] = 10,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Contamination rates per pool/suite, task and tag; or, for a comparison or benchmark
    run, the clean-subset score beside the full score and the gain with a paired CI. With
    no option: the stored scans."""
    from ..contamination import report as rp
    from ..errors import ConfigError
    from ..store import contamination_queries as cq

    engine = _engine(db, config, create=False)
    if comparison or bench_run:
        if not corpus:
            raise ConfigError("--comparison/--bench-run need --corpus NAME")
        out = (rp.comparison_gain(engine, comparison, corpus, seed=seed) if comparison
               else rp.bench_gain(engine, str(bench_run), corpus, seed=seed))
        if as_json:
            _print_json(out)
        else:
            _print_gain(out)
        return
    source = pool or suite
    if source is None:
        rows = cq.list_scans(engine)
        if as_json:
            _print_json([_scan_row(r) for r in rows])
        else:
            for r in rows:
                s = _scan_row(r)
                typer.echo(f"{s['scan_id'][:12]}  {s['source']:<20} corpus={s['corpus']:<16} "
                           f"n={s['n']}  {s['labels']}  {s['created_at'][:19]}")
        return
    scans = cq.find_scans(engine, source, corpus) if corpus else cq.list_scans(engine, source)
    if not scans:
        raise ConfigError(f"no contamination scan of '{source}'" + (
            f" against '{corpus}'" if corpus else "") + "; run `evalkit contamination scan`")
    scan_row = cq.get_scan(engine, scans[0]["id"])
    assert scan_row is not None
    out = rp.scan_summary(scan_row, cq.get_corpus(engine, scan_row["corpus_id"]),
                          cq.scan_items(engine, scan_row["id"]))
    out["dirtiest"] = [_item_out(it) for it in cq.dirtiest(engine, scan_row["id"], top)]
    if as_json:
        _print_json(out)
    else:
        _print_scan(out)


def _scan_row(r: dict[str, Any]) -> dict[str, Any]:
    return {"scan_id": r["id"], "created_at": str(r["created_at"]), "source": r["source"],
            "source_kind": r["source_kind"], "corpus": r["corpus"], "corpus_id": r["corpus_id"],
            "n": r["n"], "hit_n": r["hit_n"], "labels": json.loads(r["labels_json"])}


def _item_out(it: dict[str, Any]) -> dict[str, Any]:
    return {"position": it["position"], "item_id": it["item_id"], "task": it["task"],
            "label": it["label"], "fraction": it["fraction"], "n_tokens": it["n_tokens"],
            "longest": it["longest"], "hit": it["hit"], "max_count": it["max_count"],
            "spans": json.loads(it["spans_json"]), "text": it["text"]}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _print_scan(out: dict[str, Any]) -> None:
    from rich.table import Table

    from ..contamination.matches import highlight

    console = _console()
    c = out.get("corpus") or {}
    console.print(f"{out['source']['kind']} {out['source']['name']} vs corpus {c.get('name')} "
                  f"({c.get('size', 0):,} bytes, {out['corpus_tokens']:,} tokens) — "
                  f"{out['n']}-gram coverage, {out['hit_n'] or 'no'}-gram any-hit · scan "
                  f"{out['scan_id'][:12]}" + (f" · served from the {out['served_from']}"
                                              if out.get("served_from", "scan") != "scan"
                                              else ""), highlight=False, markup=False)
    table = Table("group", "n", "clean", "partial", "dirty", "short", "not clean",
                  "dirty %", f"{out['hit_n']}-gram hit" if out["hit_n"] else "hit")
    rates = out.get("rates", {})

    def row(name: str, r: dict[str, Any]) -> None:
        table.add_row(name, str(r["n"]), str(r["clean"]), str(r["partial"]), str(r["dirty"]),
                      str(r["short"]), _pct(r["rate"]), _pct(r["dirty_rate"]),
                      _pct(r["hit_rate"]))

    if rates:
        row("all", rates["overall"])
        for task, r in rates["by_task"].items():
            row(f"task={task}", r)
        for tag, vals in rates["by_tag"].items():
            for v, r in vals.items():
                row(f"{tag}={v}", r)
    console.print(table)
    th = out["thresholds"]
    console.print(f"labels: clean < {th['clean_below']:g} <= partial < {th['dirty_from']:g} "
                  "<= dirty (covered fraction); short: fewer tokens than n", style="dim",
                  highlight=False)
    for it in out.get("dirtiest", []):
        console.print(f"[{it['label']}] {it['item_id']} covered {_pct(it['fraction'])}, "
                      f"longest {it['longest']} tokens, seen {it['max_count']}x",
                      highlight=False, markup=False)
        if it["text"]:
            console.print("    " + highlight(it["text"], it["spans"])[:400].replace("\n", " "),
                          highlight=False, markup=False)


def _print_gain(out: dict[str, Any]) -> None:
    ci = out["ci"]
    ci_s = "—" if ci[0] is None else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"

    def num(x: float | None) -> str:
        return "—" if x is None else f"{x:.3f}"

    what = (f"{out['candidate']} vs {out['baseline']}" if "candidate" in out
            else f"{out['checkpoint']} on {out['suite']}/{out['task']}")
    typer.echo(f"{what} · {out['score']} · corpus {out['corpus']}")
    typer.echo(f"  full   {num(out['full'])}  (n={out['n']})")
    typer.echo(f"  clean  {num(out['clean'])}  (n={out['n_clean']})")
    typer.echo(f"  not clean {num(out['contaminated'])}  (n={out['n_contaminated']})")
    typer.echo(f"  estimated gain from contamination (full − clean): "
               f"{'—' if out['gain'] is None else format(out['gain'], '+.3f')}  "
               f"{int(out['ci_level'] * 100)}% CI {ci_s}  ({out['ci_method']})")
