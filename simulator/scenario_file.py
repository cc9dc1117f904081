"""Scenario files (TOML): which drones fly, where, when, and what happens to them.

::

    seed = 7                     # optional; --seed wins
    duration_s = 300             # optional; --duration-s wins
    wind_mps = 4.0               # optional, with wind_from_deg (degrees, from)
    wind_from_deg = 45
    gcs_heartbeat = true         # optional; a ground station's heartbeat too
    scenarios = ["link_loss@2:at_s=20"]   # like --scenario, by fleet position

    [[drones]]
    sysid = 11                   # required
    corridor = "C1"              # default: the site's corridors in turn
    pad = "P2"                   # take-off pad; default: the nearest to the corridor
    landing_pad = "P2"           # default: the take-off pad
    takeoff_at_s = 0             # seconds after the start
    laps = 2
    signing_key_hex = "00...ff"  # 64 hex digits: sign MAVLink 2 frames
    scenarios = ["nominal", { name = "lateral_drift", at_s = 30, hold_s = 40 }]

With a site file the ``[[drones]]`` are the fleet. With ``--api`` the booked drones
fly; an entry whose ``sysid`` is booked adds its scenarios (and key) to that drone,
any other entry flies as written, without a booking.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.assignments import DroneEntry
from simulator.errors import ScenarioError
from simulator.scenarios import Scenario, ScenarioSpec, make_scenario, parse_spec

_TOP_KEYS = {
    "seed",
    "duration_s",
    "wind_mps",
    "wind_from_deg",
    "gcs_heartbeat",
    "scenarios",
    "drones",
}
_DRONE_KEYS = {
    "sysid",
    "corridor",
    "pad",
    "landing_pad",
    "takeoff_at_s",
    "laps",
    "signing_key_hex",
    "scenarios",
}


@dataclass(frozen=True)
class ScenarioFile:
    """What a scenario file says; None where it says nothing."""

    seed: int | None
    duration_s: float | None
    wind_mps: float | None
    wind_from_deg: float | None
    scenarios: tuple[ScenarioSpec, ...]
    drones: tuple[DroneEntry, ...]
    gcs_heartbeat: bool | None = None
    """True: the link also carries a ground station's heartbeat (system 255)."""


def load_scenario_file(path: str | os.PathLike[str]) -> ScenarioFile:
    """Read and check a scenario file; ScenarioError names the file and problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return _parse(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def _parse(data: dict[str, Any]) -> ScenarioFile:
    _no_unknown(data, _TOP_KEYS, "top level")
    drones = data.get("drones", [])
    if not isinstance(drones, list) or not all(isinstance(d, dict) for d in drones):
        raise ScenarioError("drones must be [[drones]] tables")
    specs = data.get("scenarios", [])
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise ScenarioError("top-level scenarios must be a list of strings")
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ScenarioError("seed must be a whole number")
    gcs = data.get("gcs_heartbeat")
    if gcs is not None and not isinstance(gcs, bool):
        raise ScenarioError("gcs_heartbeat must be true or false")
    return ScenarioFile(
        seed=seed,
        duration_s=_positive(data, "duration_s"),
        wind_mps=_positive(data, "wind_mps", allow_zero=True),
        wind_from_deg=_number(data, "wind_from_deg"),
        scenarios=tuple(parse_spec(s) for s in specs),
        drones=tuple(_drone(i, d) for i, d in enumerate(drones, start=1)),
        gcs_heartbeat=gcs,
    )


def _drone(index: int, d: dict[str, Any]) -> DroneEntry:
    where = f"drone {index}"
    _no_unknown(d, _DRONE_KEYS, where)
    sysid = d.get("sysid")
    if not isinstance(sysid, int) or isinstance(sysid, bool) or not 1 <= sysid <= 255:
        raise ScenarioError(f"{where}: sysid must be a whole number 1-255")
    laps = d.get("laps")
    if laps is not None and (not isinstance(laps, int) or laps < 1):
        raise ScenarioError(f"{where}: laps must be a whole number >= 1")
    key_hex = d.get("signing_key_hex")
    key = None
    if key_hex is not None:
        key = parse_key_hex(str(key_hex), where)
    raw = d.get("scenarios", [])
    if not isinstance(raw, list):
        raise ScenarioError(f"{where}: scenarios must be a list")
    return DroneEntry(
        sysid=sysid,
        corridor_id=_text(d, "corridor", where),
        takeoff_pad_id=_text(d, "pad", where),
        landing_pad_id=_text(d, "landing_pad", where),
        takeoff_at_s=_positive(d, "takeoff_at_s", allow_zero=True) or 0.0,
        laps=laps,
        scenarios=tuple(_scenario(where, s) for s in raw),
        signing_key=key,
        label=f"file drone {index}",
    )


def _scenario(where: str, raw: Any) -> Scenario:
    if isinstance(raw, str):
        spec = parse_spec(raw)
        if spec.drones is not None:
            raise ScenarioError(f"{where}: {raw!r}: no @DRONES inside a drone")
        return spec.scenario
    if isinstance(raw, dict):
        params = dict(raw)
        name = params.pop("name", None)
        if not isinstance(name, str):
            raise ScenarioError(f'{where}: a scenario table needs name = "..."')
        return make_scenario(name, params)
    raise ScenarioError(f"{where}: a scenario is a name or a table, got {raw!r}")


def parse_key_hex(text: str, where: str) -> bytes:
    """Return a 32-byte signing key from 64 hex digits."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ScenarioError(f"{where}: signing key is not hex") from None
    if len(key) != 32:
        raise ScenarioError(f"{where}: signing key must be 32 bytes (64 hex digits)")
    return key


def _no_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )


def _number(table: dict[str, Any], key: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{key} must be a number")
    if not math.isfinite(value):
        raise ScenarioError(f"{key} must be finite")
    return float(value)


def _positive(
    table: dict[str, Any], key: str, *, allow_zero: bool = False
) -> float | None:
    value = _number(table, key)
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise ScenarioError(f"{key} must be {'>= 0' if allow_zero else '> 0'}")
    return value


def _text(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"{where}: {key} must be a non-empty string")
    return value.strip()
