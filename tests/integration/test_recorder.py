"""The recorder's writer threads against real databases and real files."""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pymavlink import mavutil
from pymavlink.dialects.v20 import common as mavlink2
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.site import SiteId
from booking.model import BookingId, DroneId
from telemetry.incidents.model import (
    EvidencePhase,
    EvidenceSample,
    IncidentKind,
    NewIncident,
    Severity,
    TrackSample,
)
from telemetry.incidents.repository import IncidentRepository
from telemetry.mavlink.tlog import encode_record, read_tlog
from telemetry.recording.recorder import (
    MAX_OPEN_TLOGS,
    TelemetryRecorder,
    check_tlog_key,
    default_max_open_tlogs,
)
from telemetry.recording.track_store import TrackStore
from web.db import make_engine, write_session
from web.migrate import upgrade

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


class Stores(NamedTuple):
    """What a recorder writes to: ``TelemetryRecorder(*stores, tlog_dir)``."""

    incidents: IncidentRepository
    tracks: TrackStore


def store_for(engine: Engine) -> Stores:
    return Stores(
        IncidentRepository(lambda: write_session(engine), lambda: Session(engine)),
        TrackStore(lambda: write_session(engine), lambda: Session(engine)),
    )


def track(n: int, vehicle_key: str, t0_s: float = T0.timestamp()) -> list[TrackSample]:
    return [
        TrackSample(
            site_id=SiteId("cyberport-pier"),
            vehicle_key=vehicle_key,
            sysid=42,
            t_s=t0_s + i,
            lat_deg=22.26,
            lon_deg=114.13,
            alt_amsl_m=60.0,
            rel_alt_m=58.0,
            speed_mps=8.0,
            heading_deg=90.0,
            battery_pct=75.0,
            state="inside",
            drone_id=DroneId("D7"),
            booking_id=BookingId(12),
        )
        for i in range(n)
    ]


def draft(vehicle_key: str, at: datetime = T0) -> NewIncident:
    return NewIncident(
        site_id=SiteId("cyberport-pier"),
        kind=IncidentKind.CORRIDOR_EXIT_LATERAL,
        severity=Severity.BREACH,
        at=at,
        vehicle_key=vehicle_key,
        sysid=42,
        message="left corridor C1 sideways",
        drone_id=DroneId(f"D-{vehicle_key}"),
        booking_id=BookingId(12),
        rule={"rule": "corridor_exit_lateral"},
    )


def evidence(t_s: float, n: int, phase: EvidencePhase) -> list[EvidenceSample]:
    return [
        EvidenceSample(
            t_s=t_s + i * 0.1,
            lat_deg=22.26,
            lon_deg=114.13,
            alt_amsl_m=61.0,
            rel_alt_m=59.0,
            vn_mps=0.0,
            ve_mps=3.0,
            vd_mps=0.0,
            heading_deg=90.0,
            state="outside_lateral",
            phase=phase,
        )
        for i in range(n)
    ]


def mavlink_frames(t0_s: float, n: int) -> list[tuple[float, bytes]]:
    """Heartbeats and positions as pymavlink's own encoder makes them (MAVLink 2)."""
    mav = mavlink2.MAVLink(None, srcSystem=42, srcComponent=1)
    frames: list[tuple[float, bytes]] = []
    for i in range(n):
        if i % 2 == 0:
            msg: Any = mavlink2.MAVLink_heartbeat_message(2, 3, 128, 0, 4, 3)
        else:
            msg = mavlink2.MAVLink_global_position_int_message(
                i * 100, 222606000 + i, 1141289000, 61200, 58900, 100, -50, 0, 27100
            )
        frames.append((t0_s + i * 0.1, msg.pack(mav)))
    return frames


def encoded(frames: list[tuple[float, bytes]]) -> bytes:
    """The records blob the gateway hands over: ``encode_record`` output, joined."""
    return b"".join(encode_record(t_s, raw) for t_s, raw in frames)


