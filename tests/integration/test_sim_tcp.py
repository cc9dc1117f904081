"""The simulator over real TCP on loopback: as a client (``tcp:``), as a server
(``tcpin:``), reconnecting, and obeying a land command that comes back the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from functools import cache
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator.assignments import build_specs, site_entries
from simulator.fleet import Fleet
from simulator.links import Endpoint, Link, TcpServerLink
from simulator.runner import RunOptions, run_fleet

GCS = (255, 190)


@cache
def demo() -> Site:
    return load_site(demo_site_path())


def fleet(count: int = 1) -> Fleet:
    specs = build_specs(demo(), site_entries(demo(), count, corridor_id="C1"))
    return Fleet(demo(), specs, gnss_noise_m=0.0)


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s")
        await asyncio.sleep(0.02)


class StreamPeer:
    """One end of a TCP connection that decodes what it reads."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.parser = mavlink.MAVLink(None)
        self.messages: list[Any] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while data := await self.reader.read(65536):
            parsed = self.parser.parse_buffer(data) or []
            self.messages += parsed

    def of(self, kind: str) -> list[Any]:
        return [m for m in self.messages if m.get_type() == kind]

    def send(self, msg: Any) -> None:
        self.writer.write(msg.pack(mavlink.MAVLink(None, *GCS)))

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def test_as_a_tcp_client_it_sends_and_obeys_land() -> None:
    peers: list[StreamPeer] = []

    async def accept(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peers.append(StreamPeer(reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    the_fleet = fleet()
    options = RunOptions(
        (Endpoint("tcp", "127.0.0.1", port),), speed=40.0, duration_s=400
    )
    run = asyncio.create_task(run_fleet(the_fleet, options))
    try:
        await until(lambda: bool(peers) and the_fleet.t_s > 30.0)
        gcs = peers[0]
        assert len(gcs.of("GLOBAL_POSITION_INT")) > 200
        height_mm = gcs.of("GLOBAL_POSITION_INT")[-1].relative_alt
        assert height_mm > 20_000
        land = mavlink.MAVLink_command_long_message(
            1, 0, mavlink.MAV_CMD_NAV_LAND, 0, 0, 0, 0, 0, 0, 0, 0
        )
        gcs.send(land)
        await until(lambda: bool(gcs.of("COMMAND_ACK")))
        (ack,) = gcs.of("COMMAND_ACK")
        assert (ack.command, ack.result) == (
            mavlink.MAV_CMD_NAV_LAND,
            mavlink.MAV_RESULT_ACCEPTED,
        )
        stats = await asyncio.wait_for(run, 20.0)
        assert stats.sim_s < 120.0  # it landed where it was, well before its plan
        assert 9 in {b.custom_mode for b in gcs.of("HEARTBEAT")}  # LAND
        assert gcs.of("GLOBAL_POSITION_INT")[-1].relative_alt < 100
    finally:
        run.cancel()
        for peer in peers:
            await peer.close()
        server.close()
        await server.wait_closed()


async def test_a_tcp_client_keeps_trying_until_the_server_is_up() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()  # the port is free again: nobody listens yet
    the_fleet = fleet()
    links: list[Link] = []
    options = RunOptions(
        (Endpoint("tcp", "127.0.0.1", port),), speed=10.0, duration_s=60
    )
    run = asyncio.create_task(run_fleet(the_fleet, options, on_ready=links.extend))
    peers: list[StreamPeer] = []
    server = None
    try:
        await until(lambda: the_fleet.t_s > 5.0)
        assert links[0].frames_dropped > 0
        assert links[0].frames_sent == 0

        async def accept(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            peers.append(StreamPeer(r, w))

        server = await asyncio.start_server(accept, "127.0.0.1", port)
        await until(lambda: bool(peers) and len(peers[0].of("HEARTBEAT")) >= 2)
        assert links[0].frames_sent > 0
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        for peer in peers:
            await peer.close()
        if server is not None:
            server.close()
            await server.wait_closed()


async def test_as_a_tcp_server_every_client_gets_every_frame() -> None:
    links: list[Link] = []
    the_fleet = fleet(2)
    options = RunOptions(
        (Endpoint("tcpin", "127.0.0.1", 0),), speed=10.0, duration_s=60
    )
    run = asyncio.create_task(run_fleet(the_fleet, options, on_ready=links.extend))
    clients: list[StreamPeer] = []
    try:
        await until(lambda: bool(links))
        server = links[0]
        assert isinstance(server, TcpServerLink)
        assert server.bound_port
        for _ in range(2):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.bound_port
            )
            clients.append(StreamPeer(reader, writer))
        await until(lambda: server.peers == 2)
        start = server.frames_sent
        await until(lambda: server.frames_sent > start + 200)
        for client in clients:
            sysids = {m.get_srcSystem() for m in client.of("GLOBAL_POSITION_INT")}
            assert sysids == {1, 2}
        await clients[0].close()
        await until(lambda: server.peers == 1)
        before = len(clients[1].messages)
        await until(lambda: len(clients[1].messages) > before + 50)
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        for client in clients[1:]:
            await client.close()
