"""Every job kind on the recorder's database queue is bounded, incidents are never
the ones dropped (issue 16 item 3): the real recorder on a real SQLite file.

Before, only replay positions were bounded: incidents, evidence and timeline
events piled up without limit or word while the database was away.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from telemetry.incidents.model import EvidencePhase
from telemetry.recording.recorder import TelemetryRecorder
from tests.integration.test_recorder import (
    T0,
    draft,
    evidence,
    impatient_sqlite as impatient_sqlite,  # the fixture, for this module
    store_for,
    track,
)


def test_incidents_past_their_bound_are_queued_counted_and_logged_not_dropped(
    tmp_path: Path, sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_for(sqlite_engine)
    # Not started: nothing drains the queue, as while the database is away.
    recorder = TelemetryRecorder(
        *store, tmp_path, max_must_keep_jobs=3, must_keep_wait_s=0.05
    )
    stored: list[int] = []
    started = time.monotonic()
    for i in range(6):
        recorder.open_incident(
            draft(f"udp/bound-{i}"),
            lambda incident_id, _c: stored.append(incident_id),
            later_evidence=lambda: (
                evidence(T0.timestamp(), 4, EvidencePhase.BEFORE),
                [],
            ),
        )
    waited_s = time.monotonic() - started
    recorder.add_incident_event(999_999, T0.timestamp(), "note", {})  # no such one
    counters = recorder.counters()
    assert counters.must_keep_pending == 7
    assert counters.must_keep_over_bound == 4  # never dropped: queued past the bound
    assert counters.must_keep_waits == 1  # waited once, then not again this overflow
    assert waited_s < 1.0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("queued past the bound, not dropped" in r.message for r in errors)

    # Replay positions give way while incidents fill their bound.
    recorder.record_track(track(5, "udp/bound-track"))
    assert recorder.counters().track_dropped == 5

    assert recorder.close()
    assert len(stored) == 6
    assert all(len(store.incidents.evidence(i).samples) == 4 for i in stored)
    after = recorder.counters()
    assert after.must_keep_pending == 0  # the bad event was discarded, loudly
    assert after.dropped == 5 + 1


def test_at_the_bound_a_caller_waits_briefly_for_the_writer_to_make_room(
    impatient_sqlite: tuple[Engine, Path], tmp_path: Path
) -> None:
    engine, path = impatient_sqlite
    store = store_for(engine)
    recorder = TelemetryRecorder(
        *store, tmp_path, max_must_keep_jobs=2, must_keep_wait_s=5.0
    )
    recorder.start()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # the writer cannot write: both wait
    try:
        stored: list[int] = []
        for i in range(2):
            recorder.open_incident(
                draft(f"udp/room-{i}"), lambda i, _c: stored.append(i)
            )
        release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        release.start()
        started = time.monotonic()
        recorder.open_incident(draft("udp/room-2"), lambda i, _c: stored.append(i))
        waited_s = time.monotonic() - started
        release.join()
    finally:
        other.close()
    assert 0.2 <= waited_s < 5.0  # until the writer stored one, not the full wait
    counters = recorder.counters()
    assert (counters.must_keep_waits, counters.must_keep_over_bound) == (1, 0)
    assert recorder.close()
    assert len(stored) == 3
    assert recorder.counters().must_keep_pending == 0


def test_replay_positions_over_their_bound_are_dropped_newest_first_and_counted(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    store = store_for(sqlite_engine)
    recorder = TelemetryRecorder(*store, tmp_path, batch_rows=10, max_pending_rows=10)
    recorder.record_track(track(8, "udp/rows"))
    recorder.record_track(track(5, "udp/rows", T0.timestamp() + 100))
    assert recorder.counters().track_dropped == 5
    assert recorder.close()
    assert len(store.tracks.track(vehicle_key="udp/rows")) == 8
