"""The live bus as a package: the port (``base``), its two implementations
(``in_process``, ``nats_bus``), the web processes' ``relay``, and :func:`open_bus`,
the factory that picks an implementation by URL.

Imports go one way: every module here imports ``base``; only this ``__init__``
knows the implementations (so ``nats_bus`` and the factory close no circle).
"""

from __future__ import annotations

from telemetry.live.bus.base import (
    MUST_KEEP_TYPES,
    BusStats,
    LiveBus,
    LiveSink,
    frame_site,
    subject_token,
)
from telemetry.live.bus.in_process import InProcessBus
from telemetry.live.bus.relay import VehicleRelay

__all__ = [
    "MUST_KEEP_TYPES",
    "BusStats",
    "InProcessBus",
    "LiveBus",
    "LiveSink",
    "VehicleRelay",
    "events_stream_name",
    "frame_site",
    "open_bus",
    "subject_token",
]


def open_bus(url: str, node_name: str, deployment: str = "skyberth") -> LiveBus:
    """The bus ``url`` names: ``""`` in process, ``nats://`` or ``tls://`` NATS.

    ``node_name`` names this process on the bus (its durable JetStream consumer);
    it must be unique per process. ``deployment`` keeps installations sharing one
    NATS apart: it is the subject prefix, and upper-cased, the event stream's
    name (``SKYBERTH_EVENTS`` for the default). Raises ``ValueError`` for another
    scheme and ``ImportError`` with the fix when nats-py is not installed.
    """
    if not url:
        return InProcessBus()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in {"nats", "tls"}:
        raise ValueError(
            f"bus URL {url!r}: use nats://HOST:PORT (or tls://), or empty for the "
            "in-process bus"
        )
    try:
        # Imported here, not at the top: nats-py is an optional extra, and a
        # process on the in-process bus must start without it.
        from telemetry.live.bus.nats_bus import NatsBus
    except ImportError as exc:  # pragma: no cover - the extra is installed in dev
        raise ImportError(
            "the NATS bus needs nats-py: pip install 'skyberth[nats]'"
        ) from exc
    return NatsBus(
        url, node_name, prefix=deployment, stream=events_stream_name(deployment)
    )


def events_stream_name(deployment: str) -> str:
    """The JetStream stream holding ``deployment``'s events."""
    return f"{deployment.upper()}_EVENTS"
