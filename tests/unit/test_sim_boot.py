"""The simulator before its first fix (pre_fix) and its ground-station heartbeat.

The pure fleet is stepped (no sockets) and every frame decoded with pymavlink.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator.assignments import build_specs, site_entries
from simulator.boot import BOOT_TEXTS, FIX_TEXT, WAITING_TEXT
from simulator.errors import ScenarioError
from simulator.fleet import Fleet
from simulator.scenario_file import load_scenario_file
from simulator.scenarios import PreFix, parse_spec, scenarios_for

WALL_S = 1_800_000_000.0


@cache
def demo() -> Site:
    return load_site(demo_site_path())


def fly(
    seconds: float, pre_fix: PreFix | None, gcs_heartbeat: bool = False
) -> list[tuple[float, Any]]:
    """Return ``(t_s, message)`` for every frame the fleet of one drone sends."""
    specs = build_specs(demo(), site_entries(demo(), 1, corridor_id="C1"))
    if pre_fix is not None:
        specs = [replace(specs[0], scenarios=(pre_fix,))]
    fleet = Fleet(demo(), specs, gcs_heartbeat=gcs_heartbeat)
    parser = mavlink.MAVLink(None)
    out: list[tuple[float, Any]] = []
    while fleet.t_s < seconds:
        for frame in fleet.step(WALL_S + fleet.t_s):
            out += [(fleet.t_s, m) for m in parser.parse_buffer(frame) or ()]
    return out


def of(messages: list[tuple[float, Any]], kind: str) -> list[tuple[float, Any]]:
    return [(t, m) for t, m in messages if m.get_type() == kind]


def test_before_its_fix_a_drone_sends_params_and_texts_but_no_position() -> None:
    messages = fly(8.0, PreFix(duration_s=4.0, params=250))
    positions = of(messages, "GLOBAL_POSITION_INT")
    assert positions[0][0] == pytest.approx(4.0, abs=0.05)
    params = of(messages, "PARAM_VALUE")
    assert [m.param_index for _, m in params] == list(range(250))
    assert all(m.param_count == 250 and t <= 2.05 for t, m in params)
    assert len({m.param_id for _, m in params}) == 250
    texts = [(t, m.text) for t, m in of(messages, "STATUSTEXT")]
    assert [text for _, text in texts[: len(BOOT_TEXTS)]] == list(BOOT_TEXTS)
    assert sum(text == WAITING_TEXT for _, text in texts) == 4
    assert [t for t, text in texts if text == FIX_TEXT] == [positions[0][0]]
    early = [m for t, m in messages if t < 4.0]
    assert sum(m.get_type() == "HEARTBEAT" for m in early) >= 3
    gps = [m for t, m in of(messages, "GPS_RAW_INT") if t < 4.0]
    assert gps
    assert all(m.fix_type == mavlink.GPS_FIX_TYPE_NO_FIX and m.lat == 0 for m in gps)


def test_a_drone_takes_off_only_after_its_fix() -> None:
    messages = fly(8.0, PreFix(duration_s=4.0))
    beats = of(messages, "HEARTBEAT")
    armed = [t for t, m in beats if m.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED]
    assert armed
    assert min(armed) >= 4.0
    first_position = of(messages, "GLOBAL_POSITION_INT")[0][1]
    assert abs(first_position.relative_alt) < 2000  # on the pad, in mm


def test_without_pre_fix_positions_come_from_the_start() -> None:
    messages = fly(2.0, None)
    assert of(messages, "GLOBAL_POSITION_INT")[0][0] < 0.2
    assert not of(messages, "PARAM_VALUE")


def test_the_ground_station_heartbeat_is_system_255_and_not_an_autopilot() -> None:
    messages = fly(5.0, None, gcs_heartbeat=True)
    gcs = [m for _, m in messages if m.get_srcSystem() == 255]
    assert 4 <= len(gcs) <= 6
    for m in gcs:
        assert m.get_type() == "HEARTBEAT"
        assert m.type == mavlink.MAV_TYPE_GCS
        assert m.autopilot == mavlink.MAV_AUTOPILOT_INVALID
    assert not [m for _, m in fly(5.0, None) if m.get_srcSystem() == 255]


def test_pre_fix_parses_and_is_given_once_per_drone() -> None:
    spec = parse_spec("pre_fix@1:duration_s=3,params=120")
    assert spec.scenario == PreFix(duration_s=3.0, params=120)
    with pytest.raises(ScenarioError, match="whole number"):
        parse_spec("pre_fix:params=1.5")
    with pytest.raises(ScenarioError, match="pre_fix given more than once"):
        scenarios_for(1, [parse_spec("pre_fix"), parse_spec("pre_fix@1")])


def test_a_scenario_file_asks_for_the_ground_station_heartbeat(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.toml"
    path.write_text("gcs_heartbeat = true\n", encoding="utf-8")
    assert load_scenario_file(path).gcs_heartbeat is True
    path.write_text('gcs_heartbeat = "yes"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="gcs_heartbeat must be true or false"):
        load_scenario_file(path)
