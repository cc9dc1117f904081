"""The documented scale-out on the machine's own PostgreSQL and NATS (issue 23).

Two ``skyberth gateway`` and two ``skyberth web`` processes under a deployment name
of their own (so nothing else on the NATS server is seen), a fresh database, four
registered drones with approved bookings, and the real simulator run twice with
``--shard 1/2`` and ``--shard 2/2``, one run per gateway, as docs/bus.md says.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import nats
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from telemetry.live.bus import events_stream_name
from tests.conftest import require_service
from tests.harness.cluster import REPO, Cluster, seed_users
from tests.harness.ports import free_port
from tests.harness.postgres import fresh_database
from tests.integration.conftest import POSTGRES_ADMIN_URL
from web.routes.live import live_subprotocols

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

NATS_URL = "nats://127.0.0.1:4222"
SITE = "cyberport-pier"
BOOKED = {1: {"corridor_id": "C1"}, 2: {"corridor_id": "C2"}, 3: {"corridor_id": "C3"}}
BOOKED[4] = {"takeoff_pad_id": "P2"}  # a hover over a pad


@dataclass
class Split:
    cluster: Cluster
    tokens: dict[str, str]
    ports: dict[str, int]
    """UDP port of ``gw-1`` and ``gw-2``."""
    bookings: dict[int, int]
    """Booking id by the booked drone's system id."""

    def url(self, name: str) -> str:
        return self.cluster.procs[name].base_url

    def expected_keys(self) -> dict[str, int]:
        """Vehicle key -> system id: odd ids on gw-1 (shard 1/2), even on gw-2."""
        return {
            f"udpin:127.0.0.1:{self.ports['gw-1' if s % 2 else 'gw-2']}/{s}": s
            for s in BOOKED
        }


def _api(split_url: str, token: str, method: str, path: str, **kw: Any) -> Any:
    response = httpx2.request(
        method,
        f"{split_url}/api/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kw,
    )
    assert response.status_code < 300, response.text
    return response.json()


def _book_fleet(url: str, tokens: dict[str, str]) -> dict[int, int]:
    made = {}
    for sysid, resources in BOOKED.items():
        # Per booking: on a busy machine a few seconds pass between requests.
        start = datetime.now(UTC) + timedelta(seconds=3)
        drone = {
            "id": f"d{sysid}",
            "name": f"Drone {sysid}",
            "site_id": SITE,
            "mavlink_sysid": sysid,
            "max_takeoff_mass_kg": 4.0,
        }
        _api(url, tokens["operator"], "POST", "/drones", json=drone)
        body = {
            "site_id": SITE,
            "drone_id": f"d{sysid}",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            **resources,
        }
        booking = _api(url, tokens["operator"], "POST", "/bookings", json=body)
        _api(url, tokens["admin"], "POST", f"/bookings/{booking['id']}/approve")
        made[sysid] = int(booking["id"])
    return made


def _simulator(url: str, token: str, shard: str, port: int, log: Path) -> Any:
    args = [
        sys.executable, "-m", "simulator", "--api", url, "--token", token,
        "--shard", shard, "--to", f"udpout:127.0.0.1:{port}", "--repeat",
    ]  # fmt: skip
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
    with log.open("ab") as out:
        return subprocess.Popen(
            args, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )


async def _delete_stream(deployment: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(events_stream_name(deployment))
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def split() -> Iterator[Split]:
    require_service("NATS", 4222)
    require_service("PostgreSQL", 5432)
    deployment = f"t-{uuid.uuid4().hex[:10]}"
    with (
        tempfile.TemporaryDirectory(prefix="skyberth-split-") as tmp,
        fresh_database(POSTGRES_ADMIN_URL, prefix="skyberth_split") as db_url,
    ):
        root = Path(tmp)
        tokens = seed_users(db_url)
        ports = {n: free_port(socket.SOCK_DGRAM) for n in ("gw-1", "gw-2")}
        cluster = Cluster(root, db_url, NATS_URL, {"SKYBERTH_DEPLOYMENT": deployment})
        sims: list[subprocess.Popen[bytes]] = []
        try:
            for name, port in ports.items():
                cluster.gateway(name, [port])
            cluster.web("web-1")
            cluster.web("web-2")
            cluster.wait_ready()
            url = cluster.procs["web-1"].base_url
            bookings = _book_fleet(url, tokens)
            for shard, gateway in (("1/2", "gw-1"), ("2/2", "gw-2")):
                log = root / f"sim-{gateway}.log"
                sims.append(
                    _simulator(url, tokens["admin"], shard, ports[gateway], log)
                )
            yield Split(cluster, tokens, ports, bookings)
        finally:
            for sim in sims:
                sim.terminate()
            for sim in sims:
                try:
                    sim.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    sim.kill()
                    sim.wait()
            cluster.close()
            asyncio.run(_delete_stream(deployment))


async def snapshot(split: Split, web: str) -> dict[str, dict[str, Any]]:
    """The vehicles of the first frame a new viewer of ``web`` gets, by key."""
    url = split.cluster.procs[web].ws_url
    offer = [Subprotocol(p) for p in live_subprotocols(split.tokens["officer"])]
    async with connect(url, subprotocols=offer, max_size=None, open_timeout=20) as ws:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(decode=False), 10))
    assert frame["type"] == "snapshot"
    return {v["key"]: v for v in frame["vehicles"]}


