"""Quotas for unregistered system ids, on a real gateway fed pymavlink frames."""

from __future__ import annotations

from airspace.site_files import demo_site_path, load_site
from telemetry.live.fleet import DroneEntry, FleetDirectory
from telemetry.live.gateway import Gateway
from telemetry.live.gateway_settings import GatewaySettings
from telemetry.live.hub import LiveHub
from telemetry.live.quotas import QuotaLimits, UnregisteredQuotas
from tests.mavlink_helpers import VehicleEncoder, corridor_point

T0 = 1_795_000_000.0
SITE = load_site(demo_site_path())
LINK = "udpin:0.0.0.0:14550"


def gateway(limits: QuotaLimits) -> Gateway:
    gw = Gateway(
        {SITE.id: SITE},
        LiveHub(queue_frames=100, must_keep_frames=100),
        settings=GatewaySettings(quotas=limits),
    )
    drones = (DroneEntry("D1", "Kite-1", SITE.id, "op-a", sysid=200),)
    gw.set_directory(FleetDirectory(drones, ()), T0)
    return gw


def test_a_link_tracks_at_most_its_quota_of_unregistered_sysids() -> None:
    gw = gateway(QuotaLimits(vehicles=5))
    lat, lon, alt = corridor_point(SITE, "C1")
    for sysid in range(1, 101):
        enc = VehicleEncoder(sysid)
        gw.ingest(LINK, enc.heartbeat() + enc.position(lat, lon, alt, 40.0), T0)
    registered = VehicleEncoder(200)
    gw.ingest(LINK, registered.heartbeat(), T0)
    gw.tick(T0)

    assert sorted(v.sysid for v in gw.vehicles.values()) == [1, 2, 3, 4, 5, 200]
    assert gw.quotas.refused["vehicles"] == 95 * 2  # every refused frame counted
    assert gw.quotas.tracked(LINK) == 5


def test_a_forgotten_unregistered_vehicle_frees_its_place() -> None:
    gw = gateway(QuotaLimits(vehicles=1))
    first, second = VehicleEncoder(1), VehicleEncoder(2)
    gw.ingest(LINK, first.heartbeat(), T0)
    gw.ingest(LINK, second.heartbeat(), T0)
    assert [v.sysid for v in gw.vehicles.values()] == [1]
    late = T0 + gw.settings.forget_after_s + 1
    for tick in range(50):  # forgetting runs every 50 ticks
        gw.tick(late + tick * 0.02)
    gw.ingest(LINK, second.heartbeat(), late + 1)
    assert [v.sysid for v in gw.vehicles.values()] == [2]


def test_tlog_bytes_track_rows_and_incidents_have_their_quotas() -> None:
    quotas = UnregisteredQuotas(
        QuotaLimits(tlog_bytes=100, track_rows=2, incidents_per_min=2)
    )
    assert quotas.take_tlog(LINK, "k", 60, 1)
    assert not quotas.take_tlog(LINK, "k", 60, 1)
    assert [quotas.take_track_row(LINK, "k") for _ in range(3)] == [True, True, False]
    assert [quotas.take_incident(LINK, T0 + i) for i in range(3)] == [True, True, False]
    assert quotas.take_incident(LINK, T0 + 61)  # a sliding minute
    assert quotas.refused == {"tlog_bytes": 1, "track_rows": 1, "incidents": 1}
