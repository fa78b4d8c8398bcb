"""Alembic environment: the connection is handed in by sovereel.storage.migrate."""

from __future__ import annotations

from alembic import context

from sovereel.storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `sovereel migrate`, which supplies the connection")


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Full-text search tables and indexes are made by hand in 0002; autogenerate must leave them alone."""
    return not (name and "_fts" in name)


context.configure(
    connection=connection,
    include_object=include_object,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
