"""Opening a region's metadata store: one engine, one session factory, per region (`open_region_db`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from sovereel.storage.write_queue import WriteQueue

if TYPE_CHECKING:
    from sovereel.settings import Settings


def normalise_url(url: str) -> str:
    """Pick the psycopg 3 driver for bare postgresql:// URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def open_engine(url: str, *, schema: str | None = None) -> Engine:
    """Create an engine for a region store; SQLite gets WAL, foreign keys and a busy timeout."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Every request thread (AnyIO's pool holds 40) and background thread may want a connection at once; a
        # SQLite connection is a file handle, so the pool keeps that many open instead of making threads queue for
        # one. Kept, not overflow: an overflow connection is closed when returned, and opening one costs the
        # pragmas and a parse of the whole schema on its first statement (under 32 scrolling viewers py-spy found
        # request threads in `_sqlite_pragmas` on every sign-in check).
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=64, max_overflow=16
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args)


class RegionDB:
    """The metadata store of one region."""

    def __init__(self, region: str, engine: Engine) -> None:
        self.region = region
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)
        # SQLite writes one transaction at a time: this process's writers take turns in order (`WriteQueue`)
        # instead of busy-polling the file. Readers never wait for it (WAL).
        self._write_lock: WriteQueue | None = WriteQueue() if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads; commits nothing by itself."""
        with self._factory() as s:
            yield s

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with self._write_lock or nullcontext(), self._factory() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()


def open_region_db(settings: Settings, *, migrate: bool = True, schema: str | None = None) -> RegionDB:
    """The region's metadata store, migrated to the newest schema unless told not to: the one way to open it."""
    from sovereel.storage.migrate import upgrade  # Alembic is loaded only by the processes that open a store

    settings.region_dir.mkdir(parents=True, exist_ok=True)
    engine = open_engine(settings.effective_database_url, schema=schema)
    if migrate:
        upgrade(engine)
    return RegionDB(settings.region, engine)


def upsert(s: Session, table: Table) -> Any:
    """`INSERT` with the backend's `ON CONFLICT` clauses (`on_conflict_do_nothing` / `on_conflict_do_update`, and
    `.excluded` for the row that was refused): SQLite and PostgreSQL spell them alike, but each dialect has its own
    construct."""
    return upsert_for(s.get_bind().dialect.name, table)


def upsert_for(dialect: str, table: Table) -> Any:
    """`upsert` for a dialect by name (`Session.get_bind().dialect.name`), for statements built once and reused."""
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
