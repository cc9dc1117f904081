"""What the simulator reads: endpoints, scenario files, bookings and tlogs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulator.assignments import DroneEntry, booking_entries, merge_entries
from simulator.bookings_api import BookedFlight, RegisteredDrone, SkyBerthApi
from simulator.errors import BookingsApiError, EndpointError, ScenarioError, TlogError
from simulator.links import Endpoint, parse_endpoint
from simulator.recordings import TlogReader, TlogWriter, frame_length, read_tlog
from simulator.scenario_file import load_scenario_file
from simulator.scenarios import LateralDrift, LinkLoss, Nominal

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
KEY_HEX = "ab" * 32

# --- endpoints -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("udpout:127.0.0.1:14550", Endpoint("udpout", "127.0.0.1", 14550)),
        ("tcp:localhost:5760", Endpoint("tcp", "localhost", 5760)),
        ("TCPIN:0.0.0.0:0", Endpoint("tcpin", "0.0.0.0", 0)),
        ("tcpin:[::1]:5760", Endpoint("tcpin", "::1", 5760)),
    ],
)
def test_an_endpoint_is_scheme_host_and_port(text: str, endpoint: Endpoint) -> None:
    assert parse_endpoint(text) == endpoint
    assert parse_endpoint(str(endpoint)) == endpoint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("udp:127.0.0.1:14550", "must start with one of udpout:, tcp:, tcpin:"),
        ("127.0.0.1:14550", "must start with one of"),
        ("udpout:127.0.0.1", "missing :PORT"),
        ("udpout:127.0.0.1:99999", "port must be 0-65535"),
        ("udpout::14550", "missing host"),
        ("udpout:127.0.0.1:0", "port 0 only makes sense for tcpin"),
        ("tcpin:[::1:5760", "IPv6"),
    ],
)
def test_a_bad_endpoint_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(EndpointError, match=message):
        parse_endpoint(text)


# --- scenario files ------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_scenario_file_scripts_drones_times_and_scenarios(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        seed = 7
        duration_s = 120
        wind_mps = 3.5
        wind_from_deg = 45
        scenarios = ["link_loss@2:at_s=20"]

        [[drones]]
        sysid = 11
        corridor = "C1"
        pad = "P2"
        takeoff_at_s = 5
        laps = 2
        signing_key_hex = "{KEY_HEX}"
        scenarios = ["nominal", {{ name = "lateral_drift", at_s = 30, hold_s = 40 }}]

        [[drones]]
        sysid = 12
        """,
    )
    loaded = load_scenario_file(path)
    assert (loaded.seed, loaded.duration_s, loaded.wind_mps) == (7, 120.0, 3.5)
    assert loaded.scenarios[0].scenario == LinkLoss(at_s=20.0)
    first, second = loaded.drones
    assert (first.sysid, first.corridor_id, first.takeoff_pad_id) == (11, "C1", "P2")
    assert (first.takeoff_at_s, first.laps) == (5.0, 2)
    assert first.signing_key == bytes.fromhex(KEY_HEX)
    assert first.scenarios == (Nominal(), LateralDrift(at_s=30.0, hold_s=40.0))
    assert second == DroneEntry(sysid=12, label="file drone 2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed = ", "not valid TOML"),
        ("speed = 3", "unknown key\\(s\\) speed"),
        ("[[drones]]\ncorridor = 'C1'", "sysid must be a whole number 1-255"),
        ("[[drones]]\nsysid = 1\nlaps = 0", "laps must be"),
        ("[[drones]]\nsysid = 1\nsigning_key_hex = 'abc'", "signing key"),
        ("[[drones]]\nsysid = 1\nscenarios = ['warp']", "unknown scenario 'warp'"),
        ("[[drones]]\nsysid = 1\nscenarios = ['gps_glitch@2']", "no @DRONES"),
        ("[[drones]]\nsysid = 1\nscenarios = [{ at_s = 3 }]", "needs name"),
        ("duration_s = -5", "duration_s must be > 0"),
        ("[[drones]]\nsysid = 1\ncolour = 'red'", "drone 1: unknown key"),
    ],
)
def test_a_bad_scenario_file_names_the_file_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match=message) as caught:
        load_scenario_file(path)
    assert str(path) in str(caught.value)


# --- bookings -------------------------------------------------------------------------


def booked(
    booking_id: int, drone: str, start_min: int, end_min: int, **extra: str | None
) -> BookedFlight:
    fields: dict[str, str | None] = {
        "takeoff_pad_id": "P2",
        "landing_pad_id": None,
        "corridor_id": "C1",
    }
    fields.update(extra)
    return BookedFlight(
        booking_id,
        drone,
        NOW + timedelta(minutes=start_min),
        NOW + timedelta(minutes=end_min),
        **fields,
    )


