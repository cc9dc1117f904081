"""What the simulated autopilot puts on the wire, and how it answers (no sockets)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator import mavlink_out
from simulator.fence import (
    CMD_CIRCLE_EXCLUSION,
    CMD_POLYGON_INCLUSION,
    FenceItem,
    fence_from_items,
)
from simulator.flight import FlightController
from simulator.kinematics import Limits, Wind
from simulator.mavlink_in import MAX_RETRIES, RETRY_S, VehicleResponder, targets
from simulator.mavlink_out import Battery, Encoder, Sample
from simulator.routes import plan_flight

KEY = bytes(range(32))
WALL_S = 1_800_000_000.0
GCS = (255, 190)
FENCE = mavlink.MAV_MISSION_TYPE_FENCE


@cache
def demo() -> Site:
    return load_site(demo_site_path())


def sample(**changes: Any) -> Sample:
    values: dict[str, Any] = {
        "time_boot_ms": 123_456,
        "lat_deg": 22.2606123,
        "lon_deg": 114.1289456,
        "alt_m": 45.678,
        "relative_alt_m": 40.678,
        "vn_mps": 1.23,
        "ve_mps": -4.56,
        "vd_mps": 0.78,
        "heading_deg": 271.25,
        "course_deg": 268.5,
        "ground_speed_mps": 4.72,
        "airspeed_mps": 5.0,
        "roll_rad": 0.1,
        "pitch_rad": -0.2,
        "yaw_rate_rad_s": 0.05,
        "throttle_pct": 52.4,
        "armed": True,
        "custom_mode": 3,
        "system_status": 4,
        "battery": Battery(15.6, 22.5, 64.2, 1234.4, 98_765.0, 900.0, 1),
    }
    values.update(changes)
    return Sample(**values)


def decode(frame: bytes, key: bytes | None = None) -> Any:
    parser = mavlink.MAVLink(None)
    if key is not None:
        parser.signing.secret_key = key
    messages = parser.parse_buffer(frame)
    assert messages is not None
    assert len(messages) == 1
    return messages[0]


def roundtrip(msg: Any) -> Any:
    return decode(Encoder(7).encode(msg, WALL_S))


# --- units ---------------------------------------------------------------------------


def test_global_position_int_is_in_1e7_degrees_millimetres_cm_per_s_and_cdeg() -> None:
    m = roundtrip(mavlink_out.global_position_int(sample()))
    assert m.get_type() == "GLOBAL_POSITION_INT"
    assert (m.lat, m.lon) == (222606123, 1141289456)
    assert (m.alt, m.relative_alt) == (45678, 40678)
    assert (m.vx, m.vy, m.vz) == (123, -456, 78)  # NED: vz positive down
    assert m.hdg == 27125
    assert m.time_boot_ms == 123_456


def test_heading_just_below_360_wraps_to_zero_not_36000() -> None:
    m = roundtrip(mavlink_out.global_position_int(sample(heading_deg=359.999)))
    assert m.hdg == 0


def test_gps_raw_int_reports_a_3d_fix_with_course_and_speed() -> None:
    m = roundtrip(mavlink_out.gps_raw_int(sample()))
    assert m.fix_type == mavlink.GPS_FIX_TYPE_3D_FIX
    assert (m.lat, m.lon, m.alt) == (222606123, 1141289456, 45678)
    assert (m.vel, m.cog) == (472, 26850)
    assert m.time_usec == 123_456_000
    assert m.satellites_visible >= 6


def test_vfr_hud_attitude_and_heartbeat_carry_what_a_ground_station_shows() -> None:
    hud = roundtrip(mavlink_out.vfr_hud(sample()))
    assert hud.heading == 271
    assert hud.alt == pytest.approx(45.678, abs=1e-3)
    assert hud.climb == pytest.approx(-0.78, abs=1e-6)
    assert hud.throttle == 52
    att = roundtrip(mavlink_out.attitude(sample()))
    assert att.yaw == pytest.approx(-1.5489, abs=1e-3)  # 271.25 deg in [-pi, pi)
    beat = roundtrip(mavlink_out.heartbeat(sample()))
    assert beat.type == mavlink.MAV_TYPE_QUADROTOR
    assert beat.autopilot == mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA
    assert beat.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED
    on_pad = roundtrip(mavlink_out.heartbeat(sample(armed=False, system_status=3)))
    assert not on_pad.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED
    assert on_pad.system_status == mavlink.MAV_STATE_STANDBY


def test_battery_is_in_millivolts_centiamperes_and_percent() -> None:
    status = roundtrip(mavlink_out.sys_status(sample()))
    assert (status.voltage_battery, status.current_battery) == (15600, 2250)
    assert status.battery_remaining == 64
    battery = roundtrip(mavlink_out.battery_status(sample()))
    assert battery.voltages[:5] == [3900, 3900, 3900, 3900, 65535]
    assert battery.current_battery == 2250
    assert battery.current_consumed == 1234
    assert battery.energy_consumed == 988  # hectojoules
    assert battery.battery_remaining == 64
    assert battery.charge_state == mavlink.MAV_BATTERY_CHARGE_STATE_OK


# --- the encoder ---------------------------------------------------------------------


def test_frames_are_mavlink2_by_default_and_mavlink1_on_request() -> None:
    msg = mavlink_out.heartbeat(sample())
    assert Encoder(9).encode(msg, WALL_S)[0] == 0xFD
    v1 = Encoder(9, mavlink1=True).encode(mavlink_out.heartbeat(sample()), WALL_S)
    assert v1[0] == 0xFE
    assert decode(v1).get_srcSystem() == 9


def test_sequence_numbers_count_up_and_wrap() -> None:
    encoder = Encoder(4)
    seqs = [
        decode(encoder.encode(mavlink_out.heartbeat(sample()), WALL_S)).get_seq()
        for _ in range(258)
    ]
    assert seqs[:3] == [0, 1, 2]
    assert seqs[255:] == [255, 0, 1]


def test_signed_frames_verify_with_the_drones_key_only() -> None:
    encoder = Encoder(5, signing_key=KEY, link_id=3)
    frames = [
        encoder.encode(mavlink_out.global_position_int(sample()), WALL_S + i * 0.1)
        for i in range(3)
    ]
    assert all(f[2] & 0x01 for f in frames)  # the signed flag
    good = mavlink.MAVLink(None)
    good.signing.secret_key = KEY
    assert len(good.parse_buffer(b"".join(frames)) or []) == 3
    assert good.signing.goodsig_count == 3
    bad = mavlink.MAVLink(None)
    bad.signing.secret_key = bytes(32)
    bad.robust_parsing = True
    parsed = bad.parse_buffer(b"".join(frames)) or []
    assert all(m.get_type() == "BAD_DATA" for m in parsed)


def test_signing_timestamps_never_go_back_even_if_the_clock_does() -> None:
    encoder = Encoder(5, signing_key=KEY)
    stamps = []
    for wall in (WALL_S, WALL_S - 10.0, WALL_S + 1.0):
        frame = encoder.encode(mavlink_out.heartbeat(sample()), wall)
        stamps.append(int.from_bytes(frame[-12:-6], "little"))
    assert stamps[0] < stamps[1] < stamps[2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sysid": 0}, "1-255"),
        ({"sysid": 1, "signing_key": KEY, "mavlink1": True}, "MAVLink 1 cannot"),
        ({"sysid": 1, "signing_key": b"short"}, "32 bytes"),
    ],
)
def test_the_encoder_refuses_what_mavlink_cannot_carry(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Encoder(**kwargs)


# --- commands ------------------------------------------------------------------------


def autopilot(flying: bool) -> FlightController:
    site = demo()
    corridor = site.corridor("C1")
    ctl = FlightController(
        plan_flight(site, corridor, site.pad("P4")), Limits(), Wind()
    )
    if flying:
        ctl.take_off()
        for _ in range(100):
            ctl.step(0.1)
    return ctl


def command_long(cmd: int, target: int = 1) -> Any:
    return mavlink.MAVLink_command_long_message(target, 1, cmd, 0, 0, 0, 0, 0, 0, 0, 0)


def from_gcs(msg: Any) -> Any:
    """Return ``msg`` as a ground station's frame decodes (source ids set)."""
    return decode(msg.pack(mavlink.MAVLink(None, *GCS)))


