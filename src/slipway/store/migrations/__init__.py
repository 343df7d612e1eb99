"""Alembic migrations of the metadata schema, run by `slipway.store.db.upgrade` on open."""