DRONES = [
    RegisteredDrone("d1", "Kite", 21, signed=True),
    RegisteredDrone("d2", "Heron", 22, signed=False),
]


def test_each_booked_drone_flies_its_earliest_booking_not_yet_over() -> None:
    entries = booking_entries(
        [
            booked(5, "d1", 30, 60),
            booked(4, "d1", -10, 20, corridor_id="C3"),
            booked(3, "d1", -60, -30),  # over
            booked(6, "d2", 2, 30, corridor_id=None, takeoff_pad_id="P3"),
            booked(7, "ghost", 0, 30),  # not visible with this token
        ],
        DRONES,
        NOW,
    )
    assert [
        (e.sysid, e.corridor_id, e.takeoff_at_s, e.takeoff_until_s) for e in entries
    ] == [
        (21, "C3", 0.0, 1200.0),
        (22, None, 120.0, 1800.0),
    ]
    assert entries[1].pad_only
    assert entries[0].label == "Kite (booking 4)"


def test_file_drones_add_scenarios_to_booked_ones_or_fly_as_written() -> None:
    base = [DroneEntry(sysid=21, corridor_id="C1", scenarios=(Nominal(),))]
    extra = [
        DroneEntry(sysid=21, scenarios=(LinkLoss(),), signing_key=b"k" * 32),
        DroneEntry(sysid=99, corridor_id="C3"),
    ]
    merged = merge_entries(base, extra)
    assert merged[0].scenarios == (Nominal(), LinkLoss())
    assert merged[0].corridor_id == "C1"
    assert merged[0].signing_key == b"k" * 32
    assert merged[1].sysid == 99


@pytest.mark.parametrize(
    ("url", "token", "message"),
    [
        ("127.0.0.1:8000", "t", "must be http"),
        ("ftp://host", "t", "must be http"),
        ("http://127.0.0.1:8000", " ", "token is needed"),
    ],
)
def test_a_bad_api_url_or_missing_token_is_refused(
    url: str, token: str, message: str
) -> None:
    with pytest.raises(BookingsApiError, match=message):
        SkyBerthApi(url, token)


def test_an_api_url_may_include_the_api_prefix() -> None:
    assert SkyBerthApi("http://h:1/api/v1/", "t").base_url == "http://h:1"


# --- tlogs ----------------------------------------------------------------------------


def frames() -> list[bytes]:
    v2 = mavlink.MAVLink(None, 3, 1)
    signed = mavlink.MAVLink(None, 4, 1)
    signed.signing.secret_key = bytes(32)
    signed.signing.sign_outgoing = True
    signed.signing.timestamp = 1
    hb = mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 3, 3)
    return [
        mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 3, 3).pack(v2),
        mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 3, 3).pack(
            v2, force_mavlink1=True
        ),
        hb.pack(signed),
        mavlink.MAVLink_global_position_int_message(1, 2, 3, 4, 5, 6, 7, 8, 9).pack(v2),
    ]


def test_a_tlog_round_trips_mavlink1_2_and_signed_frames(tmp_path: Path) -> None:
    path = tmp_path / "flight.tlog"
    with TlogWriter(path) as writer:
        for i, frame in enumerate(frames()):
            writer.write(1_800_000_000.0 + i * 0.1, frame)
    records = read_tlog(path)
    assert [r.frame for r in records] == frames()
    assert records[1].t_s == pytest.approx(1_800_000_000.1, abs=1e-6)
    assert [frame_length(f) for f in frames()] == [len(f) for f in frames()]


def test_a_reader_skips_garbage_between_records(tmp_path: Path) -> None:
    path = tmp_path / "dirty.tlog"
    with TlogWriter(path) as writer:
        writer.write(1_800_000_000.0, frames()[0])
    good = path.read_bytes()
    path.write_bytes(b"\x00garbage\xfd" + good + b"\xff\x01" + good + b"\x12")
    reader = TlogReader(path)
    assert [r.frame for r in reader] == [frames()[0], frames()[0]]
    assert reader.skipped_bytes == 12


def test_a_file_without_records_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.tlog"
    path.write_bytes(b"not a tlog at all")
    with pytest.raises(TlogError, match="no MAVLink records"):
        read_tlog(path)
    with pytest.raises(TlogError, match="cannot read"):
        read_tlog(tmp_path / "missing.tlog")
