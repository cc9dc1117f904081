"""MAVLink transports on real sockets (127.0.0.1, port 0) and a real pseudo-terminal.

Every scenario runs on the default asyncio loop and on uvloop: the adapters must not
care which one the caller chose. Payloads are MAVLink frames from pymavlink's own
encoder mixed with random garbage; the transports must carry both, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import struct
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, cast

import pytest
import uvloop
from pymavlink.dialects.v20 import common as mavlink2

from telemetry.mavlink.sender_filter import SenderFilter, parse_networks
from telemetry.mavlink.shedding import SHED_AFTER_S
from telemetry.mavlink.transports import (
    BEHIND_AFTER_S,
    VALID_FORMS,
    EndpointError,
    LinkOpenError,
    NetworkEndpoint,
    SerialEndpoint,
    link_key,
    open_link,
    parse_endpoint,
)
from tests.conftest import free_port

STAMP_OPTION: int = getattr(socket, "SO_TIMESTAMP", 29)
"""Linux's SO_TIMESTAMP (Python leaves the constant out on some builds)."""

Run = Callable[[Coroutine[Any, Any, None]], None]
FAST_BACKOFF_S = (0.05, 0.2)


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    """Run one scenario to completion on a fresh loop of the given kind (debug on)."""
    factory = (
        asyncio.new_event_loop if request.param == "asyncio" else uvloop.new_event_loop
    )

    def _run(scenario: Coroutine[Any, Any, None]) -> None:
        async def bounded() -> None:
            async with asyncio.timeout(10):
                await scenario

        with asyncio.Runner(loop_factory=factory, debug=True) as runner:
            runner.run(bounded())

    return _run


class Received:
    """An ``on_data`` / ``on_stream_end`` recorder that scenarios can wait on."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, float]] = []
        self.ended: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, stream_id: str, data: bytes, now_s: float) -> None:
        self.calls.append((stream_id, data, now_s))
        self._changed.set()

    def stream_end(self, stream_id: str) -> None:
        self.ended.append(stream_id)
        self._changed.set()

    def joined(self, stream_id: str | None = None) -> bytes:
        return b"".join(d for s, d, _ in self.calls if stream_id in (None, s))

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(5):
            while not done():
                self._changed.clear()
                await self._changed.wait()


def mavlink_frames(sysid: int, count: int) -> list[bytes]:
    """Distinct GLOBAL_POSITION_INT frames (time_boot_ms counts up) plus heartbeats."""
    mav = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=1)
    frames: list[bytes] = []
    for i in range(count):
        position = mav.global_position_int_encode(
            i * 100, 222606000 + i, 1141289000, 61200, 58900, 120, -30, 5, 27100
        )
        frames.append(position.pack(mav))
        if i % 10 == 0:
            frames.append(mav.heartbeat_encode(2, 3, 128, 0, 4).pack(mav))
    return frames


def garbage(rng: random.Random, count: int) -> list[bytes]:
    return [rng.randbytes(rng.randint(1, 300)) for _ in range(count)]


def interleave(rng: random.Random, a: list[bytes], b: list[bytes]) -> list[bytes]:
    mixed = a + b
    rng.shuffle(mixed)
    return mixed


class Peer(asyncio.DatagramProtocol):
    """A plain UDP socket on the test's side."""

    def __init__(self) -> None:
        self.got: list[tuple[bytes, Any]] = []
        self.event = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # 3.11's selector transport does not subclass DatagramTransport; cast.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.got.append((data, addr))
        self.event.set()

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.got) < count:
                self.event.clear()
                await self.event.wait()

    def sendto(self, data: bytes, addr: Any = None) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port


@contextlib.asynccontextmanager
async def udp_peer(
    remote: tuple[str, int] | None = None,
) -> Any:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(
        Peer, local_addr=("127.0.0.1", 0), remote_addr=remote
    )
    try:
        yield peer
    finally:
        transport.close()
        await asyncio.sleep(0)  # let the loop finish closing the socket


