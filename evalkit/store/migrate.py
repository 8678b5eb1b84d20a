"""The store's schema, kept current by Alembic migrations (``store/migrations/versions``).

Opening a store checks one row (``alembic_version``); only a store that is behind runs
Alembic (imported then, not before: it costs ~0.25 s). A store created by evalkit 0.1.0 has no
``alembic_version`` table: it is recognised by its tables, stamped at revision 0001 (its
schema) and upgraded in place. Migrations run inside one transaction that also serialises
concurrent openers: ``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL, so two jobs
creating the same store at once cannot both run them.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError

HEAD = "0008"  # the newest revision in migrations/versions (a test checks they agree)
BASELINE = "0001"  # the schema of evalkit 0.1.0
LEGACY_TABLES = frozenset({"pool", "prompt", "poolitem", "generation", "judgment",
                           "comparison", "comparisonitem"})
_PG_LOCK = 0x6576616C6B6974  # "evalkit"


def revision(conn: Connection) -> str | None:
    """The store's schema revision; None when it has no ``alembic_version`` table."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def ensure_schema(engine: Engine, where: str, *, create: bool) -> bool:
    """Bring the store at ``where`` (a masked URL, for messages) to ``HEAD``.

    Returns False, changing nothing, when ``create`` is False and the store has no tables at
    all (an empty file: readers report it); raises ``StoreError`` for a foreign database or
    one made by a newer evalkit.
    """
    with engine.connect() as conn:
        rev = revision(conn)
        if rev == HEAD:
            return True
        found = tables(conn)
    if rev is None and not found and not create:
        return False
    _check_known(rev, found, where)
    upgrade(engine, where)
    return True


def _check_known(rev: str | None, found: set[str], where: str) -> None:
    if rev is not None and rev not in _revisions():
        raise StoreError(f"store {where} has schema revision {rev}, newer than this evalkit "
                         f"knows ({HEAD}); upgrade evalkit")
    if rev is None and found and not LEGACY_TABLES <= found:
        raise StoreError(f"{where} is not an evalkit store (it has other tables: "
                         f"{', '.join(sorted(found)[:5])})")


def _revisions() -> set[str]:
    versions = Path(__file__).parent / "migrations" / "versions"
    return {p.name.split("_", 1)[0] for p in versions.glob("[0-9]*_*.py")}


def upgrade(engine: Engine, where: str = "the store") -> None:
    """Run the migrations the store lacks, in one transaction that holds the migration lock."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        rev = revision(conn)  # again, under the lock: another process may have done it
        if rev == HEAD:
            conn.rollback()
            return
        found = tables(conn)
        _check_known(rev, found, where)
        cfg.attributes["connection"] = conn
        try:
            if rev is None and LEGACY_TABLES <= found:
                command.stamp(cfg, BASELINE)
            command.upgrade(cfg, "head")
        except SQLAlchemyError:
            conn.rollback()
            raise
        conn.commit()
