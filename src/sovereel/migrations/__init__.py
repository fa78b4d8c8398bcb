"""Alembic migrations of the region metadata store."""
