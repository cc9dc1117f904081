"""The keyed audit chain and its exported heads on real databases, and the CLI.

Each attack is made as someone with database access (guards dropped); the heads
file and the key are outside the database, as on a real site.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from booking.audit_chain import CHAINED_FIELDS, GENESIS_HASH, KEYED, link_hash
from booking.audit_heads import AuditSeal, read_heads, seal_engine
from booking.audit_trail import iter_chain, verify_trail
from telemetry.incidents.evidence_digest import evidence_digest
from telemetry.incidents.model import EvidenceSample
from telemetry.incidents.repository import IncidentRepository
from tests.integration.test_audit_chain_db import append, entry, tamper
from tests.integration.test_telemetry_store import T0, draft, sample
from web.db import make_engine, write_session
from web.migrate import upgrade
from web.secret_key import with_secret_key
from web.settings import Settings

KEY = b"k" * 32


@pytest.fixture
def heads_path(tmp_path: Path) -> Path:
    return tmp_path / "audit-heads.log"


@pytest.fixture
def sealed(fresh_url: str, heads_path: Path) -> Iterator[Engine]:
    """A migrated database whose audit writers key records and export heads."""
    engine = make_engine(fresh_url)
    upgrade(engine)
    seal_engine(engine, AuditSeal(KEY, heads_path))
    yield engine
    engine.dispose()


def verify(engine: Engine, heads_path: Path) -> tuple[bool, str | None, int | None]:
    report = verify_trail(engine, KEY, read_heads(heads_path))
    first = report.first_break
    if first is None:
        return report.intact, None, None
    return report.intact, first.column, first.record_id


def test_each_append_batch_is_keyed_and_exports_its_head(
    sealed: Engine, heads_path: Path
) -> None:
    append(sealed, entry(0))
    append(sealed, entry(1), entry(2))
    rows = list(iter_chain(sealed))
    assert [r["chain_version"] for r in rows] == [KEYED] * 3
    assert rows[0]["hash"] == link_hash(GENESIS_HASH, rows[0], KEY)
    assert rows[0]["hash"] != link_hash(GENESIS_HASH, rows[0])  # not plain SHA-256
    assert read_heads(heads_path) == {1: rows[0]["hash"], 3: rows[2]["hash"]}
    assert verify(sealed, heads_path) == (True, None, None)
    # Another key does not verify the records.
    assert not verify_trail(sealed, b"x" * 32, read_heads(heads_path)).intact


def test_a_rolled_back_batch_exports_no_head(sealed: Engine, heads_path: Path) -> None:
    append(sealed, entry(0))
    with pytest.raises(RuntimeError, match="changed my mind"):
        append_then_fail(sealed)
    assert list(read_heads(heads_path)) == [1]
    assert verify(sealed, heads_path) == (True, None, None)


def append_then_fail(engine: Engine) -> None:
    from booking.audit_log import SqlAudit

    with write_session(engine) as session:
        SqlAudit(session).append(entry(5))
        raise RuntimeError("changed my mind")


def test_deleting_the_newest_rows_is_caught_by_the_exported_heads(
    sealed: Engine, heads_path: Path
) -> None:
    for i in range(6):
        append(sealed, entry(i))
    tamper(sealed, "DELETE FROM audit_log WHERE id >= 5")
    # The shorter chain is whole by itself: this was the finding.
    assert verify_trail(sealed, KEY).intact
    intact, column, record_id = verify(sealed, heads_path)
    assert (intact, column, record_id) == (False, "head", 5)


@pytest.mark.parametrize("key", [KEY, None], ids=["with-the-key", "unkeyed"])
def test_rehashing_the_whole_table_is_caught_by_the_exported_heads(
    sealed: Engine, heads_path: Path, key: bytes | None
) -> None:
    for i in range(4):
        append(sealed, entry(i))
    tamper(sealed, "UPDATE audit_log SET note = 'nothing happened' WHERE id = 2")
    rehash(sealed, key)
    assert verify_trail(sealed, KEY).intact  # the table alone looks fine
    assert verify(sealed, heads_path)[:2] == (False, "head")


def test_an_unkeyed_record_after_keyed_ones_is_a_break(
    sealed: Engine, fresh_url: str, heads_path: Path
) -> None:
    append(sealed, entry(0), entry(1))
    keyless = make_engine(fresh_url)  # a writer that does not hold the key
    try:
        append(keyless, entry(2))
    finally:
        keyless.dispose()
    assert verify(sealed, heads_path) == (False, "chain_version", 3)


def rehash(engine: Engine, key: bytes | None) -> None:
    """Recompute every record's links from its current content, guards lifted."""
    rows = list(iter_chain(engine))
    prev = GENESIS_HASH
    with engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_log_no_update"))
        conn.execute(sa.text("DROP INDEX IF EXISTS ux_audit_log_prev_hash"))
        for row in rows:
            digest = link_hash(prev, {n: row[n] for n in CHAINED_FIELDS}, key)
            conn.execute(
                sa.text(
                    "UPDATE audit_log SET prev_hash = :p, hash = :h, "
                    "chain_version = :v WHERE id = :id"
                ),
                {"p": prev, "h": digest, "v": KEYED if key else None, "id": row["id"]},
            )
            prev = digest
        if pg:
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


