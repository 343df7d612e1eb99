"""Alembic environment: migrate the connection that `slipway.store.db.upgrade` hands in.

There is no alembic.ini; `db.upgrade` builds the config in code and passes an open
connection (already inside the transaction that holds the migration lock) through
`config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from slipway.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "slipway migrations run through slipway.store.db.upgrade(engine), not the alembic CLI."
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
