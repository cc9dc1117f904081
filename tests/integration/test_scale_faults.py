"""Fault runs of the scaled-out deployment, under load (issue 8).

Two ``skyberth gateway`` processes (each owning its UDP ports' drones), two
``skyberth web`` processes, a throwaway PostgreSQL cluster and a private NATS server
(both restarted by the tests, so never the machine's own), a sender replaying
MAVLink for every drone, and live viewers on both web processes. Each test breaks
one piece while drones fly and bookings are made, then checks that no booking or
incident is missing or duplicated, that viewers were served throughout (or
reconnected, when their own web process died), and that what stayed up kept
serving. The cluster is shared by the module's tests; each leaves it whole.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa

from tests.conftest import ON_CI
from tests.harness.cluster import Cluster, seed_users
from tests.harness.fleet import FleetSpec, Sender
from tests.harness.nats import NATS_BIN, NatsServer
from tests.harness.ports import free_port, port_open
from tests.harness.postgres import PostgresServer, fresh_database, postgres_bin
from tests.harness.viewers import Viewer
from web.db import make_engine

pytestmark = pytest.mark.slow

DRONES_PER_GATEWAY = 8
LATE_DRONES = 3
"""Drones that first appear during a fault (on the "late" ports)."""
SEND_S = 60.0
BOOKING_DRONES = [f"bk{i}" for i in range(6)]


@dataclass
class World:
    cluster: Cluster
    postgres: PostgresServer
    nats: NatsServer
    db_url: str
    tokens: dict[str, str]
    sender: Sender
    ports: dict[str, int]
    """``gw0``, ``gw1`` (drones from the start), ``late0``, ``late1``."""
    booked: list[int] = field(default_factory=list)
    """Ids of every booking a 201 answered."""
    windows: int = 0

    def keys_of(self, port: str) -> list[str]:
        n = LATE_DRONES if port.startswith("late") else DRONES_PER_GATEWAY
        return [f"udpin:127.0.0.1:{self.ports[port]}/{i}" for i in range(1, n + 1)]

    def active(self, *late: str) -> list[bool]:
        return [not p.startswith("late") or p in late for p in self.ports]

    def url(self, web: str) -> str:
        return self.cluster.procs[web].base_url


def _need_binaries() -> None:
    missing = [
        what
        for what, there in (
            ("nats-server", Path(NATS_BIN).exists()),
            ("PostgreSQL (initdb)", postgres_bin() is not None),
        )
        if not there
    ]
    if missing:
        message = f"fault tests need {', '.join(missing)} installed"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    _need_binaries()
    with tempfile.TemporaryDirectory(prefix="skyberth-faults-") as tmp:
        root = Path(tmp)
        postgres = PostgresServer()
        postgres.init()
        postgres.start()
        nats_server = NatsServer(root)
        nats_server.start()
        try:
            with fresh_database(postgres.admin_url) as db_url:
                tokens = seed_users(db_url)
                names = ("gw0", "gw1", "late0", "late1")
                ports = {n: free_port(socket.SOCK_DGRAM) for n in names}
                cluster = Cluster(root, db_url, nats_server.url)
                sender: Sender | None = None
                try:
                    cluster.gateway("gw0", [ports["gw0"], ports["late0"]])
                    cluster.gateway("gw1", [ports["gw1"], ports["late1"]])
                    cluster.web("web0")
                    cluster.web("web1")
                    counts = (DRONES_PER_GATEWAY,) * 2 + (LATE_DRONES,) * 2
                    sender = Sender(FleetSpec(tuple(ports.values()), counts))
                    cluster.wait_ready()
                    world = World(
                        cluster, postgres, nats_server, db_url, tokens, sender, ports
                    )
                    _register_booking_drones(world)
                    yield world
                finally:
                    # Before the database is dropped, or they would wait for it.
                    if sender is not None:
                        sender.close()
                    cluster.close()
        finally:
            nats_server.stop()
            postgres.remove()


def _register_booking_drones(world: World) -> None:
    for i, drone in enumerate(BOOKING_DRONES):
        response = httpx2.post(
            world.url("web0") + "/api/v1/drones",
            headers={"Authorization": f"Bearer {world.tokens['operator']}"},
            json={
                "id": drone,
                "name": drone,
                "site_id": "cyberport-pier",
                "mavlink_sysid": 200 + i,
                "max_takeoff_mass_kg": 4.5,
            },
            timeout=30,
        )
        assert response.status_code == 201, response.text


@pytest.fixture
async def running(world: World) -> AsyncIterator[World]:
    """The fleet flying (late drones off) for the test; the cluster whole after."""
    world.sender.start(SEND_S, active=world.active())
    try:
        yield world
    finally:
        await asyncio.to_thread(world.sender.stop)
        await asyncio.to_thread(_heal, world)


def _heal(world: World) -> None:
    """Bring back whatever a failed test left down, so the next test starts whole."""
    if not port_open(world.nats.port):
        world.nats.start()
    if not port_open(world.postgres.port):
        world.postgres.start()
    dead = [name for name, proc in world.cluster.procs.items() if not proc.alive()]
    for name in dead:
        world.cluster.restart(name)
    world.cluster.wait_ready(*dead)


# -- helpers --------------------------------------------------------------------


async def until(condition: Callable[[], object], timeout_s: float, what: str) -> float:
    """Wait until ``condition()`` holds; return the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@dataclass
