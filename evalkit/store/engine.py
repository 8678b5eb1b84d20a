"""One engine factory: SQLite in WAL mode by default, PostgreSQL (psycopg 3) for teams.

``make_engine`` validates the URL, opens the store, and brings its schema to the current
Alembic revision. Every problem is a one-line ``StoreError`` with passwords masked: a bad URL,
a missing driver, a folder that does not exist (a typo in ``--db`` never creates folders), a
missing store where one is required, a read-only file, a file that is not SQLite or not an
evalkit store, a server that refuses the connection.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlmodel import create_engine

from ..errors import StoreError
from ..redact import mask_url
from . import models  # noqa: F401  (registers the tables)
from .migrate import ensure_schema
from .urls import normalize_url

SQLITE_TIMEOUT = 60.0  # seconds a writer waits for another process's write to finish


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Open the store at ``url`` (a new SQLite file is created when ``create``; its folder
    must exist) and migrate it to the current schema."""
    url = normalize_url(url)
    shown = mask_url(url)
    try:
        parsed = make_url(url)
        parsed.get_backend_name()
        port = parsed.port  # noqa: F841  (a non-numeric port raises here)
    except (ArgumentError, ValueError):
        raise StoreError(f"store URL '{shown}' is not a valid URL (expected a SQLite file path, "
                         "sqlite:///PATH or postgresql://USER@HOST/DB)") from None
    kwargs: dict = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.host:
        raise StoreError(f"store URL '{shown}': Invalid SQLite URL (use sqlite:///relative.db "
                         "or sqlite:////absolute/path.db, or just the file path)")
    if backend == "sqlite":
        _check_sqlite_path(parsed.database, shown, create)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_TIMEOUT}
    elif backend == "postgresql":
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
    try:
        engine = create_engine(url, **kwargs)
    except ArgumentError as exc:
        raise StoreError(f"store URL '{shown}': {str(exc).splitlines()[0]}") from None
    except NoSuchModuleError:
        raise StoreError(f"store URL '{shown}': unknown database '{parsed.drivername}' "
                         "(use SQLite or postgresql)") from None
    except ModuleNotFoundError as exc:
        extra = " (pip install 'evalkit[postgres]')" if backend == "postgresql" else ""
        raise StoreError(f"store URL '{shown}' needs the Python module '{exc.name}'"
                         f"{extra}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        ensure_schema(engine, shown, create=create)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open store {shown}: {describe(exc)}") from None
    OPEN.add(engine)
    return engine


OPEN: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines made here and not collected


def dispose_all() -> None:
    """Close every pooled connection of the engines ``make_engine`` made (SQLite folds its
    write-ahead log back into the file as the last connection closes): the CLI's fast exit
    (cli/main.py) calls this instead of waiting for the interpreter's teardown."""
    for engine in list(OPEN):
        engine.dispose()


def describe(exc: BaseException) -> str:
    """The database's own one-line reason for a SQLAlchemy error, passwords masked."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if "file is not a database" in first:
        first = "the file is not a SQLite database"
    elif "readonly database" in first or "read-only" in first:
        first = "the file is read-only (check its permissions)"
    elif "unable to open database file" in first:
        first = "unable to open the file (check the path and the folder's permissions)"
    return mask_url(first)


def _check_sqlite_path(database: str | None, shown: str, create: bool) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.is_dir():
        raise StoreError(f"store {shown} is a folder, not a SQLite file")
    if not path.exists():
        if not create:
            raise StoreError(f"no store at {path} (check --db / EVALKIT_DB / [store] url; "
                             "`evalkit compare` creates one)")
        if not path.parent.is_dir():
            raise StoreError(f"cannot create store {path}: folder {path.parent} does not exist "
                             "(check --db; evalkit does not create folders)")
        if not os.access(path.parent, os.W_OK):
            raise StoreError(f"cannot create store {path}: folder {path.parent} is not "
                             "writable")
    elif create and not os.access(path, os.W_OK):
        raise StoreError(f"store {path} is read-only (check its permissions)")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