@pytest.mark.parametrize(
    ("cmd", "flying", "result", "mode"),
    [
        (
            mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH,
            True,
            mavlink.MAV_RESULT_ACCEPTED,
            "rtl",
        ),
        (mavlink.MAV_CMD_NAV_LAND, True, mavlink.MAV_RESULT_ACCEPTED, "land"),
        (mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, False, mavlink.MAV_RESULT_FAILED, None),
        (mavlink.MAV_CMD_NAV_TAKEOFF, True, mavlink.MAV_RESULT_UNSUPPORTED, None),
    ],
)
def test_commands_are_acknowledged_and_rtl_and_land_obeyed(
    cmd: int, flying: bool, result: int, mode: str | None
) -> None:
    ctl = autopilot(flying)
    before = ctl.mode
    replies = VehicleResponder(ctl).handle(from_gcs(command_long(cmd)), 0.0)
    assert len(replies) == 1
    ack = from_gcs(replies[0])
    assert ack.get_type() == "COMMAND_ACK"
    assert (ack.command, ack.result) == (cmd, result)
    assert (ack.target_system, ack.target_component) == GCS
    assert ctl.mode == (mode or before)


def test_only_messages_for_this_vehicle_or_everyone_are_taken() -> None:
    assert targets(command_long(20, target=1), 1, 1)
    assert targets(command_long(20, target=0), 1, 1)
    assert not targets(command_long(20, target=2), 1, 1)
    assert not targets(mavlink.MAVLink_heartbeat_message(6, 8, 0, 0, 0, 3), 1, 1)