def port_is_free(kind: int, port: int) -> bool:
    """True when nothing holds ``port`` (TIME_WAIT leftovers allowed, as servers do)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# --- parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("udpin:0.0.0.0:14550", NetworkEndpoint("udpin", "0.0.0.0", 14550)),
        ("udpout:192.168.1.20:14555", NetworkEndpoint("udpout", "192.168.1.20", 14555)),
        ("tcp:127.0.0.1:5760", NetworkEndpoint("tcp", "127.0.0.1", 5760)),
        ("tcp:sitl.local:5760", NetworkEndpoint("tcp", "sitl.local", 5760)),
        ("tcpin:0.0.0.0:0", NetworkEndpoint("tcpin", "0.0.0.0", 0)),
        ("udpin:[::]:14550", NetworkEndpoint("udpin", "::", 14550)),
        ("tcp:[fe80::1%eth0]:5760", NetworkEndpoint("tcp", "fe80::1%eth0", 5760)),
        ("  UDPIN:0.0.0.0:14550 ", NetworkEndpoint("udpin", "0.0.0.0", 14550)),
        ("serial:/dev/ttyUSB0:57600", SerialEndpoint("/dev/ttyUSB0", 57600)),
        (
            "serial:/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0:921600",
            SerialEndpoint("/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0", 921600),
        ),
    ],
)
def test_parses_every_endpoint_form(spec: str, expected: object) -> None:
    endpoint = parse_endpoint(spec)
    assert endpoint == expected
    assert parse_endpoint(endpoint.spec) == endpoint  # the canonical form round-trips


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "empty"),
        ("14550", "no transport prefix"),
        ("udp:0.0.0.0:14550", "unknown transport 'udp' (use udpin"),
        ("mqtt:broker:1883", "unknown transport 'mqtt'"),
        ("udpin:14550", "no port"),
        ("udpin::14550", "no host"),
        ("udpin:0.0.0.0:", "port '' is not a number"),
        ("udpin:0.0.0.0:70000", "port '70000' is not a number from 0 to 65535"),
        ("udpin:0.0.0.0:-1", "port '-1'"),
        ("tcp:127.0.0.1:0", "port 0 (any free port) only suits a listener, not tcp"),
        ("udpin:::1:14550", "IPv6 host '::1' must be in brackets"),
        ("udpin:[::1:14550", "never closed"),
        ("udpin:[::1]14550", "no port after the IPv6 host"),
        ("udpin:[not-v6]:14550", "'not-v6' is not an IPv6 address"),
        ("tcp:bad host:5760", "'bad host' is not a host name"),
        ("serial:/dev/ttyUSB0", "serial needs a device and a baud rate"),
        ("serial::57600", "serial needs a device and a baud rate"),
        ("serial:57600", "serial needs a device and a baud rate"),
        ("serial:/dev/ttyUSB0:5760", "baud rate '5760' is not one of 1200,"),
    ],
)
def test_refuses_bad_endpoints_saying_what_is_wrong(spec: str, reason: str) -> None:
    with pytest.raises(EndpointError) as caught:
        parse_endpoint(spec)
    message = str(caught.value)
    assert reason in message
    assert message.endswith(f"Valid forms: {VALID_FORMS}")
    assert isinstance(caught.value, ValueError)


def test_stream_ids_map_back_to_their_link() -> None:
    assert link_key("tcpin:0.0.0.0:5760#127.0.0.1:53412") == "tcpin:0.0.0.0:5760"
    assert link_key("tcpin:[::]:5760#[::1]:53412") == "tcpin:[::]:5760"
    assert link_key("udpin:0.0.0.0:14550") == "udpin:0.0.0.0:14550"


# --- UDP ------------------------------------------------------------------------------


def test_udpin_delivers_every_datagram_intact_and_in_order_and_answers(
    run: Run,
) -> None:
    rng = random.Random(4)
    sent = interleave(rng, mavlink_frames(42, 150), garbage(rng, 50))

    async def scenario() -> None:
        received = Received()
        link = await open_link(parse_endpoint("udpin:127.0.0.1:0"), received)
        host, port = link.local_address or ("", 0)
        assert (host, port != 0) == ("127.0.0.1", True)
        assert link.link_id == f"udpin:127.0.0.1:{port}"
        async with link, udp_peer((host, port)) as peer:
            for datagram in sent:
                peer.sendto(datagram)
            await received.until(lambda: len(received.calls) == len(sent))
            assert [d for _, d, _ in received.calls] == sent
            assert {s for s, _, _ in received.calls} == {link.link_id}
            assert link.counters.datagrams_in == len(sent)
            assert link.counters.bytes_in == sum(map(len, sent))

            link.send(b"\xfd reply")
            await peer.wait_for(1)
            assert peer.got == [(b"\xfd reply", (host, port))]
            assert (link.counters.datagrams_out, link.counters.send_errors) == (1, 0)
        assert link.closed
        assert port_is_free(socket.SOCK_DGRAM, port)

    run(scenario())


def test_udpin_answers_every_peer_heard_in_the_last_10_s_only(run: Run) -> None:
    now_s = [1_000.0]

    async def scenario() -> None:
        received = Received()
        link = await open_link(
            parse_endpoint("udpin:127.0.0.1:0"), received, clock=lambda: now_s[0]
        )
        async with (
            link,
            udp_peer(link.local_address) as old,
            udp_peer(link.local_address) as recent,
        ):
            link.send(b"nobody yet")
            assert link.counters.send_errors == 1

            old.sendto(b"from old")
            await received.until(lambda: len(received.calls) == 1)
            now_s[0] = 1_008.0
            recent.sendto(b"from recent")
            await received.until(lambda: len(received.calls) == 2)
            assert [t for _, _, t in received.calls] == [1_000.0, 1_008.0]

            link.send(b"both")
            await old.wait_for(1)
            await recent.wait_for(1)
            assert link.peers == 2

            now_s[0] = 1_010.5  # old was heard 10.5 s ago, recent 2.5 s ago
            link.send(b"recent only")
            await recent.wait_for(2)
            assert [d for d, _ in recent.got] == [b"both", b"recent only"]
            await asyncio.sleep(0.05)
            assert [d for d, _ in old.got] == [b"both"]
            assert link.peers == 1

    run(scenario())


def test_udpout_talks_to_its_peer_and_ignores_strangers(run: Run) -> None:
    frames = mavlink_frames(7, 20)

    async def scenario() -> None:
        received = Received()
        async with udp_peer() as vehicle, udp_peer() as stranger:
            spec = f"udpout:127.0.0.1:{vehicle.address[1]}"
            async with await open_link(parse_endpoint(spec), received) as link:
                assert link.link_id == spec
                for frame in frames:
                    link.send(frame)
                await vehicle.wait_for(len(frames))
                assert [d for d, _ in vehicle.got] == frames
                gateway_address = vehicle.got[0][1]
                assert gateway_address == link.local_address

                stranger.sendto(b"spoof", gateway_address)
                vehicle.sendto(b"telemetry", gateway_address)
                await received.until(lambda: len(received.calls) >= 1)
                await asyncio.sleep(0.05)
                assert [d for _, d, _ in received.calls] == [b"telemetry"]

    run(scenario())


def test_udp_receive_buffer_is_enlarged_for_bursts(run: Run) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain:
        default_bytes = plain.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    async def scenario() -> None:
        async with await open_link(
            parse_endpoint("udpin:127.0.0.1:0"), Received()
        ) as link:
            assert (link.receive_buffer_bytes or 0) > default_bytes

    run(scenario())


def test_udpin_loses_nothing_of_a_burst_that_lands_while_the_loop_is_busy(
    run: Run,
) -> None:
    # 3,000 datagrams: a default 208 KiB buffer holds about 256 of them.
    burst = mavlink_frames(9, 2_750)

    async def scenario() -> None:
        received = Received()
        async with await open_link(
            parse_endpoint("udpin:127.0.0.1:0"), received
        ) as link:
            address = link.local_address
            assert address is not None
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for datagram in burst:  # the loop gets no turn meanwhile
                    sender.sendto(datagram, address)
            await received.until(lambda: len(received.calls) == len(burst))
            assert [d for _, d, _ in received.calls] == burst

    run(scenario())


@pytest.fixture
def stamps_on_receipt() -> Iterator[None]:
    """Keep Linux stamping datagrams as they arrive, not when they are read.

    A socket asking for SO_TIMESTAMP turns receive stamping on system-wide, but the
    kernel does so in deferred work when no socket had it on; until then it stamps
    a datagram when it is read, so one that waited reads as fresh. Tests of waiting
    datagrams hold a stamping socket open and wait until it sees a real wait.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, STAMP_OPTION, 1)
        sock.bind(("127.0.0.1", 0))
        deadline = time.monotonic() + 5.0
        while True:
            sock.sendto(b"probe", sock.getsockname())
            time.sleep(0.03)
            _, ancillary, _, _ = sock.recvmsg(64, socket.CMSG_SPACE(16))
            stamps = [p for _, kind, p in ancillary if kind == STAMP_OPTION]
            if not stamps:
                break  # no stamps at all: the tests say so themselves
            sec, usec = struct.unpack_from("@ll", stamps[0])
            if time.time() - (sec + usec / 1e6) >= 0.02:
                break
            assert time.monotonic() < deadline, "the kernel never stamped on receipt"
        yield
    finally:
        sock.close()


