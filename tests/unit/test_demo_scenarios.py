"""The demo's simulator command (``skyberth demo``): the scenarios it asks for
parse as the simulator parses them, and one drone reports its test conditions
(``degraded_signal``: RADIO_STATUS and WIND), so demo flights carry radio and
wind conditions (issue 18)."""

from __future__ import annotations

import pytest

from simulator.scenarios import DegradedSignal, LateralDrift, parse_spec
from web.cli_demo import DEGRADED_SIGNAL_DRONE, DEMO_FLIGHTS, simulator_command
from web.settings import Settings


def scenarios(command: list[str]) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command) if arg == "--scenario"]


@pytest.mark.parametrize(("drones", "degraded"), [(4, DEGRADED_SIGNAL_DRONE), (1, 1)])
def test_one_demo_drone_reports_degraded_signal_conditions(
    settings: Settings, drones: int, degraded: int
) -> None:
    specs = [
        parse_spec(s) for s in scenarios(simulator_command(settings, "t", 1, drones))
    ]
    (signal,) = [s for s in specs if isinstance(s.scenario, DegradedSignal)]
    assert signal.drones == frozenset({degraded})
    assert any(isinstance(s.scenario, LateralDrift) for s in specs)


def test_the_degraded_signal_drone_flies_the_dense_urban_corridor() -> None:
    corridor, _, _ = DEMO_FLIGHTS[DEGRADED_SIGNAL_DRONE - 1]
    assert corridor == "C3"