# --- fences --------------------------------------------------------------------------

SQUARE = [
    (22.2600, 114.1280),
    (22.2600, 114.1300),
    (22.2620, 114.1300),
    (22.2620, 114.1280),
]


def fence_items(points: list[tuple[float, float]] = SQUARE) -> list[Any]:
    items = [
        mavlink.MAVLink_mission_item_int_message(
            1,
            1,
            seq,
            mavlink.MAV_FRAME_GLOBAL,
            CMD_POLYGON_INCLUSION,
            0,
            1,
            len(points),
            0,
            0,
            0,
            round(lat * 1e7),
            round(lon * 1e7),
            0.0,
            FENCE,
        )
        for seq, (lat, lon) in enumerate(points)
    ]
    items.append(
        mavlink.MAVLink_mission_item_int_message(
            1,
            1,
            len(points),
            mavlink.MAV_FRAME_GLOBAL,
            CMD_CIRCLE_EXCLUSION,
            0,
            1,
            25.0,
            0,
            0,
            0,
            222610000,
            1141290000,
            0.0,
            FENCE,
        )
    )
    return items


def upload(responder: VehicleResponder, items: list[Any]) -> Any:
    """Run the upload as a ground station would; return the final MISSION_ACK."""
    count = mavlink.MAVLink_mission_count_message(1, 1, len(items), FENCE)
    replies = responder.handle(from_gcs(count), 0.0)
    while True:
        (reply,) = replies
        reply = from_gcs(reply)
        if reply.get_type() == "MISSION_ACK":
            return reply
        assert reply.get_type() == "MISSION_REQUEST_INT"
        assert reply.mission_type == FENCE
        assert (reply.target_system, reply.target_component) == GCS
        replies = responder.handle(from_gcs(items[reply.seq]), 0.0)


