"""Store URLs, without importing SQLAlchemy (the CLI resolves ``--db`` before it loads the
store)."""

from __future__ import annotations

from pathlib import Path


def normalize_url(raw: str) -> str:
    """A SQLAlchemy URL from a URL or a SQLite file path (as ``--db`` and ``EVALKIT_DB`` take);
    ``postgresql://`` uses psycopg 3."""
    if "://" not in raw:
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    if raw.startswith("postgresql://") or raw.startswith("postgres://"):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    return raw
