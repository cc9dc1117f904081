"""Fixtures for tests against real databases: a migrated SQLite file, and a fresh
PostgreSQL database per test module when the server runs (required on CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine, make_url

from airspace.site_files import demo_site_path, load_site
from booking.catalogue import StaticSiteCatalogue
from booking.model import Operator, OperatorId, Role, User, UserId
from booking.user_repository import SqlUsers
from tests.conftest import require_service
from tests.harness.postgres import fresh_database
from web.db import make_engine, write_session
from web.migrate import upgrade

# A server whose user may create databases; each test module gets a fresh one.
POSTGRES_ADMIN_URL = os.environ.get(
    "SKYBERTH_TEST_POSTGRES_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
)


@pytest.fixture(scope="session")
def catalogue() -> StaticSiteCatalogue:
    """The demo site, as the store sees it."""
    site = load_site(demo_site_path())
    return StaticSiteCatalogue({site.id: site})


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database in a file of its own."""
    engine = make_engine(f"sqlite:///{tmp_path / 'skyberth.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_engine() -> Iterator[Engine]:
    """A migrated, empty PostgreSQL database, dropped after the module."""
    admin_url = make_url(POSTGRES_ADMIN_URL)
    require_service("PostgreSQL", admin_url.port or 5432, admin_url.host or "127.0.0.1")
    with fresh_database(POSTGRES_ADMIN_URL, prefix="skyberth_test") as url:
        engine = make_engine(url, pool_size=10, max_overflow=20, pool_timeout=120)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each real database in turn."""
    name = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    result: Engine = request.getfixturevalue(name)
    return result


def seed_operator(engine: Engine, operator_id: str) -> None:
    """Create an operator organisation (idempotent)."""
    with write_session(engine) as session:
        SqlUsers(session).add_operator(Operator(OperatorId(operator_id), operator_id))


def seed_user(engine: Engine, name: str, role: Role, operator_id: str | None) -> User:
    """Create a user with a throwaway password hash and return it."""
    if operator_id:
        seed_operator(engine, operator_id)
    suffix = uuid.uuid4().hex[:8]
    user = User(
        UserId(f"user-{suffix}"),
        f"{name}-{suffix}",
        role,
        OperatorId(operator_id) if operator_id else None,
    )
    with write_session(engine) as session:
        SqlUsers(session).add(user, "not-a-real-hash", datetime.now(UTC))
    return user


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of its own (not migrated), per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    admin_url = make_url(POSTGRES_ADMIN_URL)
    require_service("PostgreSQL", admin_url.port or 5432, admin_url.host or "127.0.0.1")
    with fresh_database(
        POSTGRES_ADMIN_URL, migrate=False, prefix="skyberth_fresh"
    ) as url:
        yield url