def test_udpin_reads_a_steady_stream_a_few_milliseconds_at_a_time(run: Run) -> None:
    # 400 datagrams at an even pace over about 0.2 s: read one wakeup each, the
    # loop would poll 400 times; resting READ_PAUSE_S after each drain, it reads
    # what came meanwhile together.
    frames = mavlink_frames(9, 400)

    async def scenario() -> None:
        received = Received()
        async with await open_link(
            parse_endpoint("udpin:127.0.0.1:0"), received
        ) as link:
            address = link.local_address
            assert address is not None

            def send() -> None:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                    for frame in frames:
                        sender.sendto(frame, address)
                        time.sleep(0.0005)

            await asyncio.to_thread(send)
            await received.until(lambda: len(received.calls) == len(frames))
            assert [d for _, d, _ in received.calls] == frames
            assert link.counters.wakeups < len(frames) / 4, link.counters

    run(scenario())


def test_udpin_says_when_datagrams_waited_in_the_kernel(
    run: Run, stamps_on_receipt: None
) -> None:
    frames = mavlink_frames(9, 20)

    async def scenario() -> None:
        received = Received()
        behind: list[str] = []
        async with await open_link(
            parse_endpoint("udpin:127.0.0.1:0"), received
        ) as link:
            link.on_backlog = lambda link_id, _now_s: behind.append(link_id)
            address = link.local_address
            assert address is not None
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(frames[0], address)
                await received.until(lambda: len(received.calls) == 1)
                assert behind == [], "read at once: not behind"
                sender.sendto(frames[1], address)
                time.sleep(BEHIND_AFTER_S + 0.1)  # noqa: ASYNC251  # the loop is busy
                sender.sendto(frames[2], address)
                await received.until(lambda: len(received.calls) == 3)
                assert behind == [link.link_id]
                assert link.counters.backlogged_wakeups == 1
                sender.sendto(frames[3], address)
                await received.until(lambda: len(received.calls) == 4)
                assert behind == [link.link_id], "caught up again"

    run(scenario())