def test_a_fence_uploads_item_by_item_and_downloads_unchanged() -> None:
    responder = VehicleResponder(autopilot(False))
    ack = upload(responder, fence_items())
    assert ack.type == mavlink.MAV_MISSION_ACCEPTED
    assert ack.mission_type == FENCE
    fence = responder.fence
    assert fence is not None
    assert len(fence.inclusion_polygons) == 1
    assert len(fence.inclusion_polygons[0]) == 4
    ((lon, lat, radius_m),) = fence.exclusion_circles
    assert (lon, lat, radius_m) == pytest.approx((114.129, 22.261, 25.0))

    listing = responder.handle(
        from_gcs(mavlink.MAVLink_mission_request_list_message(1, 1, FENCE)), 0.0
    )
    assert from_gcs(listing[0]).count == 5
    for seq, sent in enumerate(fence_items()):
        request = mavlink.MAVLink_mission_request_int_message(1, 1, seq, FENCE)
        (item,) = responder.handle(from_gcs(request), 0.0)
        item = from_gcs(item)
        assert (item.seq, item.command, item.x, item.y) == (
            sent.seq,
            sent.command,
            sent.x,
            sent.y,
        )


def test_a_repeated_or_skipped_item_is_asked_for_again() -> None:
    responder = VehicleResponder(autopilot(False))
    items = fence_items()
    responder.handle(
        from_gcs(mavlink.MAVLink_mission_count_message(1, 1, 5, FENCE)), 0.0
    )
    (reply,) = responder.handle(from_gcs(items[2]), 0.0)
    assert from_gcs(reply).seq == 0


def test_a_stalled_upload_is_retried_then_cancelled() -> None:
    responder = VehicleResponder(autopilot(False))
    responder.handle(
        from_gcs(mavlink.MAVLink_mission_count_message(1, 1, 5, FENCE)), 0.0
    )
    assert responder.poll(RETRY_S / 2) == []
    t = 0.0
    for _ in range(MAX_RETRIES):
        t += RETRY_S
        (retry,) = responder.poll(t)
        assert from_gcs(retry).get_type() == "MISSION_REQUEST_INT"
    (cancel,) = responder.poll(t + RETRY_S)
    assert from_gcs(cancel).type == mavlink.MAV_MISSION_OPERATION_CANCELLED
    assert responder.poll(t + 10 * RETRY_S) == []


def test_an_invalid_fence_is_refused_and_the_old_one_kept() -> None:
    responder = VehicleResponder(autopilot(False))
    upload(responder, fence_items())
    kept = responder.fence
    broken = fence_items()[:2]  # a polygon announced with 4 vertices, given 2
    ack = upload(responder, broken)
    assert ack.type == mavlink.MAV_MISSION_INVALID
    assert responder.fence is kept


def test_other_mission_types_are_unsupported_and_an_empty_upload_clears() -> None:
    responder = VehicleResponder(autopilot(False))
    mission = mavlink.MAVLink_mission_count_message(
        1, 1, 3, mavlink.MAV_MISSION_TYPE_MISSION
    )
    (ack,) = responder.handle(from_gcs(mission), 0.0)
    assert from_gcs(ack).type == mavlink.MAV_MISSION_UNSUPPORTED
    upload(responder, fence_items())
    (ack,) = responder.handle(
        from_gcs(mavlink.MAVLink_mission_count_message(1, 1, 0, FENCE)), 0.0
    )
    assert from_gcs(ack).type == mavlink.MAV_MISSION_ACCEPTED
    assert responder.fence is None


def test_a_fence_is_breached_outside_its_inclusion_or_inside_its_exclusion() -> None:
    site = demo()
    vertices = [
        FenceItem(i, CMD_POLYGON_INCLUSION, 0, 4, 0, 0, 0, lat, lon, 0.0)
        for i, (lat, lon) in enumerate(SQUARE)
    ]
    circle = FenceItem(4, CMD_CIRCLE_EXCLUSION, 0, 25.0, 0, 0, 0, 22.261, 114.129, 0.0)
    fence = fence_from_items((*vertices, circle))

    def at(lon: float, lat: float) -> bool:
        x, y = site.projection.to_metric([lon], [lat])
        return fence.breached(site.projection, float(x[0]), float(y[0]))

    assert not at(114.1285, 22.2605)
    assert at(114.1310, 22.2605)  # east of the square
    assert at(114.1290, 22.2610)  # in the excluded circle
