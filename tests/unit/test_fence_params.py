"""The fence's altitude as a parameter, sans I/O: PARAM_SET confirmed by
PARAM_VALUE, against the simulator's sans-I/O autopilot."""

from __future__ import annotations

from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulator.mavlink_in import Faults, VehicleResponder
from telemetry.mavlink.params import MAX_RETRIES, ParamSet, fence_alt_param

VEHICLE = (1, 1)
GCS = (245, 190)


class Autopilot:
    def return_to_launch(self) -> bool:
        return True

    def land(self) -> bool:
        return True

    def loiter(self) -> bool:
        return True


def _carry(msg: Any, sender: tuple[int, int]) -> Any:
    (parsed,) = mavlink.MAVLink(None).parse_buffer(
        msg.pack(mavlink.MAVLink(None, *sender))
    )
    return parsed


def run(exchange: ParamSet, vehicle: VehicleResponder) -> int:
    now, sent = 0.0, 0
    outbox = exchange.start(now)
    while exchange.outcome is None and now < 60:
        for msg in outbox:
            sent += 1
            for reply in vehicle.handle(_carry(msg, GCS), now):
                exchange.receive(_carry(reply, VEHICLE), now)
        now += 0.1
        outbox = exchange.poll(now)
    return sent


def test_fence_alt_max_is_set_and_confirmed_by_param_value() -> None:
    vehicle = VehicleResponder(Autopilot())
    exchange = ParamSet(VEHICLE, fence_alt_param(None), 60.0)
    assert run(exchange, vehicle) == 1
    assert exchange.outcome is not None
    assert exchange.outcome.summary == "FENCE_ALT_MAX = 60 confirmed"
    assert vehicle.params == {"FENCE_ALT_MAX": 60.0}


def test_a_silent_vehicle_leaves_the_altitude_unconfirmed_after_the_retries() -> None:
    exchange = ParamSet(VEHICLE, "FENCE_ALT_MAX", 60.0)
    sent = run(exchange, VehicleResponder(Autopilot(), Faults(mute=True)))
    assert sent == MAX_RETRIES + 1
    assert exchange.outcome is not None
    assert not exchange.outcome.confirmed
    assert exchange.outcome.summary == "FENCE_ALT_MAX = 60: no answer"


def test_px4_takes_the_ceiling_as_gf_max_ver_dist() -> None:
    assert fence_alt_param(mavlink.MAV_AUTOPILOT_PX4) == "GF_MAX_VER_DIST"


def test_a_param_value_of_another_name_or_vehicle_does_not_confirm() -> None:
    exchange = ParamSet(VEHICLE, "FENCE_ALT_MAX", 60.0)
    exchange.start(0.0)

    def value(name: bytes, sender: tuple[int, int]) -> Any:
        msg = mavlink.MAVLink_param_value_message(
            name, 60.0, mavlink.MAV_PARAM_TYPE_REAL32, 1, 0
        )
        return _carry(msg, sender)

    exchange.receive(value(b"FENCE_ALT_MAX", (2, 1)), 0.1)
    exchange.receive(value(b"FENCE_RADIUS", VEHICLE), 0.2)
    assert exchange.outcome is None
    exchange.receive(value(b"FENCE_ALT_MAX", VEHICLE), 0.3)
    assert exchange.outcome is not None
    assert exchange.outcome.confirmed
