"""AIS from a TCP source (``--ais tcp:HOST:PORT``) on real loopback sockets.

A real asyncio server plays an AIS feed (sentences from pyais' encoder) cut into
chunks at arbitrary places, as TCP delivers them; the vessel picture, fed by
MAVLink's TCP client transport, must reassemble lines and multi-part messages.
"""

from __future__ import annotations

import asyncio

from pyais import encode_dict

from airspace.site_files import demo_site_path, load_site
from telemetry.live.gateway import Gateway
from telemetry.live.hub import LiveHub
from telemetry.live.vessel_picture import VesselPicture
from telemetry.mavlink.transports import open_link, parse_endpoint

SITE = load_site(demo_site_path())


async def test_a_tcp_ais_feed_cut_anywhere_builds_the_vessel() -> None:
    feed = encode_dict(
        {"type": 5, "mmsi": 477000555, "shipname": "TCP FERRY", "to_bow": 20},
        sentence_type="VDM",
        seq_id=4,
    ) + encode_dict(
        {"type": 1, "mmsi": 477000555, "lat": 22.25, "lon": 114.12, "speed": 8.0},
        sentence_type="VDM",
    )
    data = "".join(f"{line}\r\n" for line in feed).encode() + b"junk line\r\n"

    sent, done = asyncio.Event(), asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(0, len(data), 13):
            writer.write(data[i : i + 13])
            await writer.drain()
            await asyncio.sleep(0.005)
        sent.set()
        await reader.read()  # until the client hangs up
        writer.close()
        await writer.wait_closed()
        done.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    picture = VesselPicture(Gateway({SITE.id: SITE}, LiveHub()))
    link = await open_link(
        parse_endpoint(f"tcp:127.0.0.1:{port}"),
        picture.ingest,
        on_stream_end=picture.end_stream,
    )
    try:
        async with asyncio.timeout(5):
            await sent.wait()
        await asyncio.sleep(0.2)  # the last chunk's way through the loopback
    finally:
        await link.close()
        async with asyncio.timeout(5):
            await done.wait()  # the server's side closed too: nothing left to collect
        server.close()
        await server.wait_closed()
    v = picture.table.get(477000555)
    assert v is not None
    assert v.lat_deg == 22.25
    assert v.name == "TCP FERRY"
    assert v.sog_kn == 8.0
    [counters] = picture.links().values()
    assert counters["sentences_ok"] == 3
    assert counters["garbage_lines"] == 1
