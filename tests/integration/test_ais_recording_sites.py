"""The raw AIS recording per site (issue 20): a vessel's sentences go to the sites
it is near, a vessel not yet placed goes to every site, and each site's replay
reads only its own recording.

Two sites 40 km apart on a real gateway, the vessel picture fed over a real UDP
link (sentences from pyais' encoder), the real recording thread writing files.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyais import encode_dict

from airspace.site_files import demo_site_path, load_site
from airspace.site_parse import parse_site
from telemetry.live.gateway import Gateway
from telemetry.live.hub import LiveHub
from telemetry.live.vessel_picture import VesselPicture
from telemetry.mavlink.transports import open_link, parse_endpoint
from telemetry.recording.ais_log import AisLog
from telemetry.reports.vessel_tracks import read_vessel_tracks
from tests.harness.sites import site_copy

PIER = load_site(demo_site_path())
FAR = parse_site(site_copy(PIER, 20, corridor_capacity=2))  # 0.4 deg east
NEAR_PIER, NEAR_FAR, UNPLACED = 477000101, 477000102, 477000103


def _ais(data: Mapping[str, Any]) -> bytes:
    return "".join(
        f"{s}\r\n" for s in encode_dict(dict(data), sentence_type="VDM")
    ).encode()


async def _feed_and_record(tmp_path: Path) -> None:
    """Send the three vessels over UDP, tick once, and close the recording."""
    log = AisLog(tmp_path)
    log.start()
    gateway = Gateway({PIER.id: PIER, FAR.id: FAR}, LiveHub())
    picture = VesselPicture(gateway, on_sentences=log.record)
    link = await open_link(parse_endpoint("udpin:127.0.0.1:0"), picture.ingest)
    port = link.local_address[1]  # type: ignore[index]  # (host, port) for UDP
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for mmsi, lon in (
                (NEAR_PIER, PIER.ref_lon_deg),
                (NEAR_FAR, FAR.ref_lon_deg),
            ):
                report = {"type": 1, "mmsi": mmsi, "lat": PIER.ref_lat_deg, "lon": lon}
                out.sendto(_ais(report), ("127.0.0.1", port))
            static = {"type": 5, "mmsi": UNPLACED, "shipname": "NOT YET PLACED"}
            out.sendto(_ais(static), ("127.0.0.1", port))
        await asyncio.sleep(0.3)  # the datagrams' way through the loopback
        assert len(picture.table) == 3
        picture.tick(time.time())
    finally:
        await link.close()
        await asyncio.to_thread(log.close)


def test_each_site_records_and_replays_only_the_vessels_near_it(
    tmp_path: Path,
) -> None:
    now = float(int(time.time()))
    asyncio.run(_feed_and_record(tmp_path))

    assert sorted(p.parent.name for p in tmp_path.glob("*/*.nmea")) == sorted(
        [PIER.id, FAR.id]
    )
    pier = {t.mmsi for t in read_vessel_tracks(tmp_path, PIER.id, now - 5, now + 5)}
    far = {t.mmsi for t in read_vessel_tracks(tmp_path, FAR.id, now - 5, now + 5)}
    assert (pier, far) == ({NEAR_PIER}, {NEAR_FAR})
    # the vessel with no position yet went to both (its name may be needed)
    for site in (PIER, FAR):
        [day] = (tmp_path / site.id).glob("*.nmea")
        assert day.read_text().count("!AIVDM,2,") == 2  # both parts of its type 5
