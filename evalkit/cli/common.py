"""Shared pieces of the command modules: common options, config and store loading, output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="evalkit.toml to use "
                                                "(default: ./evalkit.toml if present)")]
DbOpt = Annotated[str | None, typer.Option("--db", help="store: a SQLite file path or a "
                                           "URL (sqlite:///PATH, postgresql://USER@HOST/DB); "
                                           "default $EVALKIT_DB, then [store] url")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]


def _store_url(db: str | None, config: Any) -> str:
    """``--db``, else ``$EVALKIT_DB``, else the config's ``[store] url``."""
    import os

    from ..store.urls import normalize_url

    raw = db or os.environ.get("EVALKIT_DB")
    if not raw:
        return config.store_url if config is not None else "sqlite:///evalkit.db"
    return normalize_url(raw)


def _config(path: Path | None) -> Any:
    from ..config import load_config

    return load_config(path)


def _engine(db: str | None, config_path: Path | None, *, create: bool = True) -> Any:
    """The store; ``create=False`` for commands that only read (a typo in ``--db`` then says
    "no store at …" instead of creating an empty one)."""
    from ..store import make_engine

    return make_engine(_store_url(db, _config(config_path)), create=create)


def _check_output_file(path: Path | None, what: str = "") -> None:
    """Fail before any work when an output file cannot be written: its folder must exist
    (evalkit does not create folders) and it must not be a folder itself."""
    if path is None:
        return
    from ..errors import ConfigError

    where = f"{what} {path}".strip()
    if path.is_dir():
        raise ConfigError(f"{where}: is a folder, not a file")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"{where}: folder {folder} does not exist (evalkit does not create "
                          "folders)")


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def _console() -> Any:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    return console


