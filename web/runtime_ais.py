"""The AIS side of the live runtime: AIS links, the sentence log, the vessel picture.

Each ``--ais`` endpoint is a link whose sentences feed the vessel picture
(``telemetry.live.vessel_picture``: vessels, and their proximity to the drones the
gateway sees; docs/ais.md). When the process records, the raw sentences also go,
stamped, to the AIS log, purged with the rest at the retention sweep. Part of
``web.telemetry_runtime``, which keeps the links with its MAVLink ones (one list to
close and report) and runs the picture's task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from airspace.vessel_proximity import ProximityLimits
from telemetry.live.gateway import Gateway
from telemetry.live.vessel_picture import VesselPicture
from telemetry.mavlink.transports import Link, open_link, parse_endpoint
from telemetry.recording.ais_log import AisLog

logger = logging.getLogger(__name__)


class AisRuntime:
    """The AIS endpoints of one process, their sentence log and vessel picture."""

    def __init__(
        self,
        gateway: Gateway,
        endpoints: Sequence[str],
        limits: ProximityLimits | None,
        stale_after_s: float,
        log_dir: Path | None,
    ) -> None:
        self.endpoints = [parse_endpoint(spec) for spec in endpoints]
        self.log = AisLog(log_dir) if log_dir is not None else None
        """Raw AIS sentences, stamped, kept for the retention period."""
        self.vessels = VesselPicture(
            gateway,
            limits=limits,
            stale_after_s=stale_after_s,
            on_sentences=self.log.record if self.log is not None else None,
        )
        """AIS vessels and their proximity to drones (docs/ais.md)."""

    async def open_links(self, links: list[Link]) -> None:
        """Open every AIS endpoint, appending each link to ``links`` as it opens
        (the caller closes them, even those opened before one that failed), then
        start the log; the caller runs ``vessels.run`` when there are any."""
        for endpoint in self.endpoints:
            link = await open_link(
                endpoint, self.vessels.ingest, on_stream_end=self.vessels.end_stream
            )
            links.append(link)
            logger.info("AIS link %s open on %s", link.link_id, link.local_address)
        if self.endpoints and self.log is not None:
            self.log.start()

    async def purge(self, retention_days: int) -> None:
        """Delete the AIS log's files older than ``retention_days`` (off the loop)."""
        if self.log is not None:
            cutoff_s = time.time() - retention_days * 86400
            files = await asyncio.to_thread(self.log.purge, cutoff_s)
            logger.info("retention sweep: %d AIS file(s)", files)

    async def close(self) -> None:
        """Flush and close the AIS log (off the loop)."""
        if self.log is not None:
            await asyncio.to_thread(self.log.close)
