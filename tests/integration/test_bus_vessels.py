"""AIS vessels across the bus (issue 20): a ``web`` process behind NATS lists the
vessels a gateway hears in its snapshot, and one started later gets them too.

One ``skyberth gateway`` with ``--ais udpin`` and ``skyberth web`` processes on the
machine's PostgreSQL and NATS, under a deployment name of their own; the vessel's
sentences are written by pyais' encoder and sent over real UDP.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest
from pyais import encode_dict
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from telemetry.live.bus import events_stream_name
from tests.conftest import require_service
from tests.harness.cluster import Cluster, seed_users
from tests.harness.ports import free_port
from tests.harness.postgres import fresh_database
from tests.integration.conftest import POSTGRES_ADMIN_URL
from web.routes.live import live_subprotocols

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

NATS_URL = "nats://127.0.0.1:4222"
FERRY = 477000001


def _ais(data: dict[str, Any]) -> bytes:
    return "".join(f"{s}\r\n" for s in encode_dict(data, sentence_type="VDM")).encode()


async def _snapshot_vessels(cluster: Cluster, web: str, token: str) -> dict[int, Any]:
    offer = [Subprotocol(p) for p in live_subprotocols(token)]
    url = cluster.procs[web].ws_url
    async with connect(url, subprotocols=offer, max_size=None, open_timeout=20) as ws:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(decode=False), 10))
    assert frame["type"] == "snapshot"
    return {v["mmsi"]: v for v in frame["vessels"]}


def _wait_for_vessel(cluster: Cluster, web: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        vessels = asyncio.run(_snapshot_vessels(cluster, web, token))
        ferry: dict[str, Any] | None = vessels.get(FERRY)
        if ferry is not None and ferry["name"]:
            return ferry
        assert time.monotonic() < deadline, f"{web} never listed the ferry: {vessels}"
        time.sleep(0.5)


async def _delete_stream(deployment: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(events_stream_name(deployment))
    finally:
        await nc.close()


@pytest.fixture
def cluster_with_ais() -> Iterator[tuple[Cluster, dict[str, str], int]]:
    require_service("NATS", 4222)
    require_service("PostgreSQL", 5432)
    deployment = f"t-{uuid.uuid4().hex[:10]}"
    ais_port = free_port(socket.SOCK_DGRAM)
    with (
        tempfile.TemporaryDirectory(prefix="skyberth-vessels-") as tmp,
        fresh_database(POSTGRES_ADMIN_URL, prefix="skyberth_vessels") as db_url,
    ):
        tokens = seed_users(db_url)
        extra = {
            "SKYBERTH_DEPLOYMENT": deployment,
            "SKYBERTH_AIS": f'["udpin:127.0.0.1:{ais_port}"]',
        }
        cluster = Cluster(Path(tmp), db_url, NATS_URL, extra)
        try:
            cluster.gateway("gw-1", [free_port(socket.SOCK_DGRAM)])
            cluster.web("web-1")
            cluster.wait_ready()
            yield cluster, tokens, ais_port
        finally:
            cluster.close()
            asyncio.run(_delete_stream(deployment))


def test_a_web_process_lists_the_gateways_vessels_and_a_later_one_too(
    cluster_with_ais: tuple[Cluster, dict[str, str], int],
) -> None:
    cluster, tokens, ais_port = cluster_with_ais
    officer = tokens["officer"]
    position = {"type": 1, "mmsi": FERRY, "lat": 22.2601, "lon": 114.1302}
    position |= {"speed": 12.0, "course": 90.0, "heading": 91, "status": 0}
    static = {"type": 5, "mmsi": FERRY, "shipname": "NEW WORLD FIRST FERRY"}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as aiv:
        for _ in range(3):
            aiv.sendto(_ais(static), ("127.0.0.1", ais_port))
            aiv.sendto(_ais(position), ("127.0.0.1", ais_port))
            time.sleep(0.3)

    ferry = _wait_for_vessel(cluster, "web-1", officer)
    assert ferry["name"] == "NEW WORLD FIRST FERR"  # AIS names: 20 chars
    assert ferry["lat_deg"] == pytest.approx(22.2601, abs=1e-4)
    assert ferry["heading_deg"] == 91

    # Nothing more is sent: a web process started now only learns of the ferry
    # by asking the gateway for its whole picture.
    cluster.web("web-2")
    cluster.wait_ready("web-2")
    later = _wait_for_vessel(cluster, "web-2", officer)
    assert later["name"] == "NEW WORLD FIRST FERR"
    assert later["sog_kn"] == pytest.approx(12.0)