class Watching:
    viewers: list[Viewer]
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)


async def watch(world: World, *url_lists: list[str]) -> Watching:
    """One full viewer per URL list (officer: sees every vehicle and event)."""
    stop = asyncio.Event()
    viewers = [Viewer(urls, world.tokens["officer"], full=True) for urls in url_lists]
    tasks = [asyncio.create_task(v.run(stop)) for v in viewers]
    return Watching(viewers, stop, tasks)


def ws(world: World, web: str) -> str:
    return world.cluster.procs[web].ws_url


def live(viewer: Viewer, keys: list[str]) -> bool:
    """Every key in view and not ``link_lost``."""
    return all(viewer.states.get(k, "link_lost") != "link_lost" for k in keys)


def lost(viewer: Viewer, keys: list[str]) -> bool:
    return all(viewer.states.get(k) == "link_lost" for k in keys)


def incident_ids(viewer: Viewer) -> set[int]:
    return {
        f["incident"]["id"] for f in viewer.must_keep if f.get("type") == "incident"
    }


def booking_ids(viewer: Viewer) -> set[int]:
    return {f["booking"]["id"] for f in viewer.must_keep if f.get("type") == "booking"}


def _rows(world: World, sql: str) -> list[Any]:
    engine = make_engine(world.db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))
    finally:
        engine.dispose()


async def rows(world: World, sql: str) -> list[Any]:
    return await asyncio.to_thread(_rows, world, sql)


async def book(
    world: World, web: str, count: int, deadline_s: float = 20.0
) -> list[int]:
    """Request ``count`` bookings through ``web``, retrying until each is answered.

    A retry after an unclear failure (the database went away mid-request) may find
    its own earlier attempt committed: the drone is then booked, answered 409 with
    the booking in ``booking_ids``; that counts as the booking, once.
    """
    made: list[int] = []
    async with httpx2.AsyncClient(
        base_url=world.url(web),
        headers={"Authorization": f"Bearer {world.tokens['operator']}"},
        timeout=10,
    ) as client:
        for _ in range(count):
            k = world.windows
            world.windows += 1
            start = datetime.now(UTC).replace(microsecond=0) + timedelta(
                days=2, minutes=20 * k
            )
            body = {
                "site_id": "cyberport-pier",
                "drone_id": BOOKING_DRONES[k % len(BOOKING_DRONES)],
                "corridor_id": "C3",
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=15)).isoformat(),
            }
            give_up = time.monotonic() + deadline_s
            retried = False
            while True:
                try:
                    response = await client.post("/api/v1/bookings", json=body)
                except httpx2.HTTPError:
                    response = None
                if response is not None and response.status_code == 201:
                    made.append(response.json()["id"])
                    break
                if response is not None and response.status_code == 409 and retried:
                    made.extend(response.json()["booking_ids"][:1])
                    break
                if response is not None and response.status_code < 500:
                    raise AssertionError(f"booking refused: {response.text}")
                if time.monotonic() > give_up:
                    raise AssertionError(f"booking {k} not made in {deadline_s} s")
                retried = True
                await asyncio.sleep(0.3)
    world.booked.extend(made)
    return made


async def assert_nothing_lost_or_duplicated(world: World, announced: set[int]) -> None:
    """Every booking answered 201 is stored once; one incident per vehicle and
    kind; every incident a viewer was told of is stored."""
    stored = [r[0] for r in await rows(world, "SELECT id FROM bookings")]
    assert sorted(stored) == sorted(set(world.booked))
    windows = await rows(
        world,
        "SELECT drone_id, start_utc, count(*) FROM bookings "
        "GROUP BY drone_id, start_utc HAVING count(*) > 1",
    )
    assert windows == []
    groups = await rows(
        world,
        "SELECT vehicle_key, kind, count(*) FROM incidents "
        "GROUP BY vehicle_key, kind HAVING count(*) > 1",
    )
    assert groups == []
    incidents = {r[0] for r in await rows(world, "SELECT id FROM incidents")}
    assert announced <= incidents


