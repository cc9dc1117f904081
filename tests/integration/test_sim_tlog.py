"""Record a flight as a tlog, read it with pymavlink's own log reader, replay it over
real UDP: the replay reproduces the same positions, at the recorded pace / speed."""

from __future__ import annotations

import asyncio
import socket
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator.assignments import build_specs, site_entries
from simulator.fleet import Fleet
from simulator.links import Endpoint
from simulator.recordings import read_tlog
from simulator.runner import RunOptions, run_fleet, run_replay
from simulator.scenarios import parse_spec
from telemetry.mavlink.codec import LinkCodec
from telemetry.mavlink.tlog import TlogReader


@cache
def demo() -> Site:
    return load_site(demo_site_path())


class Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.parser = mavlink.MAVLink(None)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.frames.append(data)

    def positions(self) -> list[tuple[int, int, int, int, int]]:
        out = []
        for frame in self.frames:
            for m in self.parser.parse_buffer(frame) or ():
                if m.get_type() == "GLOBAL_POSITION_INT":
                    out.append((m.get_srcSystem(), m.time_boot_ms, m.lat, m.lon, m.alt))
        return out


async def sink() -> tuple[Sink, asyncio.DatagramTransport, tuple[Endpoint, ...]]:
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        Sink, local_addr=("127.0.0.1", 0)
    )
    # Sender and sink share one loop: a burst must fit in the socket buffer, or a
    # loaded machine drops datagrams that the test would blame on the replay.
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    port = transport.get_extra_info("sockname")[1]
    return protocol, transport, (Endpoint("udpout", "127.0.0.1", port),)


async def test_a_replayed_recording_reproduces_the_same_positions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tlog = tmp_path / "flight.tlog"
    specs = build_specs(
        demo(),
        site_entries(demo(), 2, corridor_id="C1"),
        scenario_specs=[parse_spec("gps_glitch@2:at_s=5")],
    )
    live, live_transport, live_to = await sink()
    stats = await run_fleet(
        Fleet(demo(), specs),
        RunOptions(live_to, speed=50.0, duration_s=30.0, record=tlog),
    )
    await asyncio.sleep(0.1)
    live_transport.close()
    assert stats.frames_recorded == stats.frames_sent == len(live.frames)

    records = read_tlog(tlog)
    assert [r.frame for r in records] == live.frames
    span_s = records[-1].t_s - records[0].t_s
    assert span_s == pytest.approx(30.0, abs=0.2)  # stamped with the simulated clock

    # pymavlink's own reader sees the same messages.
    monkeypatch.setenv("MAVLINK20", "1")
    log = mavutil.mavlink_connection(str(tlog), dialect="ardupilotmega")
    try:
        read = []
        while (m := log.recv_match()) is not None:
            read.append(m)
    finally:
        log.close()
    assert len(read) == len(records)
    assert read[0]._timestamp == pytest.approx(records[0].t_s, abs=1e-3)

    replayed, replay_transport, replay_to = await sink()
    loop = asyncio.get_running_loop()
    started = loop.time()
    replay_stats = await run_replay(records, RunOptions(replay_to, speed=40.0))
    wall_s = loop.time() - started
    await asyncio.sleep(0.1)
    replay_transport.close()
    assert replay_stats.frames_sent == len(records)
    assert replayed.positions() == live.positions()
    assert len(replayed.positions()) == pytest.approx(600, abs=4)
    assert wall_s == pytest.approx(span_s / 40.0, abs=0.3)


async def test_the_gateways_reader_and_codec_take_a_simulator_recording_whole(
    tmp_path: Path,
) -> None:
    tlog = tmp_path / "flight.tlog"
    specs = build_specs(demo(), site_entries(demo(), 2, corridor_id="C1"))
    _, transport, to = await sink()
    stats = await run_fleet(
        Fleet(demo(), specs), RunOptions(to, speed=50.0, duration_s=5.0, record=tlog)
    )
    transport.close()

    reader = TlogReader(tlog)
    codec = LinkCodec("replay", framing="datagram")
    accepted = sum(len(codec.feed(frame, t_s).frames) for t_s, frame in reader)
    assert reader.skipped_bytes == 0
    assert accepted == stats.frames_recorded > 0
    assert (codec.counters.bad_crc, codec.counters.garbage_bytes) == (0, 0)
