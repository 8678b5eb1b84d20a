"""``evalkit pool import | list | show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import ConfigOpt, DbOpt, JsonOpt, _engine, _print_json

pool_app = typer.Typer(no_args_is_help=True, help="Import, list and inspect prompt pools.")


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
    from ..catalog import store_pool
    from ..pools import FieldMap, read_pool

    mapping = FieldMap(id=id_field or None, prompt=prompt_field, messages=messages_field,
                       system=system_field, reference=reference_field or None,
                       tags=tuple(tag or ()))
    prompts = read_pool(file, mapping, fmt=fmt, split=split)  # bad input opens no store
    pool, created = store_pool(_engine(db, config), name, prompts, source=str(file))
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
              for p in list_pools(_engine(db, config, create=False))]
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

    pool, prompts = resolve_pool(_engine(db, config, create=False), name, version)
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