def test_udpin_behind_decodes_each_drones_newest_position_and_sheds_the_rest(
    run: Run, stamps_on_receipt: None
) -> None:
    # Two drones' positions pile up while the loop is busy past SHED_AFTER_S; a
    # mission item (not routine telemetry) in the middle must survive.
    first = mavlink_frames(7, 30)
    second = mavlink_frames(8, 30)
    mav = mavlink2.MAVLink(None, srcSystem=7, srcComponent=1)
    mission = mav.mission_count_encode(245, 190, 3).pack(mav)
    burst = [*first[:15], mission, *first[15:], *second]

    async def scenario() -> None:
        received = Received()
        shed: list[bytes] = []
        # Read as the batch is shed: the flag lasts OVERLOADED_FOR_S, which a
        # busy test machine can outlast before the assertions below.
        overloaded_when_shed: list[bool] = []
        async with await open_link(
            parse_endpoint("udpin:127.0.0.1:0"), received
        ) as link:

            def on_shed(
                _link_id: str, datagrams: list[tuple[bytes, Any, float]]
            ) -> None:
                shed.extend(d for d, _, _ in datagrams)
                overloaded_when_shed.append(link.overloaded)

            link.on_shed = on_shed
            address = link.local_address
            assert address is not None
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for datagram in burst:
                    sender.sendto(datagram, address)
                time.sleep(SHED_AFTER_S + 0.15)  # noqa: ASYNC251  # the loop is busy
                await received.until(
                    lambda: mission in [d for _, d, _ in received.calls]
                )
                await asyncio.sleep(0.05)
            got = [d for _, d, _ in received.calls]
            assert overloaded_when_shed == [True]
            positions = [d for d in got if d[7] == 33]
            assert positions == [first[-1], second[-1]], "each drone's newest only"
            last_heartbeats = [[d for d in f if d[7] == 0][-1] for f in (first, second)]
            assert [d for d in got if d[7] == 0] == last_heartbeats
            assert mission in got
            assert link.counters.shed_datagrams == len(burst) - len(got)
            assert link.counters.datagrams_in == len(burst)
            assert link.counters.shed_batches == 1
            # Nothing lost: what was not decoded was handed over to be recorded.
            assert sorted(got + shed) == sorted(burst)
            assert len(shed) == link.counters.shed_datagrams

    run(scenario())


