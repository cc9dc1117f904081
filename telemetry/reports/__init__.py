"""Reports: what the recorded telemetry tells afterwards. The read side of telemetry.

- ``replay``: one time-ordered ``Replay`` of a track, its conformance states and
  events, built from the stores; every format below draws from it, so they agree.
- ``exports``: a replay written as GeoJSON, KML, CSV, GeoPackage (geopandas, loaded
  only when a GeoPackage is written) and raw ``.tlog``.
- ``incident_report``: the self-contained printable HTML report of one incident.
- ``conformance_report``: the ASTM F3548 aggregate measures over recorded flights.
- ``export_sources``: gathers what an export needs (incident or booking, its
  replay, the audit lines, the ``.tlog`` file) from the stores and renders it.

Above ``live``, ``recording`` and ``incidents`` in the layers (pyproject's
import-linter contract): a report may read what those produce, never the reverse.
"""

from __future__ import annotations

from telemetry.reports.conformance_report import ConformanceReport, Thresholds
from telemetry.reports.export_sources import (
    ExportFile,
    ExportFormat,
    ExportSources,
    export_booking,
    export_incident,
)
from telemetry.reports.incident_report import render_report
from telemetry.reports.replay import Replay, booking_replay, incident_replay

__all__ = [
    "ConformanceReport",
    "ExportFile",
    "ExportFormat",
    "ExportSources",
    "Replay",
    "Thresholds",
    "booking_replay",
    "export_booking",
    "export_incident",
    "incident_replay",
    "render_report",
]
