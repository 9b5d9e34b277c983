"""Alembic environment: always run with a connection handed in by ``accord.store.db``.

Alembic runs this file as an entry point; its target is every registered capability's
tables (what ``alembic revision --autogenerate`` compares with), hence the registry.
"""

from __future__ import annotations

from alembic import context

from accord.capabilities import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata(), render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
