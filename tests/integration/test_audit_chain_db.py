"""The audit hash chain on real databases: backfill, appends, tampering, races, CLI."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from typer.testing import CliRunner

from booking.audit_chain import GENESIS_HASH, link_hash
from booking.audit_log import SqlAudit
from booking.audit_trail import iter_chain, verify_trail
from booking.model import AuditEntry, Role, UserId
from web.cli_audit import audit_app
from web.db import make_engine, write_session
from web.migrate import alembic_config, upgrade

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def fresh_engine(fresh_url: str) -> Iterator[Engine]:
    """A migrated, empty database of its own."""
    engine = make_engine(fresh_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def entry(i: int, action: str = "booking.approved") -> AuditEntry:
    return AuditEntry(
        at=T0 + timedelta(seconds=i, microseconds=123),
        actor_id=UserId(f"user-{i % 4}"),
        actor_role=Role.SITE_ADMIN,
        action=action,
        subject_kind="booking",
        subject_id=str(i),
        before={"state": "pending"},
        after={"state": "approved", "note": "ünïcode ✓"},
        note=f"entry {i}",
    )


def append(engine: Engine, *entries: AuditEntry) -> None:
    with write_session(engine) as session:
        audit = SqlAudit(session)
        for e in entries:
            audit.append(e)


def tamper(engine: Engine, statement: str) -> None:
    """Run ``statement`` past the append-only guard, as someone with DB access."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(sa.text(statement))
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_log_no_update"))
            conn.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(sa.text(statement))


def test_appends_form_one_chain_from_genesis(fresh_engine: Engine) -> None:
    append(fresh_engine, entry(0))
    append(fresh_engine, *(entry(i) for i in range(1, 5)))
    rows = list(iter_chain(fresh_engine))
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]
    for row in rows:
        assert row["hash"] == link_hash(row["prev_hash"], row)
    report = verify_trail(fresh_engine)
    assert report.intact
    assert (report.records, report.head_id) == (5, 5)
    assert report.head_hash == rows[-1]["hash"]


def test_an_edited_row_is_the_one_break_found(fresh_engine: Engine) -> None:
    append(fresh_engine, *(entry(i) for i in range(8)))
    tamper(fresh_engine, "UPDATE audit_log SET note = 'nothing happened' WHERE id = 4")
    report = verify_trail(fresh_engine)
    assert report.break_count == 1
    assert report.first_break is not None
    assert (report.first_break.record_id, report.first_break.column) == (4, "hash")


def test_a_deleted_row_breaks_the_next_link(fresh_engine: Engine) -> None:
    append(fresh_engine, *(entry(i) for i in range(8)))
    tamper(fresh_engine, "DELETE FROM audit_log WHERE id = 6")
    report = verify_trail(fresh_engine)
    assert report.break_count == 1
    assert report.first_break is not None
    assert (report.first_break.record_id, report.first_break.column) == (
        7,
        "prev_hash",
    )


def test_the_database_still_refuses_updates_and_forks(fresh_engine: Engine) -> None:
    append(fresh_engine, entry(0), entry(1))
    with pytest.raises(DBAPIError, match="append-only"), fresh_engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET note = 'x' WHERE id = 1"))
    first = next(iter_chain(fresh_engine))
    fork = {**first, "note": "a second record chained onto the genesis"}
    del fork["id"]
    with pytest.raises(IntegrityError), fresh_engine.begin() as conn:
        conn.execute(sa.insert(sa.table("audit_log", *map(sa.column, fork))), fork)


def test_the_migration_chains_existing_rows_and_keeps_the_guard(
    fresh_url: str,
) -> None:
    engine = make_engine(fresh_url)
    try:
        upgrade(engine, "0002")
        columns = "at, actor_id, actor_role, action, subject_kind, subject_id, note"
        with engine.begin() as conn:
            for i in range(3):
                conn.execute(
                    sa.text(
                        f"INSERT INTO audit_log ({columns}, after_json) VALUES "
                        "(:at, 'ada', 'site_admin', 'closure.created', 'closure', "
                        ":sid, '', :after)"
                    ),
                    {
                        "at": T0 + timedelta(minutes=i),
                        "sid": str(i),
                        "after": '{"a": 1}',
                    },
                )
        upgrade(engine)
        append(engine, entry(9))
        report = verify_trail(engine)
        assert report.intact, report.first_break
        assert report.records == 4
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_log SET note = 'x' WHERE id = 2"))
        config = alembic_config(engine)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0002")
        assert "hash" not in {
            c["name"] for c in sa.inspect(engine).get_columns("audit_log")
        }
    finally:
        engine.dispose()


def test_concurrent_writers_never_fork_the_chain(fresh_engine: Engine) -> None:
    threads, per_thread = 8, 15
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                # Two records per transaction: the lock is held to commit.
                append(fresh_engine, entry(n * 100 + i), entry(n * 100 + i, "x.y"))
        except BaseException as exc:  # reported below, with the thread's error
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not errors
    report = verify_trail(fresh_engine)
    assert report.intact, report.first_break
    assert report.records == threads * per_thread * 2


def _verify_in_process(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "from web.cli_audit import audit_app; audit_app(prog_name='skyberth audit')"
    return subprocess.run(
        [sys.executable, "-c", code, "verify"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_cli_verify_passes_then_fails_after_a_hand_edit(
    tmp_path: Path, clean_env: None
) -> None:
    env = {"SKYBERTH_DATA_DIR": str(tmp_path)}
    engine = make_engine(f"sqlite:///{tmp_path / 'skyberth.sqlite3'}")
    try:
        upgrade(engine)
        append(engine, *(entry(i) for i in range(5)))
        ok = CliRunner().invoke(audit_app, ["verify"], env=env)
        assert ok.exit_code == 0, ok.output
        assert "intact: 5 record(s); head record 5" in ok.output
        tamper(engine, "UPDATE audit_log SET actor_id = 'nobody' WHERE id = 3")
        broken = _verify_in_process(env)
    finally:
        engine.dispose()
    assert broken.returncode == 1
    assert "audit record 3:" in broken.stderr
    assert "first at record 3" in broken.stderr


def test_cli_verify_exits_2_when_the_database_is_unreachable(
    clean_env: None,
) -> None:
    env = {"SKYBERTH_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
    result = CliRunner().invoke(audit_app, ["verify"], env=env)
    assert result.exit_code == 2, result.output
    assert "cannot read the audit trail" in result.output