def test_udpin_binds_ipv6_in_brackets(run: Run) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")

    async def scenario() -> None:
        received = Received()
        try:
            link = await open_link(parse_endpoint("udpin:[::1]:0"), received)
        except LinkOpenError as exc:
            pytest.skip(f"no IPv6 loopback: {exc}")
        async with link:
            port = (link.local_address or ("", 0))[1]
            assert link.link_id == f"udpin:[::1]:{port}"
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=("::1", port)
            )
            try:
                transport.sendto(b"v6")
                await received.until(lambda: len(received.calls) == 1)
            finally:
                transport.close()
                await asyncio.sleep(0)

    run(scenario())


def test_a_failing_on_data_is_counted_and_reading_goes_on(run: Run) -> None:
    async def scenario() -> None:
        received = Received()

        def flaky(stream_id: str, data: bytes, now_s: float) -> None:
            if data == b"boom":
                raise RuntimeError("ingest bug")
            received(stream_id, data, now_s)

        async with await open_link(parse_endpoint("udpin:127.0.0.1:0"), flaky) as link:
            async with udp_peer(link.local_address) as peer:
                for datagram in (b"one", b"boom", b"two"):
                    peer.sendto(datagram)
                await received.until(lambda: len(received.calls) == 2)
            assert [d for _, d, _ in received.calls] == [b"one", b"two"]
            assert link.counters.callback_errors == 1
            assert link.counters.datagrams_in == 3

    run(scenario())


def test_a_listener_on_a_taken_port_fails_with_the_endpoint_named(run: Run) -> None:
    async def scenario() -> None:
        async with await open_link(
            parse_endpoint("udpin:127.0.0.1:0"), Received()
        ) as first:
            spec = f"udpin:127.0.0.1:{(first.local_address or ('', 0))[1]}"
            with pytest.raises(LinkOpenError, match=f"cannot open {spec}: "):
                await open_link(parse_endpoint(spec), Received())

    run(scenario())


# --- TCP ------------------------------------------------------------------------------


