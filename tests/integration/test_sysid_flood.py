"""A flood of 10,000 random system ids against a real ``skyberth serve`` (issue 16
item 7): memory and the data directory stay within the quotas, and the gateway
keeps serving.

A sysid is 8 bits, so the flood comes from many source sockets: 40 senders, each
sending 250 datagrams (heartbeat + position) for a random sysid.
"""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import httpx2
import pytest

from airspace.site_files import demo_site_path, load_site
from tests.integration.live_server import live_server
from tests.mavlink_helpers import VehicleEncoder, corridor_point

SITE = load_site(demo_site_path())
SENDERS = 40
DATAGRAMS = 10_000
VEHICLES_PER_LINK = 16
TLOG_BUDGET_MB = 2
UNREGISTERED_TLOG_MB = 0.05


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def bytes_under(directory: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in directory.rglob(pattern) if p.is_file())


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in /metrics")


@pytest.mark.slow
def test_a_flood_of_random_sysids_stays_within_the_quotas(tmp_path: Path) -> None:
    lat, lon, alt = corridor_point(SITE, "C1")
    rng = random.Random(16)
    with live_server(
        tmp_path,
        SKYBERTH_UNREGISTERED_VEHICLES_PER_LINK=str(VEHICLES_PER_LINK),
        SKYBERTH_TLOG_BUDGET_MB=str(TLOG_BUDGET_MB),
        SKYBERTH_UNREGISTERED_TLOG_MB=str(UNREGISTERED_TLOG_MB),
        SKYBERTH_LOG_LEVEL="WARNING",
    ) as server:
        target = ("127.0.0.1", server.mavlink_port)
        rss_before = rss_bytes(server.pid)
        disk_before = bytes_under(tmp_path)
        senders = []
        for _ in range(SENDERS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            senders.append(sock)
        encoders = {sysid: VehicleEncoder(sysid) for sysid in range(1, 256)}
        try:
            for i in range(DATAGRAMS):
                enc = encoders[rng.randrange(1, 256)]
                data = enc.heartbeat() + enc.position(lat, lon, alt, 40.0)
                senders[i % SENDERS].sendto(data, target)
                if i % 500 == 499:
                    time.sleep(0.05)  # let the kernel buffer drain, as a real flood
        finally:
            for sock in senders:
                sock.close()
        time.sleep(2.0)  # a tlog hand-off and a tick or two
        metrics = httpx2.get(server.base_url + "/metrics", timeout=10).text
        health = httpx2.get(server.base_url + "/healthz", timeout=10)
        rss_after = rss_bytes(server.pid)
        tlogs = bytes_under(tmp_path, "*.tlog")
        disk_after = bytes_under(tmp_path)
        refused = [
            line
            for line in metrics.splitlines()
            if line.startswith("skyberth_refused_total")
        ]
        print(  # noqa: T201 - the figures the issue note quotes
            f"flood: RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB, "
            f"data dir {disk_before / 2**20:.2f} -> {disk_after / 2**20:.2f} MiB, "
            f"tlogs {tlogs / 2**10:.0f} KiB, "
            f"vehicles {metric(metrics, 'skyberth_vehicles')}, "
            f"refused {refused}"
        )
    assert health.status_code == 200
    assert metric(metrics, "skyberth_vehicles") <= VEHICLES_PER_LINK
    assert metric(metrics, 'skyberth_refused_total{reason="vehicles"}') > 0
    assert tlogs <= VEHICLES_PER_LINK * UNREGISTERED_TLOG_MB * 2**20
    assert tlogs <= TLOG_BUDGET_MB * 2**20
    assert rss_after - rss_before < 64 * 2**20
    assert disk_after - disk_before < 16 * 2**20
