"""SkyBerth simulator package."""

from simulator.assignments import (
    DroneEntry,
    booking_entries,
    build_specs,
    merge_entries,
    site_entries,
)
from simulator.bookings_api import SkyBerthApi
from simulator.cli import sim
from simulator.drone import DroneSpec
from simulator.errors import (
    BookingsApiError,
    EndpointError,
    FleetError,
    ScenarioError,
    SimulatorError,
    TlogError,
)
from simulator.fleet import Fleet
from simulator.kinematics import Limits, Wind
from simulator.links import Endpoint, parse_endpoint
from simulator.recordings import TlogReader, TlogWriter, read_tlog
from simulator.runner import RunOptions, RunStats, run_fleet, run_replay
from simulator.scenario_file import load_scenario_file
from simulator.scenarios import SCENARIOS, ScenarioSpec, make_scenario, parse_spec

__all__ = [
    "SCENARIOS",
    "BookingsApiError",
    "DroneEntry",
    "DroneSpec",
    "Endpoint",
    "EndpointError",
    "Fleet",
    "FleetError",
    "Limits",
    "RunOptions",
    "RunStats",
    "ScenarioError",
    "ScenarioSpec",
    "SimulatorError",
    "SkyBerthApi",
    "TlogError",
    "TlogReader",
    "TlogWriter",
    "Wind",
    "booking_entries",
    "build_specs",
    "load_scenario_file",
    "make_scenario",
    "merge_entries",
    "parse_endpoint",
    "parse_spec",
    "read_tlog",
    "run_fleet",
    "run_replay",
    "sim",
    "site_entries",
]
