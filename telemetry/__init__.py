"""SkyBerth telemetry: live MAVLink in, conformance and incidents out, records kept.

Five wings, each a subpackage whose ``__init__`` lists its public names, layered so
imports only go down (checked by import-linter, see pyproject.toml):

- ``reports``: replay, exports and reports over what was recorded (the read side);
- ``live``: the gateway (ingest, tick, conformance), the live frames, the hub and
  the bus between processes; ``recording``: the writer threads (database and
  ``.tlog`` files) and the track store. These two never import each other;
- ``incidents``: the incident model, the safety officers' workflow, the service
  that applies their commands and the incident repository;
- ``mavlink``: the wire: endpoints, transports, codec, typed messages, signing and
  the ``.tlog`` format.

Three small modules at this level serve every wing and import none of them:
``bulk_insert`` (multi-row INSERTs), ``log_limits`` (rate-limited logging) and
``retry_policy`` (jittered back-off). ``docs/architecture.md`` draws the whole map.
"""

__all__ = ["incidents", "live", "mavlink", "recording", "reports"]