async def still_serving(world: World, *names: str) -> None:
    async with httpx2.AsyncClient(timeout=5) as client:
        for name in names:
            response = await client.get(world.cluster.procs[name].base_url + "/healthz")
            assert response.status_code == 200


# -- the fault runs --------------------------------------------------------------


async def test_a_gateway_serves_health_and_metrics_and_no_api_or_pages(
    world: World,
) -> None:
    async with httpx2.AsyncClient(
        base_url=world.cluster.procs["gw0"].base_url, timeout=5
    ) as client:
        assert (await client.get("/healthz")).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert "skyberth_link_messages_total" in metrics
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/api/v1/sites")).status_code == 404
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/")).status_code == 404
    async with httpx2.AsyncClient(base_url=world.url("web0"), timeout=5) as client:
        operator = {"Authorization": f"Bearer {world.tokens['operator']}"}
        assert (await client.get("/api/v1/sites", headers=operator)).status_code == 200


async def test_kill_9_a_gateway_its_drones_show_link_lost_on_both_web_processes(
    running: World,
) -> None:
    world = running
    watching = await watch(world, [ws(world, "web0")], [ws(world, "web1")])
    everyone = world.keys_of("gw0") + world.keys_of("gw1")
    try:
        await until(
            lambda: all(live(v, everyone) for v in watching.viewers),
            15,
            "every drone live on both web processes",
        )
        await asyncio.to_thread(world.cluster.kill, "gw1")
        killed_s = time.time()

        took = await until(
            lambda: all(lost(v, world.keys_of("gw1")) for v in watching.viewers),
            10,
            "gw1's drones link_lost on both web processes",
        )
        assert took < 6
        for viewer in watching.viewers:
            assert live(viewer, world.keys_of("gw0"))
            assert all(viewer.heard_s[k] > killed_s + 2 for k in world.keys_of("gw0"))
            assert viewer.connects == 1  # the web processes never stopped
        await book(world, "web0", 2)
        await still_serving(world, "gw0", "web0", "web1")

        # The drones reach a gateway again (its replacement, on their ports).
        await asyncio.to_thread(world.cluster.restart, "gw1")
        await asyncio.to_thread(world.cluster.wait_ready, "gw1")
        await until(
            lambda: all(live(v, everyone) for v in watching.viewers),
            10,
            "gw1's drones live again",
        )
        announced = set().union(*(incident_ids(v) for v in watching.viewers))
        assert announced  # the unregistered drones' incidents reached the viewers
        await assert_nothing_lost_or_duplicated(world, announced)
    finally:
        await watching.close()


async def test_kill_9_a_web_process_its_viewers_reconnect_and_the_rest_serve_on(
    running: World,
) -> None:
    world = running
    watching = await watch(
        world,
        [ws(world, "web0"), ws(world, "web1")],
        [ws(world, "web1"), ws(world, "web0")],
    )
    moved, stayed = watching.viewers
    everyone = world.keys_of("gw0") + world.keys_of("gw1")
    try:
        await until(
            lambda: all(live(v, everyone) for v in watching.viewers), 15, "all live"
        )
        decoded = sum(
            world.cluster.metrics(g)["skyberth_link_messages_total"]
            for g in ("gw0", "gw1")
        )
        await asyncio.to_thread(world.cluster.kill, "web0")
        killed_s = time.time()

        await until(lambda: moved.connects == 2, 10, "web0's viewer reconnected")
        made = await book(world, "web1", 2)
        await until(
            lambda: all(set(made) <= booking_ids(v) for v in watching.viewers),
            10,
            "both viewers told of the bookings made on web1",
        )
        await until(
            lambda: all(moved.heard_s.get(k, 0) > killed_s for k in everyone),
            10,
            "the reconnected viewer sees every drone",
        )
        assert stayed.connects == 1
        assert stayed.closes == []
        assert (
            sum(
                world.cluster.metrics(g)["skyberth_link_messages_total"]
                for g in ("gw0", "gw1")
            )
            > decoded
        )

        await asyncio.to_thread(world.cluster.restart, "web0")
        await asyncio.to_thread(world.cluster.wait_ready, "web0")
        back = await watch(world, [ws(world, "web0")])
        try:
            await until(
                lambda: live(back.viewers[0], everyone), 10, "web0 serves again"
            )
            made = await book(world, "web1", 1)
            await until(
                lambda: set(made) <= booking_ids(back.viewers[0]),
                10,
                "web0 consumes the bus again",
            )
        finally:
            await back.close()
        await assert_nothing_lost_or_duplicated(world, incident_ids(stayed))
    finally:
        await watching.close()