def read_with_pymavlink(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, int, float]]:
    """(message type, system id, receive time) of every message in the tlog."""
    # pymavlink switches itself to MAVLink 2 process-wide on reading one; undo it.
    monkeypatch.setenv("MAVLINK20", "1")
    monkeypatch.setattr(mavutil, "mavlink", mavutil.mavlink)
    monkeypatch.setattr(mavutil, "current_dialect", mavutil.current_dialect)
    log = mavutil.mavlink_connection(str(path), dialect="common")
    read: list[tuple[str, int, float]] = []
    try:
        while (msg := log.recv_match()) is not None:
            read.append((msg.get_type(), msg.get_srcSystem(), msg._timestamp))
    finally:
        log.close()
    return read


@pytest.fixture
def recorder_factory(
    tmp_path: Path,
) -> Iterator[Any]:
    made: list[TelemetryRecorder] = []

    def make(store: Stores, **options: Any) -> TelemetryRecorder:
        recorder = TelemetryRecorder(*store, tmp_path / "tlogs", **options)
        recorder.start()
        made.append(recorder)
        return recorder

    yield make
    for recorder in made:
        recorder.close(timeout_s=5)


def wait_until(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def test_track_samples_go_in_one_transaction_per_batch(
    engine: Engine, recorder_factory: Any
) -> None:
    store = store_for(engine)
    vehicle = f"udp/{uuid.uuid4().hex[:8]}"
    commits: list[str] = []
    writer = "skyberth-db-writer"

    def count(_conn: object) -> None:
        if threading.current_thread().name == writer:
            commits.append("commit")

    event.listen(engine, "commit", count)
    try:
        # A long interval: only the batch size and the flush below cut batches.
        recorder = recorder_factory(store, batch_rows=50, flush_interval_s=60.0)
        samples = track(120, vehicle)
        for i in range(0, 120, 10):
            recorder.record_track(samples[i : i + 10])
        assert recorder.flush()
    finally:
        event.remove(engine, "commit", count)

    assert store.tracks.track(vehicle_key=vehicle) == samples
    assert len(commits) == 3  # 50 + 50 + the last 20 on flush
    counters = recorder.counters()
    assert (counters.queued, counters.written, counters.held) == (120, 120, 0)


def test_track_samples_are_flushed_by_time_without_being_asked(
    engine: Engine, recorder_factory: Any
) -> None:
    store = store_for(engine)
    vehicle = f"udp/{uuid.uuid4().hex[:8]}"
    recorder = recorder_factory(store, batch_rows=1000, flush_interval_s=0.1)
    recorder.record_track(track(3, vehicle))

    assert wait_until(lambda: len(store.tracks.track(vehicle_key=vehicle)) == 3)


async def test_an_incident_is_stored_before_on_done_hands_its_id_to_the_loop(
    engine: Engine, recorder_factory: Any
) -> None:
    store = store_for(engine)
    recorder = recorder_factory(store)
    loop = asyncio.get_running_loop()
    vehicle = f"udp/{uuid.uuid4().hex[:8]}"
    t_s = T0.timestamp()
    answers: asyncio.Queue[tuple[int, bool, bool, str]] = asyncio.Queue()

    def on_done(incident_id: int, created: bool) -> None:
        # Committed already?
        stored = store.incidents.get_incident(incident_id) is not None
        thread = threading.current_thread().name
        loop.call_soon_threadsafe(
            answers.put_nowait, (incident_id, created, stored, thread)
        )

    sent = time.perf_counter()
    recorder.open_incident(
        draft(vehicle),
        on_done,
        later_evidence=lambda: (
            evidence(t_s - 3.0, 31, EvidencePhase.BEFORE),
            mavlink_frames(t_s - 3.0, 10),
        ),
    )
    incident_id, created, stored, thread = await asyncio.wait_for(answers.get(), 5)
    latency_s = time.perf_counter() - sent
    recorder.open_incident(draft(vehicle, T0 + timedelta(seconds=20)), on_done)
    joined = await asyncio.wait_for(answers.get(), 5)
    recorder.add_evidence(
        incident_id, lambda: (evidence(t_s, 11, EvidencePhase.AFTER), [])
    )
    recorder.add_incident_event(incident_id, t_s + 25.0, "returned", {"margin_m": 2})
    assert await asyncio.to_thread(recorder.flush)

    assert (created, stored, thread) == (True, True, "skyberth-db-writer")
    assert latency_s < 1.0  # the budget end to end is 250 ms; this is the DB's share
    assert joined[:2] == (incident_id, False)
    stored_evidence = store.incidents.evidence(incident_id)
    assert len(stored_evidence.samples) == 31 + 10  # the breach sample only once
    assert len(stored_evidence.frames) == 10
    kinds = [e.kind for e in store.incidents.incident_events(incident_id)]
    assert kinds == ["opened", "occurrence", "returned"]


def test_a_failing_on_done_does_not_stop_the_writer(
    engine: Engine, recorder_factory: Any
) -> None:
    store = store_for(engine)
    recorder = recorder_factory(store)
    vehicle = f"udp/{uuid.uuid4().hex[:8]}"

    def explode(_incident_id: int, _created: bool) -> None:
        raise RuntimeError("the caller's bug")

    recorder.open_incident(draft(vehicle), explode)
    recorder.record_track(track(2, vehicle))
    assert recorder.flush()

    assert len(store.tracks.track(vehicle_key=vehicle)) == 2
    assert store.incidents.list_incidents(drone_id=f"D-{vehicle}")


def test_an_event_for_a_missing_incident_is_discarded_loudly_and_the_rest_written(
    engine: Engine, recorder_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_for(engine)
    recorder = recorder_factory(store)
    vehicle = f"udp/{uuid.uuid4().hex[:8]}"
    recorder.add_incident_event(987654321, T0.timestamp(), "returned", {})
    recorder.record_track(track(2, vehicle))

    assert recorder.flush()
    assert len(store.tracks.track(vehicle_key=vehicle)) == 2
    counters = recorder.counters()
    assert (counters.failed, counters.dropped, counters.held) == (1, 1, 0)
    assert "incident 987654321 not found" in caplog.text


def test_close_drains_everything_queued(engine: Engine, tmp_path: Path) -> None:
    store = store_for(engine)
    vehicle = f"udp/{uuid.uuid4().hex[:8]}"
    recorder = TelemetryRecorder(*store, tmp_path, flush_interval_s=60.0)
    recorder.start()
    done: list[int] = []
    recorder.record_track(track(7, vehicle))
    recorder.open_incident(
        draft(vehicle),
        lambda incident_id, _created: done.append(incident_id),
        later_evidence=lambda: (evidence(T0.timestamp(), 5, EvidencePhase.BEFORE), []),
    )
    recorder.record_frames("cyberport-pier/booking-12", mavlink_frames(0.5, 4))

    assert recorder.close()

    assert len(store.tracks.track(vehicle_key=vehicle)) == 7
    assert len(done) == 1
    assert len(store.incidents.evidence(done[0]).samples) == 5
    assert (tmp_path / "cyberport-pier" / "booking-12.tlog").stat().st_size > 0
    counters = recorder.counters()
    assert counters.written == counters.queued == 7 + 1 + 5
    assert counters.tlog_records == 4
    # After close nothing is queued, nothing raises, and the loss is counted.
    recorder.record_track(track(2, vehicle))
    assert recorder.counters().dropped == 2


def test_a_recorder_never_started_writes_its_queue_on_close(
    engine: Engine, tmp_path: Path
) -> None:
    store = store_for(engine)
    vehicle = f"udp/{uuid.uuid4().hex[:8]}"
    recorder = TelemetryRecorder(*store, tmp_path)
    recorder.record_track(track(4, vehicle))

    assert recorder.close()
    assert len(store.tracks.track(vehicle_key=vehicle)) == 4


@pytest.fixture
def impatient_sqlite(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A migrated SQLite file whose connections give up on a lock after 20 ms."""
    path = tmp_path / "locked.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()

    def short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=20")

    event.listen(engine, "connect", short_busy_timeout)
    yield engine, path
    engine.dispose()


def test_a_locked_sqlite_database_is_retried_until_the_lock_is_released(
    impatient_sqlite: tuple[Engine, Path], recorder_factory: Any
) -> None:
    engine, path = impatient_sqlite
    store = store_for(engine)
    recorder = recorder_factory(store, flush_interval_s=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    done: list[tuple[int, bool, float]] = []
    try:
        recorder.record_track(track(5, "udp/locked"))
        recorder.open_incident(
            draft("udp/locked"), lambda i, c: done.append((i, c, time.monotonic()))
        )
        time.sleep(0.6)
        held_until = time.monotonic()
        assert not done  # nothing got through while the lock was held
    finally:
        other.execute("COMMIT")
        other.close()

    assert recorder.flush()
    assert len(done) == 1
    assert done[0][2] >= held_until
    assert len(store.tracks.track(vehicle_key="udp/locked")) == 5
    counters = recorder.counters()
    assert counters.retries >= 2
    assert (counters.failed, counters.held) == (0, 0)


def test_data_that_cannot_be_written_is_held_and_written_once_the_db_is_fixed(
    tmp_path: Path, recorder_factory: Any
) -> None:
    # A database nobody migrated: every write fails until the schema is there.
    engine = make_engine(f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}")
    try:
        store = store_for(engine)
        recorder = recorder_factory(
            store, flush_interval_s=0.05, retry_budget_s=0.1, held_retry_s=0.2
        )
        done: list[int] = []
        recorder.record_track(track(3, "udp/held"))
        recorder.open_incident(draft("udp/held"), lambda i, _c: done.append(i))
        assert wait_until(lambda: recorder.counters().held == 4)
        assert recorder.counters().failed >= 2
        assert not done

        upgrade(engine)

        assert wait_until(lambda: recorder.counters().held == 0)
        assert recorder.flush()
        assert len(done) == 1
        assert len(store.tracks.track(vehicle_key="udp/held")) == 3
        assert recorder.counters().written == recorder.counters().queued
    finally:
        engine.dispose()


def test_a_tlog_is_read_back_by_pymavlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_engine: Engine
) -> None:
    store = store_for(sqlite_engine)
    t0_s = T0.timestamp()
    frames = mavlink_frames(t0_s, 20)
    # Two recorders in turn: a restarted server appends to the same recording.
    for part in (frames[:12], frames[12:]):
        recorder = TelemetryRecorder(*store, tmp_path, flush_interval_s=0.05)
        recorder.start()
        recorder.record_frames("cyberport-pier/booking-12", part[:5])
        recorder.record_frames("cyberport-pier/booking-12", part[5:])
        assert recorder.close()
    path = tmp_path / "cyberport-pier" / "booking-12.tlog"

    read = read_with_pymavlink(path, monkeypatch)

    assert len(read) == 20
    assert [r[0] for r in read[:2]] == ["HEARTBEAT", "GLOBAL_POSITION_INT"]
    assert {r[1] for r in read} == {42}
    assert [r[2] for r in read] == pytest.approx([t for t, _ in frames], abs=1e-6)
    assert path.stat().st_size == sum(8 + len(raw) for _, raw in frames)


def test_a_file_that_is_no_tlog_is_moved_aside_not_appended_to(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    path = tmp_path / "site" / "booking-5.tlog"
    path.parent.mkdir()
    path.write_bytes(b"these bytes are not a tlog at all")
    frames = mavlink_frames(T0.timestamp(), 3)
    recorder = TelemetryRecorder(*store_for(sqlite_engine), tmp_path)
    recorder.start()
    recorder.record_frames("site/booking-5", frames)

    assert recorder.close()
    assert list(read_tlog(path)) == frames
    (aside,) = path.parent.glob("booking-5.tlog.bad-*")
    assert aside.read_bytes() == b"these bytes are not a tlog at all"


@pytest.mark.parametrize(
    "key",
    ["", "../escape", "/etc/passwd", "a//b", ".hidden", "a/../b", "x y", "a/b/c/d/e"],
)
def test_a_tlog_key_that_could_leave_the_tlog_directory_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="tlog key"):
        check_tlog_key(key)


def test_bad_frames_are_refused_in_the_caller(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    recorder = TelemetryRecorder(*store_for(sqlite_engine), tmp_path)
    with pytest.raises(ValueError, match="not non-empty bytes"):
        recorder.record_frames("k", [(1.0, b"")])
    with pytest.raises(ValueError, match="epoch seconds"):
        recorder.record_frames("k", [(float("nan"), b"\xfd")])
    assert recorder.close()


def test_purge_removes_old_tlogs_and_track_samples_but_keeps_recent_ones(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    store = store_for(sqlite_engine)
    now = T0 + timedelta(days=40)
    recorder = TelemetryRecorder(*store, tmp_path, flush_interval_s=0.05)
    recorder.start()
    try:
        recorder.record_frames("site/booking-1", mavlink_frames(T0.timestamp(), 2))
        recorder.record_frames("site/booking-2", mavlink_frames(now.timestamp(), 2))
        recorder.record_track(track(3, "udp/old", T0.timestamp()))
        recorder.record_track(
            track(2, "udp/new", (now - timedelta(days=1)).timestamp())
        )
        assert recorder.flush()
        old = tmp_path / "site" / "booking-1.tlog"
        os.utime(old, (T0.timestamp(), T0.timestamp()))
        recent = (now - timedelta(days=1)).timestamp()
        os.utime(tmp_path / "site" / "booking-2.tlog", (recent, recent))

        result = recorder.purge(older_than_days=30, now=now)

        assert (result.track_rows, result.tlog_files) == (3, 1)
        assert not old.exists()
        assert store.tracks.track(vehicle_key="udp/old") == []
        assert len(store.tracks.track(vehicle_key="udp/new")) == 2
        # The purged recording starts afresh when its booking records again.
        recorder.record_frames("site/booking-1", mavlink_frames(now.timestamp(), 1))
        assert recorder.flush()
        assert old.exists()
    finally:
        recorder.close()
    with pytest.raises(ValueError, match="retention"):
        recorder.purge(older_than_days=-1)


def test_records_encoded_by_the_caller_are_read_back_by_pymavlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_engine: Engine
) -> None:
    store = store_for(sqlite_engine)
    frames = mavlink_frames(T0.timestamp(), 32)
    # Two recorders in turn, one second of 16 frames per call, as the gateway sends.
    for part in (frames[:16], frames[16:]):
        recorder = TelemetryRecorder(*store, tmp_path, flush_interval_s=0.05)
        recorder.start()
        recorder.record_tlog("cyberport-pier/booking-12", encoded(part[:9]), 9)
        recorder.record_tlog("cyberport-pier/booking-12", encoded(part[9:]), 7)
        assert recorder.close()
        assert recorder.counters().tlog_records == 16
    path = tmp_path / "cyberport-pier" / "booking-12.tlog"

    read = read_with_pymavlink(path, monkeypatch)

    assert [r[0] for r in read] == ["HEARTBEAT", "GLOBAL_POSITION_INT"] * 16
    assert {r[1] for r in read} == {42}
    assert [r[2] for r in read] == pytest.approx([t for t, _ in frames], abs=1e-6)
    assert path.read_bytes() == encoded(frames)


def test_record_tlog_and_record_frames_write_the_same_bytes(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    frames = mavlink_frames(T0.timestamp(), 6)
    recorder = TelemetryRecorder(*store_for(sqlite_engine), tmp_path)
    recorder.start()
    recorder.record_tlog("site/by-records", encoded(frames), 6)
    recorder.record_frames("site/by-frames", frames)

    assert recorder.close()
    by_records = (tmp_path / "site" / "by-records.tlog").read_bytes()
    assert by_records == (tmp_path / "site" / "by-frames.tlog").read_bytes()
    assert list(read_tlog(tmp_path / "site" / "by-records.tlog")) == frames


def test_record_tlogs_writes_each_recording_of_a_batch_and_refuses_a_bad_one_whole(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    frames = mavlink_frames(T0.timestamp(), 8)
    recorder = TelemetryRecorder(*store_for(sqlite_engine), tmp_path)
    recorder.start()
    recorder.record_tlogs(
        [
            ("site/booking-1", encoded(frames[:5]), 5),
            ("site/unbooked-sysid-9", bytearray(encoded(frames[5:])), 3),
        ]
    )
    with pytest.raises(ValueError, match="tlog key"):
        recorder.record_tlogs(
            [("site/booking-2", encoded(frames), 8), ("../escape", b"x", 1)]
        )

    assert recorder.close()
    assert list(read_tlog(tmp_path / "site" / "booking-1.tlog")) == frames[:5]
    assert list(read_tlog(tmp_path / "site" / "unbooked-sysid-9.tlog")) == frames[5:]
    assert not (tmp_path / "site" / "booking-2.tlog").exists()
    assert recorder.counters().tlog_records == 8


def test_a_bytearray_handed_to_record_tlog_may_be_reused_at_once(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    frames = mavlink_frames(T0.timestamp(), 4)
    recorder = TelemetryRecorder(*store_for(sqlite_engine), tmp_path)
    pending = bytearray(encoded(frames))
    recorder.record_tlog("site/booking-3", pending, 4)
    pending.clear()  # the gateway empties its buffer straight after the call

    assert recorder.close()  # never started: the queue is written here
    assert list(read_tlog(tmp_path / "site" / "booking-3.tlog")) == frames


@pytest.mark.parametrize(
    ("key", "records", "count", "reason"),
    [
        ("../escape", None, 1, "tlog key"),
        ("site/booking-1", b"", 1, "non-empty bytes"),
        ("site/booking-1", "not bytes", 1, "non-empty bytes"),
        ("site/booking-1", memoryview(b"\x00" * 40), 1, "non-empty bytes"),
        ("site/booking-1", None, 0, "count must be"),
        ("site/booking-1", None, -3, "count must be"),
        ("site/booking-1", None, True, "count must be"),
        ("site/booking-1", None, 1.0, "count must be"),
        ("site/booking-1", None, 1000, "cannot hold 1000"),
        ("site/booking-1", "raw frame", 1, "no MAVLink frame"),
    ],
)
def test_record_tlog_refuses_bad_input_in_the_caller(
    tmp_path: Path,
    sqlite_engine: Engine,
    key: str,
    records: Any,
    count: Any,
    reason: str,
) -> None:
    frames = mavlink_frames(T0.timestamp(), 2)
    if records is None:
        records = encoded(frames)
    elif records == "raw frame":  # frames without their timestamps
        records = b"".join(raw for _, raw in frames) * 2
    recorder = TelemetryRecorder(*store_for(sqlite_engine), tmp_path)

    with pytest.raises(ValueError, match=reason):
        recorder.record_tlog(key, records, count)
    assert recorder.close()
    assert not any(tmp_path.rglob("*.tlog"))
    assert recorder.counters().dropped == 0


def test_record_tlog_after_close_or_without_a_directory_counts_the_frames_dropped(
    tmp_path: Path, sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    records = encoded(mavlink_frames(T0.timestamp(), 16))
    closed = TelemetryRecorder(*store_for(sqlite_engine), tmp_path)
    closed.start()
    assert closed.close()
    no_directory = TelemetryRecorder(*store_for(sqlite_engine), None)

    closed.record_tlog("site/booking-1", records, 16)
    no_directory.record_tlog("site/booking-1", records, 16)

    assert no_directory.close()
    assert closed.counters().dropped == 16
    assert no_directory.counters().dropped == 16
    assert (closed.counters().tlog_records, no_directory.counters().tlog_records) == (
        0,
        0,
    )
    assert not any(tmp_path.rglob("*.tlog"))
    assert "dropped 16 tlog frame(s) for site/booking-1" in caplog.text


@pytest.mark.parametrize(
    ("soft_limit", "expected"),
    [
        (1024, 512),
        (4096, 2048),
        (20_000, MAX_OPEN_TLOGS),
        (resource.RLIM_INFINITY, MAX_OPEN_TLOGS),
        (2, 1),
    ],
)
def test_the_open_tlog_default_is_half_the_file_limit_up_to_a_cap(
    monkeypatch: pytest.MonkeyPatch, soft_limit: int, expected: int
) -> None:
    monkeypatch.setattr(
        resource, "getrlimit", lambda _which: (soft_limit, resource.RLIM_INFINITY)
    )
    assert default_max_open_tlogs() == expected


def test_the_open_tlog_default_falls_back_to_256_when_the_limit_is_unreadable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(_which: int) -> tuple[int, int]:
        raise OSError("no limits here")

    monkeypatch.setattr(resource, "getrlimit", refuse)
    assert default_max_open_tlogs() == 256


def test_a_recorder_keeps_a_thousand_drone_fleet_open_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_engine: Engine
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (65_536, 65_536))
    recorder = TelemetryRecorder(*store_for(sqlite_engine), tmp_path)
    assert recorder.max_open_tlogs == MAX_OPEN_TLOGS >= 1000
    explicit = TelemetryRecorder(*store_for(sqlite_engine), tmp_path, max_open_tlogs=8)
    assert explicit.max_open_tlogs == 8
    assert recorder.close()
    assert explicit.close()


def test_recordings_closed_to_make_room_are_reopened_without_a_rescan(
    tmp_path: Path, sqlite_engine: Engine, scans: list[Path]
) -> None:
    keys = [f"site/booking-{i}" for i in range(5)]
    seconds = [mavlink_frames(T0.timestamp() + s, 16) for s in range(4)]
    recorder = TelemetryRecorder(
        *store_for(sqlite_engine), tmp_path, flush_interval_s=60.0, max_open_tlogs=2
    )
    recorder.start()
    for frames in seconds:
        for key in keys:
            recorder.record_tlog(key, encoded(frames), 16)
        assert recorder.flush()

    assert recorder.close()
    assert scans == []  # created, then only ever reopened after our own close
    everything = [f for frames in seconds for f in frames]
    for key in keys:
        assert list(read_tlog(tmp_path / f"{key}.tlog")) == everything
    assert recorder.counters().tlog_records == 5 * 4 * 16


def test_a_recording_changed_while_closed_is_scanned_and_its_torn_tail_cut(
    tmp_path: Path, sqlite_engine: Engine, scans: list[Path]
) -> None:
    first, second = (mavlink_frames(T0.timestamp() + s, 16) for s in range(2))
    path = tmp_path / "site" / "booking-1.tlog"
    recorder = TelemetryRecorder(
        *store_for(sqlite_engine), tmp_path, flush_interval_s=60.0, max_open_tlogs=1
    )
    recorder.start()
    recorder.record_tlog("site/booking-1", encoded(first), 16)
    assert recorder.flush()
    recorder.record_tlog("site/booking-2", encoded(first), 16)  # closes booking-1
    assert recorder.flush()
    with path.open("ab") as file:  # someone else's torn write while it was closed
        file.write(encode_record(T0.timestamp(), first[0][1])[:-3])

    recorder.record_tlog("site/booking-1", encoded(second), 16)
    assert recorder.close()

    assert scans == [path]
    assert list(read_tlog(path)) == first + second


def test_a_new_recording_is_opened_at_once_and_appended_to_every_tlog_interval(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    frames = mavlink_frames(T0.timestamp(), 8)
    recorder = TelemetryRecorder(
        *store_for(sqlite_engine),
        tmp_path,
        flush_interval_s=0.05,
        tlog_flush_interval_s=60.0,
    )
    recorder.start()
    path = tmp_path / "site" / "booking-9.tlog"
    try:
        recorder.record_tlog("site/booking-9", encoded(frames[:4]), 4)
        assert wait_until(lambda: path.exists() and path.stat().st_size > 0)
        assert path.read_bytes() == encoded(frames[:4])

        # The file is open now: more records wait for the (long) tlog interval.
        recorder.record_tlog("site/booking-9", encoded(frames[4:]), 4)
        time.sleep(0.3)
        assert path.read_bytes() == encoded(frames[:4])
    finally:
        assert recorder.close()
    assert path.read_bytes() == encoded(frames)


def test_evidence_built_later_is_built_in_the_writer_thread_after_on_done(
    engine: Engine, recorder_factory: Any
) -> None:
    store = store_for(engine)
    recorder = recorder_factory(store)
    vehicle = f"udp/{uuid.uuid4().hex[:8]}"
    t_s = T0.timestamp()
    order: list[str] = []

    def on_done(_incident_id: int, _created: bool) -> None:
        order.append("on_done")

    def build() -> tuple[list[EvidenceSample], list[tuple[float, bytes]]]:
        order.append(f"built in {threading.current_thread().name}")
        return evidence(t_s - 3.0, 31, EvidencePhase.BEFORE), mavlink_frames(t_s, 4)

    recorder.open_incident(draft(vehicle), on_done, later_evidence=build)
    assert recorder.flush()

    assert order == ["on_done", "built in skyberth-db-writer"]
    (incident,) = store.incidents.list_incidents(drone_id=f"D-{vehicle}")
    stored = store.incidents.evidence(incident.id)
    assert (len(stored.samples), len(stored.frames)) == (31, 4)
    counters = recorder.counters()
    assert counters.written == counters.queued  # the built rows are counted too


def test_evidence_that_cannot_be_built_is_logged_and_the_incident_kept(
    engine: Engine, recorder_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_for(engine)
    recorder = recorder_factory(store)
    vehicle = f"udp/{uuid.uuid4().hex[:8]}"

    def broken() -> tuple[list[EvidenceSample], list[tuple[float, bytes]]]:
        raise ValueError("a ring that does not parse")

    with caplog.at_level(logging.ERROR, logger="telemetry.recording.db_writer"):
        recorder.open_incident(draft(vehicle), lambda *_: None, later_evidence=broken)
        recorder.record_track(track(2, vehicle))
        assert recorder.flush()

    (incident,) = store.incidents.list_incidents(drone_id=f"D-{vehicle}")
    assert store.incidents.evidence(incident.id).samples == ()
    assert len(store.tracks.track(vehicle_key=vehicle)) == 2
    assert "its evidence could not be built" in caplog.text


def test_the_tlog_disk_budget_stops_raw_recording_with_one_clear_log_line(
    tmp_path: Path, sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    frames = mavlink_frames(T0.timestamp(), 40)
    one = len(encoded(frames[:10]))
    recorder = TelemetryRecorder(
        *store_for(sqlite_engine),
        tmp_path,
        flush_interval_s=0.05,
        tlog_budget_bytes=one * 2 + 1,
    )
    recorder.start()
    for i in range(4):
        recorder.record_tlog(
            f"site/unbooked-sysid-{i}", encoded(frames[i * 10 :][:10]), 10
        )
        assert recorder.flush()
    assert recorder.close()

    on_disk = sum(p.stat().st_size for p in tmp_path.rglob("*.tlog"))
    assert on_disk <= one * 2 + 1
    counters = recorder.counters()
    assert (counters.tlog_records, counters.tlog_budget_dropped) == (20, 20)
    assert counters.dropped == 20
    lines = [r for r in caplog.records if "tlog disk budget reached" in r.message]
    assert len(lines) == 1
    assert "no longer recorded" in lines[0].message


def test_the_tlog_queue_is_bounded_in_bytes_and_drops_are_counted(
    tmp_path: Path, sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    records = encoded(mavlink_frames(T0.timestamp(), 10))
    # Not started: nothing drains the queue, as when the disk is slower than links.
    recorder = TelemetryRecorder(
        *store_for(sqlite_engine), tmp_path, max_queued_tlog_bytes=len(records) * 3
    )
    for i in range(5):
        recorder.record_tlog(f"site/booking-{i}", records, 10)

    assert recorder.counters().tlog_queue_dropped == 20
    assert "the tlog writer is" in caplog.text
    assert recorder.close()
    assert recorder.counters().tlog_records == 30


def test_incidents_are_queued_whatever_the_tlog_queue_holds(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    records = encoded(mavlink_frames(T0.timestamp(), 10))
    recorder = TelemetryRecorder(
        *store_for(sqlite_engine), tmp_path, max_queued_tlog_bytes=len(records)
    )
    for i in range(3):
        recorder.record_tlog(f"site/booking-{i}", records, 10)
    stored: list[int] = []
    recorder.open_incident(
        draft("udpin:0.0.0.0:14550/9"), lambda i, _c: stored.append(i)
    )
    recorder.start()
    assert recorder.close()
    assert len(stored) == 1
