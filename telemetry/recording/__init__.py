"""Recording: what the gateway writes, off the event loop, and the replay tracks.

- ``recorder``: ``TelemetryRecorder``, the facade the gateway calls (queues only);
- ``db_writer``: its database writer thread (incidents, evidence, events, tracks);
- ``tlog_writer``: its tlog writer thread (raw MAVLink to ``<key>.tlog`` files);
- ``writer_state``: the counters the three share;
- ``track_store``: ``TrackStore``, the 1 Hz replay positions (append, read, purge).

Layers: this wing imports ``incidents`` (and ``mavlink``); ``reports`` imports it.
"""

from telemetry.recording.recorder import (
    PurgeResult,
    RecorderCounters,
    TelemetryRecorder,
)
from telemetry.recording.tlog_writer import (
    MAX_OPEN_TLOGS,
    TLOG_SUFFIX,
    check_tlog_key,
    default_max_open_tlogs,
)
from telemetry.recording.track_store import TrackSampleRow, TrackStore

__all__ = [
    "MAX_OPEN_TLOGS",
    "TLOG_SUFFIX",
    "PurgeResult",
    "RecorderCounters",
    "TelemetryRecorder",
    "TrackSampleRow",
    "TrackStore",
    "check_tlog_key",
    "default_max_open_tlogs",
]