async def test_restart_nats_events_raised_meanwhile_arrive_and_nothing_is_lost(
    running: World,
) -> None:
    world = running
    watching = await watch(world, [ws(world, "web0")], [ws(world, "web1")])
    everyone = world.keys_of("gw0") + world.keys_of("gw1")
    late = world.keys_of("late0")
    try:
        await until(
            lambda: all(live(v, everyone) for v in watching.viewers), 15, "all live"
        )
        await asyncio.to_thread(world.nats.stop)
        # While NATS is away: new drones appear (their incidents are opened and
        # stored by gw0) and a booking is made on web1.
        await asyncio.to_thread(world.sender.stop)
        world.sender.start(SEND_S, active=world.active("late0"))
        made = await book(world, "web1", 1)
        await asyncio.sleep(2.0)
        opened = await until_rows(world, late)
        await asyncio.to_thread(world.nats.start)

        viewers = watching.viewers
        await until(
            lambda: all(opened <= incident_ids(v) for v in viewers),
            15,
            "incidents opened during the outage announced after it",
        )
        await until(
            lambda: all(set(made) <= booking_ids(v) for v in viewers),
            10,
            "the booking made during the outage announced after it",
        )
        await until(
            lambda: all(live(v, everyone + late) for v in viewers),
            10,
            "positions flow again",
        )
        assert [v.connects for v in viewers] == [1, 1]
        await still_serving(world, "gw0", "gw1", "web0", "web1")
        announced = set().union(*(incident_ids(v) for v in watching.viewers))
        await assert_nothing_lost_or_duplicated(world, announced)
    finally:
        await watching.close()


async def until_rows(world: World, keys: list[str], timeout_s: float = 10) -> set[int]:
    """The ids of the incidents of ``keys`` once each has one stored."""
    quoted = ", ".join(f"'{k}'" for k in keys)
    sql = f"SELECT id, vehicle_key FROM incidents WHERE vehicle_key IN ({quoted})"
    found: list[Any] = []

    async def stored() -> bool:
        found[:] = await rows(world, sql)
        return {r[1] for r in found} == set(keys)

    started = time.monotonic()
    while not await stored():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"incidents of {keys} not stored: {found}")
        await asyncio.sleep(0.2)
    return {r[0] for r in found}


async def test_restart_postgresql_no_booking_or_incident_is_lost(
    running: World,
) -> None:
    world = running
    watching = await watch(world, [ws(world, "web0")], [ws(world, "web1")])
    everyone = world.keys_of("gw0") + world.keys_of("gw1")
    late = world.keys_of("late1")
    try:
        await until(
            lambda: all(live(v, everyone) for v in watching.viewers), 15, "all live"
        )
        await asyncio.to_thread(world.postgres.stop, "fast")
        # While the database is away: new drones appear on gw1 (their incidents
        # wait in the recorder) and bookings are requested (retried until done).
        await asyncio.to_thread(world.sender.stop)
        world.sender.start(SEND_S, active=world.active("late1"))
        booking = asyncio.create_task(book(world, "web0", 3, deadline_s=25))
        await asyncio.sleep(3.0)
        await still_serving(world, "gw0", "gw1", "web0", "web1")
        await asyncio.to_thread(world.postgres.start)

        made = await booking
        assert len(made) == 3
        opened = await until_rows(world, late, timeout_s=20)
        viewers = watching.viewers
        await until(
            lambda: all(opened <= incident_ids(v) for v in viewers),
            15,
            "incidents stored after the restart are announced",
        )
        await until(
            lambda: all(set(made) <= booking_ids(v) for v in viewers),
            10,
            "bookings made after the restart are announced",
        )
        assert [v.connects for v in viewers] == [1, 1]  # served throughout
        assert all(live(v, everyone + late) for v in viewers)
        announced = set().union(*(incident_ids(v) for v in watching.viewers))
        await assert_nothing_lost_or_duplicated(world, announced)
    finally:
        await watching.close()
