"""The codec's test-condition messages (issue 18 item 2): GPS2_RAW, RADIO_STATUS,
WIND, WIND_COV, VIBRATION and EKF_STATUS_REPORT, made by pymavlink's encoder, come
out in the units of ``../shared/REFERENCE.md`` section 5, unknowns as None."""

from __future__ import annotations

import math

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.codec import LinkCodec
from telemetry.mavlink.condition_messages import (
    EkfStatus,
    Gps2Raw,
    RadioStatus,
    Vibration,
    Wind,
)
from telemetry.mavlink.messages import Telemetry

T = 1_795_000_000.0


def decode(msg: mavlink.MAVLink_message) -> list[Telemetry]:
    mav = mavlink.MAVLink(None, srcSystem=7, srcComponent=1)
    decoded = LinkCodec("test").feed(msg.pack(mav), T)
    assert len(decoded.frames) == 1  # recorded whatever it holds
    return decoded.messages


def test_gps2_raw_gives_dilutions_and_unknown_satellites_as_none() -> None:
    (m,) = decode(
        mavlink.MAVLink_gps2_raw_message(0, 3, 0, 0, 0, 145, 65535, 0, 0, 255, 2, 500)
    )
    assert m == Gps2Raw(7, 1, T, 3, 1.45, None, None, 2, 500)


def test_radio_status_keeps_the_raw_scale_with_255_unknown() -> None:
    (m,) = decode(mavlink.MAVLink_radio_status_message(180, 255, 90, 40, 41, 12, 3))
    assert m == RadioStatus(7, 1, T, 180, None, 90, 40, 41, 12, 3)


def test_wind_direction_is_where_it_blows_from() -> None:
    (m,) = decode(mavlink.MAVLink_wind_message(-90.0, 6.5, 0.5))
    assert m == Wind(7, 1, T, 270.0, 6.5, 0.5)


@pytest.mark.parametrize(
    ("north", "east", "from_deg"), [(-5.0, 0.0, 0.0), (0.0, -5.0, 90.0)]
)
def test_wind_cov_ned_components_become_speed_and_from_bearing(
    north: float, east: float, from_deg: float
) -> None:
    (m,) = decode(mavlink.MAVLink_wind_cov_message(0, north, east, 1.0, 0, 0, 30, 0, 0))
    assert isinstance(m, Wind)
    assert m.direction_deg == pytest.approx(from_deg)
    assert (m.speed_mps, m.speed_z_mps) == (5.0, -1.0)


def test_wind_cov_without_an_estimate_gives_no_message() -> None:
    nan = math.nan
    assert (
        decode(mavlink.MAVLink_wind_cov_message(0, nan, nan, nan, 0, 0, 0, 0, 0)) == []
    )


def test_vibration_and_ekf_flags() -> None:
    (v,) = decode(mavlink.MAVLink_vibration_message(0, 12.5, 13.0, 40.0, 0, 1, 2))
    assert v == Vibration(7, 1, T, 12.5, 13.0, 40.0, (0, 1, 2))
    (e,) = decode(
        mavlink.MAVLink_ekf_status_report_message(32768 | 31, 0.1, 0.2, 0.3, 0.4, 0)
    )
    assert isinstance(e, EkfStatus)
    assert e.gps_glitching
    assert e.pos_vert_variance == pytest.approx(0.3)
