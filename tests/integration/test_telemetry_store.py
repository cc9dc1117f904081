"""The incident repository and the track store against real databases: incidents,
grouping, evidence, tracks."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.site import CorridorId, SiteId
from booking.catalogue import StaticSiteCatalogue
from booking.model import Actor, BookingId, DroneId, OperatorId, Role, UserId
from telemetry.incidents.model import (
    EvidencePhase,
    EvidenceSample,
    Incident,
    IncidentKind,
    IncidentNotFound,
    IncidentState,
    NewIncident,
    Severity,
    TrackSample,
    VolumeSnapshot,
)
from telemetry.incidents.repository import IncidentRepository
from telemetry.incidents.service import IncidentService, IncidentUnitOfWork
from telemetry.incidents.workflow import Acknowledge, Close, Investigate, Reopen
from telemetry.recording.track_store import TrackStore
from web.db import make_engine, write_session
from web.migrate import alembic_config, upgrade

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
TELEMETRY_TABLES = {
    "incidents",
    "incident_events",
    "incident_samples",
    "incident_frames",
    "track_samples",
}


def incidents_for(engine: Engine) -> IncidentRepository:
    return IncidentRepository(lambda: write_session(engine), lambda: Session(engine))


def tracks_for(engine: Engine) -> TrackStore:
    return TrackStore(lambda: write_session(engine), lambda: Session(engine))


SAFETY_OFFICER = Actor(UserId("safety-1"), Role.SAFETY_OFFICER)


def service_for(engine: Engine) -> IncidentService:
    """The incident service: the one way a workflow state changes."""
    return IncidentService(lambda: IncidentUnitOfWork(lambda: write_session(engine)))


def close(engine: Engine, incident_id: int, at: datetime) -> Incident:
    """Take the incident through the workflow to closed, every step at ``at``."""
    service = service_for(engine)
    for command in (Acknowledge(), Investigate(), Close("wind gust")):
        closed = service.apply(incident_id, command, SAFETY_OFFICER, at).incident
    return closed


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def draft(
    site: str,
    *,
    kind: IncidentKind = IncidentKind.CORRIDOR_EXIT_LATERAL,
    severity: Severity = Severity.BREACH,
    at: datetime = T0,
    drone: str | None = "D7",
    booking: int | None = 12,
    vehicle_key: str = "udpin:0.0.0.0:14550/42",
    operator: str | None = "op-harbour",
    key: str | None = None,
    message: str = "Kite-7 left corridor C1 sideways (3.2 m outside)",
) -> NewIncident:
    return NewIncident(
        site_id=SiteId(site),
        kind=kind,
        severity=severity,
        at=at,
        vehicle_key=vehicle_key,
        sysid=42,
        message=message,
        drone_id=DroneId(drone) if drone else None,
        operator_id=OperatorId(operator) if operator else None,
        booking_id=BookingId(booking) if booking is not None else None,
        corridor_id=CorridorId("C1"),
        rule={"rule": str(kind), "near_edge_m": 5.0},
        link={"msgs_per_s": 15.1, "link_age_s": 0.08},
        idempotency_key=key or uuid.uuid4().hex,
    )


def sample(t_s: float, phase: EvidencePhase = EvidencePhase.BEFORE) -> EvidenceSample:
    return EvidenceSample(
        t_s=t_s,
        lat_deg=22.2606 + t_s * 1e-9,
        lon_deg=114.1289,
        alt_amsl_m=61.2,
        rel_alt_m=58.9,
        vn_mps=1.0,
        ve_mps=-2.0,
        vd_mps=0.1,
        heading_deg=None if t_s % 2 else 271.0,
        state="outside_lateral",
        phase=phase,
    )


def track_sample(
    t_s: float, *, booking: int | None, vehicle_key: str, site: str = "site"
) -> TrackSample:
    return TrackSample(
        site_id=SiteId(site),
        vehicle_key=vehicle_key,
        sysid=42,
        t_s=t_s,
        lat_deg=22.26,
        lon_deg=114.13,
        alt_amsl_m=60.0 + t_s % 7,
        rel_alt_m=58.0,
        speed_mps=8.4,
        heading_deg=90.0,
        battery_pct=None,
        state="inside",
        drone_id=DroneId("D7"),
        booking_id=BookingId(booking) if booking is not None else None,
    )


def test_an_incident_round_trips_with_its_volume_rule_and_link_figures_frozen(
    engine: Engine, catalogue: StaticSiteCatalogue
) -> None:
    site = catalogue.sites_by_id["cyberport-pier"]
    corridor = site.corridor("C1")
    volume = VolumeSnapshot.of(corridor.volume, site.projection, "corridor:C1")
    incidents = incidents_for(engine)
    new = NewIncident(
        site_id=site.id,
        kind=IncidentKind.CORRIDOR_EXIT_VERTICAL,
        severity=Severity.BREACH,
        at=T0,
        vehicle_key=unique("udpin:0.0.0.0:14550/42"),
        sysid=42,
        message="Kite-7 climbed out of corridor C1",
        drone_id=DroneId(unique("D")),
        operator_id=OperatorId("op-harbour"),
        booking_id=BookingId(12),
        corridor_id=corridor.id,
        rule={"rule": "corridor_exit_vertical", "vertical_margin_m": 0.0},
        volume=volume,
        link={"msgs_per_s": 15.1, "gps_fix": 3, "satellites": None},
    )

    incident_id, created = incidents.open_incident(new)
    stored = incidents.get_incident(incident_id)

    assert created
    assert stored is not None
    assert (stored.kind, stored.severity, stored.state) == (
        IncidentKind.CORRIDOR_EXIT_VERTICAL,
        Severity.BREACH,
        IncidentState.OPEN,
    )
    assert stored.opened_at == T0
    assert stored.opened_at.tzinfo is UTC
    assert stored.updated_at == stored.last_occurrence_at == T0
    assert stored.closed_at is None
    assert (stored.drone_id, stored.booking_id, stored.corridor_id) == (
        new.drone_id,
        12,
        "C1",
    )
    assert stored.rule == new.rule
    assert stored.link == new.link
    assert stored.volume == volume
    assert stored.volume is not None
    assert stored.volume.outline_lonlat().equals_exact(
        site.projection.geometry_to_lonlat(corridor.volume.outline), 1e-7
    )
    assert stored.occurrences == 1
    assert stored.idempotency_key == new.idempotency_key
    assert [e.kind for e in incidents.incident_events(incident_id)] == ["opened"]


def test_a_repeated_exit_of_one_drone_in_one_booking_joins_the_open_incident(
    engine: Engine,
) -> None:
    incidents = incidents_for(engine)
    site = unique("site")
    first, created = incidents.open_incident(draft(site, severity=Severity.WARNING))
    again, joined_created = incidents.open_incident(
        draft(site, at=T0 + timedelta(seconds=40), message="out again, 5.0 m")
    )

    incident = incidents.get_incident(first)
    assert created
    assert (again, joined_created) == (first, False)
    assert incident is not None
    assert incident.occurrences == 2
    assert incident.last_occurrence_at == T0 + timedelta(seconds=40)
    assert incident.severity is Severity.BREACH  # rises to the worst occurrence
    assert incident.message == "Kite-7 left corridor C1 sideways (3.2 m outside)"
    events = incidents.incident_events(first)
    assert [e.kind for e in events] == ["opened", "occurrence"]
    assert events[1].details["message"] == "out again, 5.0 m"


@pytest.mark.parametrize(
    "other",
    [
        {"kind": IncidentKind.CORRIDOR_EXIT_VERTICAL},
        {"booking": 13},
        {"booking": None},
        {"drone": "D8"},
    ],
    ids=["another-kind", "another-booking", "no-booking", "another-drone"],
)
def test_an_occurrence_outside_the_group_opens_its_own_incident(
    engine: Engine, other: dict[str, object]
) -> None:
    incidents = incidents_for(engine)
    site = unique("site")
    first, _ = incidents.open_incident(draft(site))
    second, created = incidents.open_incident(draft(site, **other))  # type: ignore[arg-type]  # parametrised keywords of draft

    assert created
    assert second != first


def test_an_unregistered_vehicle_groups_by_its_vehicle_key(engine: Engine) -> None:
    incidents = incidents_for(engine)
    site = unique("site")
    kind = IncidentKind.UNBOOKED_FLIGHT
    a, _ = incidents.open_incident(
        draft(site, kind=kind, drone=None, booking=None, vehicle_key="udp/7")
    )
    a_again, joined = incidents.open_incident(
        draft(site, kind=kind, drone=None, booking=None, vehicle_key="udp/7")
    )
    b, created = incidents.open_incident(
        draft(site, kind=kind, drone=None, booking=None, vehicle_key="udp/8")
    )

    assert (a_again, joined) == (a, False)
    assert created
    assert b != a


def test_a_closed_incident_is_not_joined_but_a_reopened_one_is(engine: Engine) -> None:
    incidents = incidents_for(engine)
    site = unique("site")
    first, _ = incidents.open_incident(draft(site))
    closed = close(engine, first, T0 + timedelta(minutes=5))
    second, created = incidents.open_incident(draft(site, at=T0 + timedelta(minutes=6)))
    reopened = (
        service_for(engine)
        .apply(first, Reopen("gusts again"), SAFETY_OFFICER, T0 + timedelta(minutes=7))
        .incident
    )
    # Two incidents of the group are now not closed; the newest one absorbs.
    third, joined_created = incidents.open_incident(
        draft(site, at=T0 + timedelta(minutes=8))
    )

    assert closed.state is IncidentState.CLOSED
    assert closed.closed_at == T0 + timedelta(minutes=5)
    assert closed.version == 4  # acknowledged, investigating, closed
    assert created
    assert second != first
    assert reopened.closed_at is None
    assert (third, joined_created) == (second, False)
    change = incidents.incident_events(first)[3]
    assert (change.kind, change.actor_id) == ("state_changed", "safety-1")
    assert change.details == {
        "from": "investigating",
        "to": "closed",
        "summary": "wind gust",
        "root_cause": "undetermined",
    }


def test_a_retried_open_with_the_same_key_returns_the_first_answer_unchanged(
    engine: Engine,
) -> None:
    incidents = incidents_for(engine)
    site = unique("site")
    opening = draft(site, key=unique("open"))
    joining = draft(site, key=unique("join"), at=T0 + timedelta(seconds=3))

    assert incidents.open_incident(opening) == incidents.open_incident(opening)
    incident_id, _ = incidents.open_incident(opening)
    assert incidents.open_incident(joining) == (incident_id, False)
    assert incidents.open_incident(joining) == (incident_id, False)

    incident = incidents.get_incident(incident_id)
    assert incident is not None
    assert incident.occurrences == 2
    assert len(incidents.incident_events(incident_id)) == 2


def test_concurrent_opens_of_one_group_make_one_incident(engine: Engine) -> None:
    incidents = incidents_for(engine)
    site = unique("site")
    drafts = [draft(site, at=T0 + timedelta(seconds=i)) for i in range(8)]
    start = threading.Barrier(len(drafts))

    def race(new: NewIncident) -> tuple[int, bool]:
        start.wait(timeout=10)
        return incidents.open_incident(new)

    with ThreadPoolExecutor(len(drafts)) as pool:
        results = list(pool.map(race, drafts))

    assert sum(created for _, created in results) == 1
    assert len({incident_id for incident_id, _ in results}) == 1
    incident = incidents.get_incident(results[0][0])
    assert incident is not None
    assert incident.occurrences == len(drafts)


def test_list_incidents_filters_and_orders_newest_first(engine: Engine) -> None:
    incidents = incidents_for(engine)
    site = unique("site")
    operator = unique("op")
    lateral, _ = incidents.open_incident(draft(site, operator=operator))
    lost, _ = incidents.open_incident(
        draft(
            site,
            kind=IncidentKind.LINK_LOST,
            at=T0 + timedelta(hours=1),
            drone="D9",
            booking=77,
            operator=operator,
        )
    )
    late, _ = incidents.open_incident(
        draft(site, kind=IncidentKind.LOW_BATTERY, at=T0 + timedelta(hours=2))
    )
    close(engine, late, T0 + timedelta(hours=3))

    def ids(**filters: object) -> list[int]:
        return [i.id for i in incidents.list_incidents(site_id=site, **filters)]  # type: ignore[arg-type]  # keyword filters forwarded as given

    assert ids() == [late, lost, lateral]
    assert ids(state=IncidentState.CLOSED) == [late]
    assert ids(kind=IncidentKind.LINK_LOST) == [lost]
    assert ids(drone_id="D9") == [lost]
    assert ids(operator_id=operator) == [lost, lateral]
    assert ids(booking_id=77) == [lost]
    assert ids(start=T0 + timedelta(minutes=30)) == [late, lost]
    assert ids(end=T0 + timedelta(hours=1)) == [lateral]
    assert ids(limit=2) == [late, lost]
    assert ids(limit=2, offset=2) == [lateral]
    assert incidents.list_incidents(site_id=unique("nowhere")) == []
    with pytest.raises(ValueError, match="limit"):
        incidents.list_incidents(limit=0)
    with pytest.raises(ValueError, match="timezone"):
        incidents.list_incidents(start=datetime(2026, 1, 1))  # noqa: DTZ001  (a naive time is the bad input)


def test_open_incidents_leave_out_closed_ones_and_filter_by_site(
    engine: Engine,
) -> None:
    incidents = incidents_for(engine)
    site, other_site = unique("site"), unique("site")
    kept, _ = incidents.open_incident(draft(site))
    closed, _ = incidents.open_incident(draft(site, kind=IncidentKind.LINK_LOST))
    close(engine, closed, T0 + timedelta(minutes=1))
    acknowledged, _ = incidents.open_incident(
        draft(site, kind=IncidentKind.LOW_BATTERY)
    )
    service_for(engine).apply(acknowledged, Acknowledge(), SAFETY_OFFICER, T0)
    elsewhere, _ = incidents.open_incident(draft(other_site))

    assert [i.id for i in incidents.open_incidents(site)] == [kept, acknowledged]
    everywhere = {i.id for i in incidents.open_incidents()}
    assert {kept, acknowledged, elsewhere} <= everywhere
    assert closed not in everywhere


def test_evidence_is_kept_in_time_order_and_overlapping_windows_once(
    engine: Engine,
) -> None:
    incidents = incidents_for(engine)
    incident_id, _ = incidents.open_incident(draft(unique("site")))
    t = T0.timestamp()
    before = [sample(t - 2.0 + i * 0.1) for i in reversed(range(21))]
    frames = [(t - 2.0 + i * 0.1, bytes([0xFD, i, 0, 0])) for i in range(21)]

    assert incidents.add_evidence(incident_id, before, frames) == (21, 21)
    # The 'after' window starts at the breach sample, already stored.
    after = [sample(t + i * 0.1, EvidencePhase.AFTER) for i in range(11)]
    assert incidents.add_evidence(incident_id, after, frames[-1:]) == (10, 0)
    assert incidents.add_evidence(incident_id, after, []) == (0, 0)  # a retried write

    evidence = incidents.evidence(incident_id)
    times = [s.t_s for s in evidence.samples]
    assert times == sorted(times)
    assert len(times) == 31
    assert evidence.samples[0] == sample(t - 2.0)
    assert evidence.samples[-1] == sample(t + 1.0, EvidencePhase.AFTER)
    assert [s.phase for s in evidence.samples].count(EvidencePhase.AFTER) == 10
    assert evidence.frames == tuple(frames)


def test_evidence_and_events_for_a_missing_incident_are_refused(
    engine: Engine,
) -> None:
    incidents = incidents_for(engine)
    with pytest.raises(IncidentNotFound, match="incident 987654321 not found"):
        incidents.add_evidence(987654321, [sample(1.0)], [])
    with pytest.raises(IncidentNotFound):
        incidents.add_incident_event(987654321, "returned", T0)
    assert incidents.get_incident(987654321) is None


def test_an_incident_event_goes_on_the_timeline(engine: Engine) -> None:
    incidents = incidents_for(engine)
    incident_id, _ = incidents.open_incident(draft(unique("site")))
    later = T0 + timedelta(seconds=12)
    event_id = incidents.add_incident_event(
        incident_id, "returned", later, {"inside_for_s": 2.0}
    )

    events = incidents.incident_events(incident_id)
    incident = incidents.get_incident(incident_id)
    assert (events[-1].id, events[-1].kind, events[-1].at) == (
        event_id,
        "returned",
        later,
    )
    assert events[-1].details == {"inside_for_s": 2.0}
    assert incident is not None
    assert incident.updated_at == later


def test_a_track_round_trips_in_time_order_by_booking_and_by_vehicle(
    engine: Engine,
) -> None:
    tracks = tracks_for(engine)
    booking = int(uuid.uuid4().int % 1_000_000_000)
    vehicle = unique("udp/42")
    t = T0.timestamp()
    samples = [
        track_sample(t + i, booking=booking, vehicle_key=vehicle) for i in range(10)
    ]
    unbooked = [
        track_sample(t + 20 + i, booking=None, vehicle_key=vehicle) for i in range(3)
    ]

    assert tracks.append_track(list(reversed(samples)) + unbooked) == 13
    assert tracks.append_track([]) == 0

    assert tracks.track(booking_id=booking) == samples
    assert tracks.track(vehicle_key=vehicle) == samples + unbooked
    window = tracks.track(
        vehicle_key=vehicle,
        start=T0 + timedelta(seconds=2),
        end=T0 + timedelta(seconds=5),
    )
    assert window == samples[2:5]
    assert tracks.track(booking_id=booking, limit=3) == samples[:3]
    with pytest.raises(ValueError, match="booking id or a vehicle key"):
        tracks.track()


def test_a_thousand_track_samples_are_a_few_inserts_in_one_transaction(
    engine: Engine,
) -> None:
    tracks = tracks_for(engine)
    vehicle = unique("udp/42")
    t = T0.timestamp()
    samples = [
        track_sample(t + i / 16, booking=None, vehicle_key=vehicle) for i in range(1000)
    ]
    inserts: list[tuple[int, int, bool]] = []
    commits: list[str] = []

    def on_execute(
        _conn: object,
        _cursor: object,
        statement: str,
        parameters: object,
        _context: object,
        executemany: bool,
    ) -> None:
        if statement.startswith("INSERT INTO track_samples"):
            assert isinstance(parameters, list | tuple)
            inserts.append((statement.count("),") + 1, len(parameters), executemany))

    def on_commit(_conn: object) -> None:
        commits.append("commit")

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "commit", on_commit)
    try:
        assert tracks.append_track(samples) == 1000
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "commit", on_commit)

    # One multi-row INSERT per power-of-two chunk, not a database step per row.
    chunks = [512, 256, 128, 64, 32, 8]
    assert inserts == [(n, n * 14, False) for n in chunks]
    assert len(commits) == 1
    assert tracks.track(vehicle_key=vehicle) == samples


def test_evidence_frames_keep_every_byte_and_nullable_columns_stay_null(
    engine: Engine,
) -> None:
    incidents = incidents_for(engine)
    incident_id, _ = incidents.open_incident(draft(unique("site")))
    t = T0.timestamp()
    samples = [sample(t + i) for i in range(4)]  # odd seconds have no heading
    frames = [(t + i, bytes(range(256)) * (i + 1)) for i in range(3)]

    assert incidents.add_evidence(incident_id, samples, frames) == (4, 3)

    stored = incidents.evidence(incident_id)
    assert stored.samples == tuple(samples)
    assert [s.heading_deg for s in stored.samples] == [271.0, None, 271.0, None]
    assert stored.frames == tuple(frames)


def test_purge_deletes_only_older_track_samples_and_never_evidence(
    engine: Engine,
) -> None:
    incidents = incidents_for(engine)
    tracks = tracks_for(engine)
    vehicle = unique("udp/42")
    cutoff = datetime(2001, 1, 1, tzinfo=UTC)  # older than any other test's data
    t = cutoff.timestamp()
    tracks.append_track(
        [
            track_sample(t - 100 + i, booking=None, vehicle_key=vehicle)
            for i in range(105)
        ]
    )
    incident_id, _ = incidents.open_incident(draft(unique("site"), at=cutoff))
    incidents.add_evidence(incident_id, [sample(t - 50)], [(t - 50, b"\xfd\x01")])

    deleted = tracks.purge_track_before(cutoff, batch_rows=7)

    assert deleted == 100
    assert [s.t_s for s in tracks.track(vehicle_key=vehicle)] == [
        t + i for i in range(5)
    ]
    assert len(incidents.evidence(incident_id).samples) == 1
    assert tracks.purge_track_before(cutoff) == 0


def test_bad_values_are_refused_when_built_not_when_written() -> None:
    with pytest.raises(ValueError, match="finite"):
        sample(float("nan"))
    with pytest.raises(ValueError, match="not JSON"):
        NewIncident(
            site_id=SiteId("s"),
            kind=IncidentKind.LINK_LOST,
            severity=Severity.BREACH,
            at=T0,
            vehicle_key="udp/1",
            sysid=1,
            message="m",
            link={"rate": float("inf")},
        )
    with pytest.raises(ValueError, match="timezone"):
        draft("s", at=datetime(2026, 1, 1))  # noqa: DTZ001  (a naive time is the bad input)
    with pytest.raises(ValueError, match="'nope' is not a valid IncidentKind"):
        draft("s", kind="nope")  # type: ignore[arg-type]  # a bad kind from outside


def test_the_migration_goes_down_and_up_again_on_sqlite(tmp_path: Path) -> None:
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        upgrade(engine)
        assert TELEMETRY_TABLES <= set(sa.inspect(engine).get_table_names())
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        assert not TELEMETRY_TABLES & set(sa.inspect(engine).get_table_names())
        upgrade(engine)
        incidents = incidents_for(engine)
        incident_id, created = incidents.open_incident(draft("site"))
        assert created
        assert incidents.get_incident(incident_id) is not None
    finally:
        engine.dispose()
