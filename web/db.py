"""Database engine and sessions: SQLite by default, PostgreSQL when configured.

SQLite gets WAL (readers never block the writer), foreign keys, a busy timeout, and
explicit transaction control so that a *write* unit of work can start with
``BEGIN IMMEDIATE``: it takes the write lock before it reads the bookings it checks,
which serialises conflict checks across threads and processes.

Within one process, SQLite writers also queue on a lock before ``BEGIN IMMEDIATE``:
SQLite's own busy handler waits by sleeping with growing back-off, which under load
turns a 2 ms transaction into a tail of seconds; a lock hands over at once and in
order. Other processes still meet the busy timeout.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, create_engine

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
IMMEDIATE = "skyberth_immediate"
"""Execution option: begin this SQLite transaction with ``BEGIN IMMEDIATE``."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Return an engine for ``url``; SQLite files get their directory and pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # SQLite connections are cheap; a pool as large as the server's thread pool
    # means a request that reads while another writes never waits for a connection.
    kwargs.setdefault("pool_size", 64)
    kwargs.setdefault("max_overflow", 64)
    engine = create_engine(
        url,
        connect_args={
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        },
        **kwargs,
    )
    _sqlite_writer_locks[engine] = threading.Lock()
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


_sqlite_writer_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below instead of the
    # sqlite3 module's implicit BEGIN, so a writer can ask for BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _enter_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _enter_wal(cursor: Any) -> None:
    """Switch the database to WAL, waiting out other connections that hold a lock.

    Entering WAL writes the file's header under an exclusive lock, and SQLite
    answers "database is locked" at once, without its busy handler, when another
    connection holds one: processes opening a fresh file together (the first
    migrating it) would fail. The mode is kept in the file, so once set, this is a
    read that other connections do not block.
    """
    give_up_at = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay_s = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay_s > give_up_at:
                raise
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 0.25)


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    """Return True when ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """Yield a session whose transaction holds the write lock from its first read.

    On SQLite that is ``BEGIN IMMEDIATE``; on PostgreSQL an ordinary transaction,
    whose conflict safety comes from constraints and row locks taken by the store.
    Commits on success, rolls back on error.
    """
    lock = _sqlite_writer_locks.get(engine) if is_sqlite(engine) else None
    if lock is None:
        with Session(engine) as session:
            _begin_when_reachable(session)
            yield from _commit_or_rollback(session)
        return
    # Check the connection out of the pool before queueing for the lock and return
    # it after: every writer waits while the lock is held, so only the transaction
    # itself belongs inside.
    with engine.connect() as connection:
        connection.execution_options(**{IMMEDIATE: True})
        with lock, Session(bind=connection) as session:
            session.connection()  # BEGIN IMMEDIATE, before the caller's first read
            yield from _commit_or_rollback(session)


CONNECT_RETRY_S = 10.0
"""How long a write waits for a database server that is restarting."""


def _begin_when_reachable(session: Session) -> None:
    """Connect, retrying with backoff while the server is unreachable (a restart).

    Safe to retry: nothing of the transaction has run yet.
    """
    give_up_at = time.monotonic() + CONNECT_RETRY_S
    delay_s = 0.05
    while True:
        try:
            session.connection()
            return
        except (OperationalError, InterfaceError):
            session.rollback()
            if time.monotonic() + delay_s > give_up_at:
                raise
            logger.warning("database unreachable; retrying in %.2f s", delay_s)
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 1.0)


def _commit_or_rollback(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
