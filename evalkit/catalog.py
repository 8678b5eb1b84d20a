"""Pools in the store: import a file as a new version, or find one by name (shipped pools are
imported on first use)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from .errors import ConfigError
from .pools import FieldMap, PoolPrompt, pool_version, read_pool
from .resources import shipped_pools
from .store import queries
from .store.models import Pool


def import_pool(engine: Engine, name: str, path: str | Path, mapping: FieldMap | None = None,
                *, fmt: str | None = None, split: str | None = None) -> tuple[Pool, bool]:
    """Validate the whole file first, then store it as one version (all or nothing)."""
    prompts = read_pool(path, mapping, fmt=fmt, split=split)
    return store_pool(engine, name, prompts, source=str(path))


def store_pool(engine: Engine, name: str, prompts: list[PoolPrompt], source: str
               ) -> tuple[Pool, bool]:
    """Store validated prompts as one version of pool ``name`` (unchanged content: no-op)."""
    return queries.save_pool(engine, name, pool_version(prompts), prompts, source=source)


def resolve_pool(engine: Engine, name: str, version: str | None = None
                 ) -> tuple[Pool, list[PoolPrompt]]:
    """The latest (or given) version of a stored pool; shipped pools import themselves."""
    pool = queries.find_pool(engine, name, version)
    shipped = shipped_pools()
    if name in shipped and version is None and (
            pool is None or (pool.source or "").startswith("shipped:")):
        prompts = read_pool(shipped[name])
        ver = pool_version(prompts)
        if pool is None or pool.version != ver:
            found = queries.find_pool(engine, name, ver)
            pool = found or queries.save_pool(engine, name, ver, prompts,
                                              source=f"shipped:{name}")[0]
    if pool is None:
        known = sorted({p.name for p in queries.list_pools(engine)} | set(shipped))
        raise ConfigError(f"no pool named '{name}'"
                          + (f" with version '{version}'" if version else "")
                          + f" (known: {', '.join(known) or 'none'}); "
                          "import one with: evalkit pool import NAME FILE")
    assert pool.id is not None
    return pool, queries.pool_prompts(engine, pool.id)