async def wait_for_fleet(split: Split, web: str, timeout_s: float = 30.0) -> None:
    """Until ``web`` shows every booked drone tied to its booking (the simulators
    and the booking windows take a moment)."""
    deadline = time.monotonic() + timeout_s
    want = set(split.expected_keys())
    while True:
        seen = await snapshot(split, web)
        # Each drone is tied to its booking once the booking's window opens.
        if want <= set(seen) and all(seen[k]["booking_id"] is not None for k in want):
            return
        assert time.monotonic() < deadline, f"{web} never showed {sorted(want)}"
        await asyncio.sleep(0.5)


def assert_named(split: Split, vehicles: dict[str, dict[str, Any]]) -> None:
    """Exactly the booked drones, each on its shard's gateway, each named."""
    expected = split.expected_keys()
    assert set(vehicles) == set(expected)
    for key, sysid in expected.items():
        v = vehicles[key]
        corridor = BOOKED[sysid].get("corridor_id")
        booking = split.bookings[sysid]
        assert (v["drone_id"], v["booking_id"]) == (f"d{sysid}", booking), v
        assert v["corridor_id"] == corridor, v


async def test_the_split_simulator_flies_disjoint_booked_drones_via_two_gateways(
    split: Split,
) -> None:
    for web in ("web-1", "web-2"):
        await wait_for_fleet(split, web)
        assert_named(split, await snapshot(split, web))


async def test_a_restarted_web_process_names_every_drone_in_its_first_snapshot(
    split: Split,
) -> None:
    await wait_for_fleet(split, "web-2")
    split.cluster.kill("web-2")
    split.cluster.restart("web-2")
    await asyncio.to_thread(split.cluster.wait_ready, "web-2")
    assert_named(split, await snapshot(split, "web-2"))


async def test_a_web_process_adds_up_every_gateways_links_and_counts_the_fleet(
    split: Split,
) -> None:
    await wait_for_fleet(split, "web-1")
    deadline = time.monotonic() + 15.0
    while True:
        links = _api(
            split.url("web-1"), split.tokens["officer"], "GET", "/telemetry/links"
        )
        if len(links["gateways"]) == 2 and links["vehicles"] == len(BOOKED):
            break
        assert time.monotonic() < deadline, links
        await asyncio.sleep(0.5)
    assert [g["node"] for g in links["gateways"]] == ["gw-1", "gw-2"]
    by_node = {row["node"]: row for row in links["links"]}
    for gateway, port in split.ports.items():
        row = by_node[gateway]
        assert row["link_id"] == f"udpin:127.0.0.1:{port}"
        assert sum(s["vehicles"] for s in row["streams"]) == len(BOOKED) // 2
    metrics = split.cluster.metrics("web-1")
    assert metrics["skyberth_vehicles"] == len(BOOKED)
    assert metrics["skyberth_bus_gateways"] == 2
    assert "skyberth_gateway_ticks_total" not in metrics
    assert split.cluster.metrics("gw-1")["skyberth_vehicles"] == len(BOOKED) // 2


def _web_figures(url: str) -> dict[str, float]:
    text = httpx2.get(url + "/metrics", timeout=5).text
    return {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("skyberth_") and "{" not in line
    }


def test_skyberth_cluster_runs_the_documented_deployment_until_ctrl_c(
    tmp_path: Path,
) -> None:
    """``make cluster``: both web processes show the whole booked fleet, coming
    through both gateways; Ctrl-C stops everything and drops the database."""
    require_service("NATS", 4222)
    require_service("PostgreSQL", 5432)
    web_port, gateway_port = free_port(), free_port()
    mavlink_port = free_port(socket.SOCK_DGRAM)
    log = tmp_path / "cluster.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
    args = [
        sys.executable, "-m", "web.cli", "cluster", "--admin-url", POSTGRES_ADMIN_URL,
        "--drones", "4", "--web-port", str(web_port),
        "--gateway-port", str(gateway_port), "--mavlink-port", str(mavlink_port),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything." not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        database = log.read_text().split("database ", 1)[1].split()[0]
        webs = [f"http://127.0.0.1:{web_port + i}" for i in (0, 1)]
        while True:
            figures = [_web_figures(url) for url in webs]
            if all(
                f.get("skyberth_vehicles") == 4 and f.get("skyberth_bus_gateways") == 2
                for f in figures
            ):
                break
            assert time.monotonic() < deadline, (figures, log.read_text())
            time.sleep(0.5)
        for i in (0, 1):
            gateway = _web_figures(f"http://127.0.0.1:{gateway_port + i}")
            assert gateway["skyberth_vehicles"] == 2  # half the fleet each
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()
    assert f"database {database} dropped" in log.read_text()
