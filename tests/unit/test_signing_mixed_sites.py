"""One process serving a site that requires signing and one that does not: the
rule applies per site, once a vehicle is bound (issue 16 item 3, mixed
deployments). A real ``Gateway`` fed frames that pymavlink's own encoder makes
and signs.

Before, the links were strict only when every site required signing, so in a
mixed deployment an unsigned sender flew at the strict site as if it were lenient.
"""

from __future__ import annotations

import dataclasses

from airspace.site import Site
from telemetry.live.fleet import DroneEntry, FleetDirectory
from telemetry.live.gateway import Gateway
from telemetry.live.hub import LiveHub
from telemetry.live.strict_sites import REFUSED_REASON
from tests.mavlink_helpers import corridor_point
from tests.unit.test_signing_per_site import (
    FAR,
    KEY_A,
    SITE,
    T0,
    frames,
    signed_encoder as encoder,
)

LINK = "udpin:0.0.0.0:14550"


def mixed_gateway(*drones: DroneEntry) -> Gateway:
    """SITE requires signing, FAR does not."""
    sites: dict[str, Site] = {
        SITE.id: dataclasses.replace(SITE, require_signing=True),
        FAR.id: dataclasses.replace(FAR, require_signing=False),
    }
    gateway = Gateway(sites, LiveHub(queue_frames=1000, must_keep_frames=1000))
    gateway.set_directory(FleetDirectory(drones, ()), T0)
    return gateway


def fly(gateway: Gateway, sends: dict[int, tuple[bytes | None, Site]], n: int) -> None:
    """``n`` datagrams (heartbeat + position) from each sysid over ``site``'s C1."""
    encoders = {sysid: encoder(sysid, key) for sysid, (key, _) in sends.items()}
    for i in range(n):
        t = T0 + i * 0.1
        for sysid, (_, site) in sends.items():
            gateway.ingest(LINK, frames(encoders[sysid], corridor_point(site, "C1")), t)
        gateway.tick(t)


def shown(gateway: Gateway) -> dict[int, str | None]:
    """sysid -> site of every vehicle the live snapshot lists."""
    return {f["sysid"]: f["site_id"] for f in gateway.vehicle_frames(T0 + 10)}


def test_unsigned_frames_are_refused_at_the_strict_site_and_taken_at_the_other() -> (
    None
):
    gateway = mixed_gateway()
    fly(gateway, {42: (None, SITE), 43: (None, FAR)}, 20)
    assert shown(gateway) == {43: FAR.id}
    assert {v.sysid for v in gateway.vehicles.values()} == {43}
    # Every frame of sysid 42 after its binding (the first datagram's two frames
    # were heard before its site was known, and are dropped with its state).
    assert gateway.refused_frames[REFUSED_REASON] == 2 * 19
    assert gateway.events_total["spoofed_frames"] >= 1
    assert not gateway.monitors[SITE.id].monitor.open_breach(f"{LINK}/42")


def test_a_registered_drone_without_a_key_is_refused_at_the_strict_site() -> None:
    gateway = mixed_gateway(DroneEntry("DK", "Keyless", SITE.id, "op-a", sysid=12))
    fly(gateway, {12: (None, FAR)}, 10)  # its site is its registration's
    assert shown(gateway) == {}
    assert gateway.refused_frames[REFUSED_REASON] == 2 * 9


def test_frames_signed_with_the_registered_key_are_taken_at_the_strict_site() -> None:
    gateway = mixed_gateway(
        DroneEntry("DA", "Signed", SITE.id, "op-a", sysid=11, signing_key=KEY_A)
    )
    fly(gateway, {11: (KEY_A, SITE)}, 10)
    (vehicle,) = gateway.vehicles.values()
    assert (vehicle.drone_id, vehicle.site_id, vehicle.has_position) == (
        "DA",
        SITE.id,
        True,
    )
    assert shown(gateway) == {11: SITE.id}
    assert gateway.refused_frames[REFUSED_REASON] == 0


def test_a_refused_drone_flies_once_its_key_is_registered_and_it_signs() -> None:
    keyless = DroneEntry("DK", "Keyless", SITE.id, "op-a", sysid=12)
    gateway = mixed_gateway(keyless)
    fly(gateway, {12: (None, SITE)}, 5)
    assert shown(gateway) == {}
    keyed = dataclasses.replace(keyless, signing_key=KEY_A)
    gateway.set_directory(FleetDirectory((keyed,), ()), T0 + 1)
    signed = encoder(12, KEY_A)
    for i in range(5):
        t = T0 + 1 + i * 0.1
        gateway.ingest(LINK, frames(signed, corridor_point(SITE, "C1")), t)
        gateway.tick(t)
    assert shown(gateway) == {12: SITE.id}
    (vehicle,) = gateway.vehicles.values()
    assert vehicle.has_position