def test_records_from_before_the_key_still_verify_after_migration(
    fresh_url: str, heads_path: Path
) -> None:
    engine = make_engine(fresh_url)
    try:
        upgrade(engine, "0003")
        prev = GENESIS_HASH
        with engine.begin() as conn:  # the unkeyed chain as 0003 wrote it
            for i in range(2):
                values = legacy_values(i)
                row = {**values, "prev_hash": prev, "hash": link_hash(prev, values)}
                conn.execute(
                    sa.insert(sa.table("audit_log", *map(sa.column, row))), row
                )
                prev = row["hash"]
        upgrade(engine)
        seal_engine(engine, AuditSeal(KEY, heads_path))
        append(engine, entry(2))
        versions = [r["chain_version"] for r in iter_chain(engine)]
        assert versions == [None, None, KEYED]
        assert verify(engine, heads_path) == (True, None, None)
    finally:
        engine.dispose()


def legacy_values(i: int) -> dict[str, Any]:
    e = entry(i)
    return {
        "at": e.at,
        "actor_id": e.actor_id,
        "actor_role": str(e.actor_role),
        "action": e.action,
        "subject_kind": e.subject_kind,
        "subject_id": e.subject_id,
        "before_json": None,
        "after_json": None,
        "note": e.note,
    }


@pytest.mark.postgres
def test_postgresql_refuses_truncate_of_the_audit_log(sealed: Engine) -> None:
    if sealed.dialect.name != "postgresql":
        pytest.skip("TRUNCATE guard is PostgreSQL's")
    append(sealed, entry(0))
    with pytest.raises(DBAPIError, match="append-only"), sealed.begin() as conn:
        conn.execute(sa.text("TRUNCATE audit_log"))
    assert len(list(iter_chain(sealed))) == 1


def test_opening_an_incident_and_its_evidence_are_keyed_audit_records(
    sealed: Engine, heads_path: Path
) -> None:
    incidents = IncidentRepository(
        lambda: write_session(sealed), lambda: Session(sealed)
    )
    incident_id, created = incidents.open_incident(draft("harbour"))
    assert created
    t = T0.timestamp()
    samples = [sample(t + i * 0.1) for i in range(5)]
    frames = [(t + i * 0.1, bytes([0xFD, i, 0, 0])) for i in range(3)]
    incidents.add_evidence(incident_id, samples, frames)

    records = list(iter_chain(sealed))
    assert [(r["action"], r["subject_id"]) for r in records] == [
        ("incident.opened", str(incident_id)),
        ("incident.evidence", str(incident_id)),
    ]
    assert all(r["chain_version"] == KEYED for r in records)
    stored = incidents.evidence(incident_id)
    sample_rows = [(incident_id, *astuple_stored(s)) for s in stored.samples]
    after = records[1]["after_json"]
    assert evidence_digest(sample_rows, stored.frames) in after
    assert verify(sealed, heads_path) == (True, None, None)


def astuple_stored(s: EvidenceSample) -> tuple[object, ...]:
    values = astuple(s)
    return (*values[:-1], str(values[-1]))


def run_verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    code = "from web.cli_audit import audit_app; audit_app(prog_name='skyberth audit')"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYBERTH_")}
    return subprocess.run(
        [sys.executable, "-c", code, "verify"],
        env={**env, "SKYBERTH_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_cli_verify_fails_after_the_newest_rows_are_deleted(tmp_path: Path) -> None:
    # The server's key, as it resolves it: the CLI reads the same key file.
    settings = with_secret_key(Settings(data_dir=tmp_path))
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        seal_engine(engine, settings.audit_seal())
        for i in range(5):
            append(engine, entry(i))
        ok = run_verify(tmp_path)
        assert ok.returncode == 0, ok.stderr
        assert "intact: 5 record(s)" in ok.stdout
        assert "5 exported head(s) checked" in ok.stdout
        tamper(engine, "DELETE FROM audit_log WHERE id >= 4")
        broken = run_verify(tmp_path)
    finally:
        engine.dispose()
    assert broken.returncode == 1
    assert "audit record 4:" in broken.stderr
    assert "exported" in broken.stderr
