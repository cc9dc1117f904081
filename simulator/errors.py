"""The simulator's errors: each names the thing that is wrong and why.

::

    SimulatorError
     +-- ScenarioError       a scenario name, parameter or scenario file is wrong
     +-- EndpointError       a ``--to`` endpoint cannot be parsed or opened
     +-- FleetError          the fleet cannot be built (no corridor, sysid clash ...)
     +-- BookingsApiError    the SkyBerth API refused or could not be reached
     +-- TlogError           a tlog cannot be read or written

The command line turns every one of them into a one-line message and exit code 2.
"""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of every error the simulator reports to its user."""


class ScenarioError(SimulatorError):
    """A scenario name, parameter or scenario file is wrong."""


class EndpointError(SimulatorError):
    """A MAVLink endpoint string cannot be parsed, or its socket cannot be opened."""


class FleetError(SimulatorError):
    """The fleet cannot be built from what was given."""


class BookingsApiError(SimulatorError):
    """The SkyBerth HTTP API refused a request or could not be reached."""


class TlogError(SimulatorError):
    """A telemetry log cannot be read or written."""
