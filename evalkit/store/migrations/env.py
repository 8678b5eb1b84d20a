"""Alembic environment: evalkit runs migrations on a connection it opened itself
(``evalkit.store.migrate``), so nothing here reads alembic.ini or a URL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from evalkit.store import models  # noqa: F401  (registers the tables)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