class TcpServer:
    """The test's side of a tcp client link: a real server, connections on a queue."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[
            tuple[asyncio.StreamReader, asyncio.StreamWriter]
        ] = asyncio.Queue()
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.writers.append(writer)
        await self.connections.put((reader, writer))

    async def next_connection(
        self,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with asyncio.timeout(5):
            return await self.connections.get()

    async def close_all(self) -> None:
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def chunked(rng: random.Random, data: bytes) -> Iterator[bytes]:
    """``data`` cut at random places, as TCP and serial may deliver it."""
    start = 0
    while start < len(data):
        end = start + rng.randint(1, 97)
        yield data[start:end]
        start = end


def test_tcp_client_reconnects_after_the_server_drops_it(run: Run) -> None:
    rng = random.Random(5760)
    before = b"".join(mavlink_frames(1, 40))
    after = b"".join(interleave(rng, mavlink_frames(1, 40), garbage(rng, 5)))

    async def scenario() -> None:
        sitl = TcpServer()
        server = await asyncio.start_server(sitl.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        received = Received()
        link = await open_link(
            parse_endpoint(f"tcp:127.0.0.1:{port}"),
            received,
            on_stream_end=received.stream_end,
            backoff_s=FAST_BACKOFF_S,
        )
        try:
            reader, writer = await sitl.next_connection()
            assert link.local_address == writer.get_extra_info("peername")[:2]
            for chunk in chunked(rng, before):
                writer.write(chunk)
            await received.until(lambda: received.joined() == before)
            link.send(b"\xfdcommand")
            assert await reader.readexactly(8) == b"\xfdcommand"

            writer.close()  # the autopilot drops us
            await writer.wait_closed()
            await received.until(lambda: received.ended == [link.link_id])
            link.send(b"lost")
            assert link.counters.send_errors == 1

            reader, writer = await sitl.next_connection()
            writer.write(after)
            await received.until(lambda: received.joined() == before + after)
            assert {s for s, _, _ in received.calls} == {link.link_id}
            assert link.counters.reconnects == 1
            assert link.counters.connections == 2
        finally:
            await link.close()
            await link.close()  # idempotent
            server.close()
            await sitl.close_all()
            await server.wait_closed()

    run(scenario())


def test_tcp_client_keeps_dialling_until_the_server_comes_up(run: Run) -> None:
    port = free_port()

    async def scenario() -> None:
        received = Received()
        link = await open_link(
            parse_endpoint(f"tcp:127.0.0.1:{port}"), received, backoff_s=FAST_BACKOFF_S
        )
        sitl = TcpServer()
        try:
            await asyncio.sleep(0.2)  # a few refused dials
            assert link.peers == 0
            assert link.local_address is None
            server = await asyncio.start_server(sitl.handle, "127.0.0.1", port)
            _, writer = await sitl.next_connection()
            writer.write(b"hello")
            await received.until(lambda: received.joined() == b"hello")
            assert link.counters.reconnects == 0  # a first connection, late
        finally:
            await link.close()
            server.close()
            await sitl.close_all()
            await server.wait_closed()

    run(scenario())


def test_tcpin_serves_two_clients_each_as_its_own_stream(run: Run) -> None:
    rng = random.Random(2)
    streams = {
        sysid: b"".join(interleave(rng, mavlink_frames(sysid, 60), garbage(rng, 5)))
        for sysid in (11, 12)
    }

    async def scenario() -> None:
        received = Received()
        link = await open_link(
            parse_endpoint("tcpin:127.0.0.1:0"),
            received,
            on_stream_end=received.stream_end,
        )
        port = (link.local_address or ("", 0))[1]
        assert link.link_id == f"tcpin:127.0.0.1:{port}"
        clients = {
            sysid: await asyncio.open_connection("127.0.0.1", port) for sysid in streams
        }
        try:
            for (_, writer), data in zip(
                clients.values(), streams.values(), strict=True
            ):
                for chunk in chunked(rng, data):
                    writer.write(chunk)
                    await writer.drain()
            stream_ids = {
                sysid: f"{link.link_id}#127.0.0.1:{w.get_extra_info('sockname')[1]}"
                for sysid, (_, w) in clients.items()
            }
            await received.until(
                lambda: all(
                    received.joined(stream_ids[sysid]) == data
                    for sysid, data in streams.items()
                )
            )
            assert {link_key(s) for s, _, _ in received.calls} == {link.link_id}
            assert link.peers == 2

            link.send(b"to all")
            for reader, _ in clients.values():
                assert await reader.readexactly(6) == b"to all"

            _, gone = clients.pop(11)
            gone.close()
            await gone.wait_closed()
            await received.until(lambda: received.ended == [stream_ids[11]])
            assert link.peers == 1
            assert link.counters.connections == 2
        finally:
            await link.close()
            for _, writer in clients.values():
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
        assert port_is_free(socket.SOCK_STREAM, port)

    run(scenario())


# --- serial ---------------------------------------------------------------------------


async def read_fd(fd: int, count: int) -> bytes:
    """Read ``count`` bytes from a non-blocking fd through the loop."""
    loop = asyncio.get_running_loop()
    data = bytearray()
    readable = asyncio.Event()
    loop.add_reader(fd, readable.set)
    try:
        async with asyncio.timeout(5):
            while len(data) < count:
                readable.clear()
                with contextlib.suppress(BlockingIOError):
                    data += os.read(fd, count - len(data))
                    continue
                await readable.wait()
    finally:
        loop.remove_reader(fd)
    return bytes(data)


@pytest.fixture
def pty_device() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal: (master fd for the test, slave path for the link)."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)  # the link opens the path itself, like a real radio
    os.set_blocking(master, False)
    try:
        yield master, path
    finally:
        with contextlib.suppress(OSError):
            os.close(master)


def test_serial_carries_every_byte_value_raw_both_ways(
    run: Run, pty_device: tuple[int, str]
) -> None:
    master, path = pty_device
    # Every byte value, including the ones a cooked tty eats or rewrites:
    # \r \n, ^C ^D ^Z, XON/XOFF, DEL; then real MAVLink frames.
    payload = bytes(range(256)) * 2 + b"".join(mavlink_frames(3, 30))

    async def scenario() -> None:
        received = Received()
        async with await open_link(
            parse_endpoint(f"serial:{path}:57600"), received
        ) as link:
            assert link.link_id == f"serial:{path}:57600"
            assert link.local_address is None
            for chunk in chunked(random.Random(1), payload):
                os.write(master, chunk)
            await received.until(lambda: len(received.joined()) >= len(payload))
            assert received.joined() == payload
            assert {s for s, _, _ in received.calls} == {link.link_id}

            link.send(payload)
            assert await read_fd(master, len(payload)) == payload
            assert link.counters.bytes_out == len(payload)
            await asyncio.sleep(0.05)
            assert received.joined() == payload  # no echo came back

    run(scenario())


def test_serial_survives_losing_its_device(
    run: Run, pty_device: tuple[int, str]
) -> None:
    master, path = pty_device

    async def scenario() -> None:
        received = Received()
        link = await open_link(
            parse_endpoint(f"serial:{path}:115200"),
            received,
            on_stream_end=received.stream_end,
            backoff_s=FAST_BACKOFF_S,
        )
        async with link:
            os.write(master, b"before")
            await received.until(lambda: received.joined() == b"before")
            os.close(master)  # unplugged: the tty hangs up
            await received.until(lambda: received.ended == [link.link_id])
            assert link.peers == 0
            link.send(b"nobody")
            assert link.counters.send_errors == 1
            await asyncio.sleep(0.15)  # a few failed reopens, logged, not raised

    run(scenario())


@pytest.mark.parametrize(
    ("device", "reason"),
    [("/nonexistent/ttyUSB9", "No such file"), ("/dev/null", "not a serial device")],
)
def test_serial_open_failures_name_device_and_reason(
    run: Run, device: str, reason: str
) -> None:
    async def scenario() -> None:
        with pytest.raises(
            LinkOpenError, match=f"cannot open serial:{device}:57600: {reason}"
        ):
            await open_link(parse_endpoint(f"serial:{device}:57600"), Received())

    run(scenario())


def test_udpin_refuses_and_counts_senders_outside_the_allowed_networks(
    run: Run,
) -> None:
    async def scenario() -> None:
        received = Received()
        link = await open_link(parse_endpoint("udpin:127.0.0.1:0"), received)
        link.allowed = SenderFilter(parse_networks(["10.0.0.0/8"]))
        async with link, udp_peer(link.local_address or ("", 0)) as peer:
            for _ in range(5):
                peer.sendto(b"\xfd from outside")
            await asyncio.sleep(0.2)
            assert received.calls == []
            assert link.counters.refused_senders == 5
            assert link.peers == 0  # never answered either
            link.allowed = SenderFilter(parse_networks(["127.0.0.0/8"]))
            peer.sendto(b"\xfd from inside")
            await received.until(lambda: len(received.calls) == 1)
            assert link.counters.refused_senders == 5

    run(scenario())


def test_udpin_hands_each_datagram_its_sender_when_asked(run: Run) -> None:
    async def scenario() -> None:
        received = Received()
        sources: list[Any] = []
        both = asyncio.Event()

        def on_data_from(_stream: str, _data: bytes, _t: float, source: Any) -> None:
            sources.append(source)
            if len(sources) == 2:
                both.set()

        link = await open_link(parse_endpoint("udpin:127.0.0.1:0"), received)
        link.on_data_from = on_data_from
        address = link.local_address or ("", 0)
        async with link, udp_peer(address) as one, udp_peer(address) as two:
            one.sendto(b"\xfd one")
            two.sendto(b"\xfd two")
            await asyncio.wait_for(both.wait(), 5)
            assert len(set(sources)) == 2
            assert {host for host, _ in sources} == {"127.0.0.1"}
            assert received.calls == []  # on_data_from replaces on_data

    run(scenario())
