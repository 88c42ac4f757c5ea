"""Alembic environment of the central store: plain SQL migrations (no ORM models).

Run by `central.storage.migrate(dsn)` (and so by `qms central migrate` and at the start of
`qms central serve`); an advisory lock makes two processes starting at once migrate once.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

MIGRATION_LOCK = 7_013_001  # pg_advisory_lock key of the central schema

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK})"))
    connection.commit()
    try:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        connection.commit()
engine.dispose()
