"""RTL, LAND and LOITER as COMMAND_LONG, sans I/O: our machine against the
simulator's sans-I/O autopilot, every message packed and parsed by pymavlink."""

from __future__ import annotations

from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulator.mavlink_in import Faults, VehicleResponder
from telemetry.mavlink.commands import (
    IN_PROGRESS_TIMEOUT_S,
    MAX_RETRIES,
    TIMEOUT_S,
    CommandExchange,
    SafetyCommand,
    command_for,
)

VEHICLE = (1, 1)
GCS = (245, 190)


class Autopilot:
    def __init__(self, flying: bool) -> None:
        self.flying = flying
        self.done: list[str] = []

    def return_to_launch(self) -> bool:
        self.done.append("RTL")
        return self.flying

    def land(self) -> bool:
        self.done.append("LAND")
        return self.flying

    def loiter(self) -> bool:
        self.done.append("LOITER")
        return self.flying


def _carry(msg: Any, sender: tuple[int, int]) -> Any:
    (parsed,) = mavlink.MAVLink(None).parse_buffer(
        msg.pack(mavlink.MAVLink(None, *sender))
    )
    return parsed


def run(exchange: CommandExchange, vehicle: VehicleResponder) -> list[Any]:
    """Run to the outcome on a simulated clock; return every COMMAND_LONG sent."""
    now, sent = 0.0, []
    outbox = exchange.start(now)
    while exchange.outcome is None and now < 60:
        for msg in outbox:
            sent.append(msg)
            for reply in vehicle.handle(_carry(msg, GCS), now):
                exchange.receive(_carry(reply, VEHICLE), now)
        now += 0.1
        outbox = exchange.poll(now)
    return sent


@pytest.mark.parametrize("safety", list(SafetyCommand))
def test_a_flying_vehicle_accepts_each_safety_command_at_once(
    safety: SafetyCommand,
) -> None:
    autopilot = Autopilot(flying=True)
    exchange = CommandExchange(
        VEHICLE, command_for(safety, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA)
    )
    sent = run(exchange, VehicleResponder(autopilot))
    assert exchange.outcome is not None
    assert exchange.outcome.summary == "accepted"
    assert autopilot.done == [safety.value]
    assert [m.confirmation for m in sent] == [0]


def test_a_vehicle_on_the_ground_denies_with_its_result() -> None:
    exchange = CommandExchange(VEHICLE, command_for(SafetyCommand.RTL, None))
    run(exchange, VehicleResponder(Autopilot(flying=False)))
    assert exchange.outcome is not None
    assert exchange.outcome.summary == "denied (MAV_RESULT_FAILED)"


def test_a_silent_vehicle_gets_the_retries_with_rising_confirmation() -> None:
    exchange = CommandExchange(VEHICLE, command_for(SafetyCommand.LAND, None))
    sent = run(exchange, VehicleResponder(Autopilot(True), Faults(mute=True)))
    assert exchange.outcome is not None
    assert exchange.outcome.result is None
    assert exchange.outcome.summary == f"no answer after {MAX_RETRIES + 1} attempts"
    assert [m.confirmation for m in sent] == list(range(MAX_RETRIES + 1))


def test_px4_holds_through_do_set_mode_auto_loiter() -> None:
    command = command_for(SafetyCommand.LOITER, mavlink.MAV_AUTOPILOT_PX4)
    assert command.command == mavlink.MAV_CMD_DO_SET_MODE
    assert command.params[:3] == (1.0, 4.0, 3.0)


def _ack(command: int, result: int, sender: tuple[int, int] = VEHICLE) -> Any:
    return _carry(mavlink.MAVLink_command_ack_message(command, result), sender)


def test_an_ack_from_another_vehicle_or_for_another_command_is_not_the_answer() -> None:
    exchange = CommandExchange(VEHICLE, command_for(SafetyCommand.RTL, None))
    exchange.start(0.0)
    rtl = mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH
    exchange.receive(_ack(rtl, mavlink.MAV_RESULT_ACCEPTED, (2, 1)), 0.1)
    exchange.receive(_ack(mavlink.MAV_CMD_NAV_LAND, mavlink.MAV_RESULT_DENIED), 0.2)
    assert exchange.outcome is None
    exchange.receive(_ack(rtl, mavlink.MAV_RESULT_DENIED), 0.3)
    assert exchange.outcome is not None
    assert exchange.outcome.summary == "denied (MAV_RESULT_DENIED)"
    assert exchange.outcome.attempts == 1


def test_in_progress_holds_the_resend_back_without_ending_the_exchange() -> None:
    exchange = CommandExchange(VEHICLE, command_for(SafetyCommand.LAND, None))
    exchange.start(0.0)
    land = mavlink.MAV_CMD_NAV_LAND
    exchange.receive(_ack(land, mavlink.MAV_RESULT_IN_PROGRESS), 1.0)
    assert exchange.outcome is None
    assert exchange.deadline_s == 1.0 + IN_PROGRESS_TIMEOUT_S
    assert exchange.poll(1.0 + TIMEOUT_S) == []
    (resend,) = exchange.poll(1.0 + IN_PROGRESS_TIMEOUT_S)
    assert resend.confirmation == 1
