"""Which database the store is, and transactions on it.

The embedded default is `<home>/store.sqlite` (WAL mode, created owner-only). Production sets
ENTRA_PIPELINE_STORE to a PostgreSQL URL (`postgresql+psycopg2://user:password@host:5432/db`,
the server Dagster's storage uses is fine); the tables live in their own schema,
`entra_pipeline` unless the URL says `?schema=...`.

SQLite write transactions begin IMMEDIATE: a deferred transaction that reads and then writes
can fail at once with "database is locked" when another writer got there first, whatever the
busy timeout; an immediate one waits its turn.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

STORE_ENV = "ENTRA_PIPELINE_STORE"
SQLITE_FILE = "store.sqlite"
DEFAULT_PG_SCHEMA = "entra_pipeline"
HOST = socket.gethostname()


class StoreError(Exception):
    """The store cannot be used as it is; the message names what and the remedy."""


class StoreDamaged(StoreError):
    pass


def store_url(home: Path) -> str:
    return os.environ.get(STORE_ENV) or f"sqlite:///{home / SQLITE_FILE}"


def masked(url: str | sa.URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def owner_only_file(path: Path) -> None:
    """Create `path` (and its folder) owner-only if it does not exist yet."""
    owner_only_folder(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def owner_only_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


class Database:
    """An engine and the two kinds of transaction the store uses."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.schema: str | None = None
        if self.sqlite:
            path = Path(self.url.database or "")
            owner_only_file(path)
            self.path: Path | None = path
            # Pooled: a connection kept open keeps the WAL and its index file, so a full disk
            # fails the write that needs room, not every later open (which recreates them).
            self.engine = sa.create_engine(
                self.url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=2, max_overflow=8
            )
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.path = None
            query = dict(self.url.query)
            self.schema = str(query.pop("schema", DEFAULT_PG_SCHEMA))
            self.url = self.url.set(query=query)
            self.engine = sa.create_engine(self.url, pool_pre_ping=True, pool_size=2, max_overflow=4).execution_options(
                schema_translate_map={None: self.schema}
            )

    def describe(self) -> str:
        return str(self.path) if self.sqlite else f"{masked(self.url)} (schema {self.schema})"

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """One transaction that writes: committed when the block ends, rolled back if it raises."""
        with self._translated(), self.engine.connect() as connection:
            connection = connection.execution_options(entra_write=True)
            with connection.begin():
                yield connection

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self._translated(), self.engine.connect() as connection:
            with connection.begin():
                yield connection

    def now(self, connection: sa.Connection) -> float:
        """Epoch seconds on the database's clock: leases of workers on several machines compare
        times from one clock, not each machine's."""
        if self.sqlite:
            return time.time()
        return float(connection.execute(sa.text("SELECT extract(epoch from clock_timestamp())")).scalar_one())

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.DatabaseError as error:  # OperationalError among them
            text = str(error.orig)
            if self.sqlite and ("not a database" in text or "malformed" in text):
                raise StoreDamaged(self._damaged(text)) from None
            if self.sqlite and ("disk I/O error" in text or "disk is full" in text or "unable to open" in text):
                raise StoreError(f"the store {self.path} cannot be used: {text}") from None
            if not self.sqlite and isinstance(error, sa.exc.OperationalError):
                raise StoreError(
                    f"the store {self.describe()} cannot be reached: {text.splitlines()[0]}. Remedy: "
                    f"check that the server is up and {STORE_ENV} names it"
                ) from None
            raise

    def _damaged(self, text: str) -> str:
        return (
            f"the store {self.path} is damaged ({text}). Remedy: restore it from a backup, or move it aside "
            "and run `entra-pipeline sync --full` for each connector (a new store is created and every "
            "connector is pulled in full; nothing already in Entra is lost)"
        )

    def dispose(self) -> None:
        self.engine.dispose()


def put(
    connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], key: list[str], update: list[str]
) -> None:
    """Insert rows, replacing the `update` columns of rows whose `key` exists (one statement)."""
    if not rows:
        return
    # The two dialects' INSERT ... ON CONFLICT constructs share this interface, not a type.
    statement: Any = (sqlite.insert if connection.dialect.name == "sqlite" else postgresql.insert)(table)
    statement = statement.on_conflict_do_update(
        index_elements=key, set_={name: statement.excluded[name] for name in update}
    )
    connection.execute(statement, rows)


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's begin event below issues BEGIN itself
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint the WAL every ~400 KiB and truncate it after: it does not grow to SQLite's 4 MiB
    # default on a disk that has less room than that.
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=100")
    dbapi_connection.execute("PRAGMA journal_size_limit=0")
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _sqlite_begin(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get("entra_write") else "BEGIN")
