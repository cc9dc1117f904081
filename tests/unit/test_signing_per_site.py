"""Signing keys belong to (site, sysid), and sites may require signing: a real
gateway fed frames that pymavlink's own encoder signs (issue 16 item 3).

Before keys were per (site, sysid), one sysid -> key map spanned every site, so an
operator at site B registering a site A drone's sysid with their own key replaced
A's key: A's real frames were refused and B's frames bound to A's drone by
position.
"""

from __future__ import annotations

import dataclasses
import hashlib

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from airspace.site_parse import parse_site
from telemetry.live.fleet import DroneEntry, FleetDirectory
from telemetry.live.gateway import Gateway
from telemetry.live.hub import LiveHub
from telemetry.mavlink.codec import LinkCodec
from telemetry.mavlink.signing import SignatureVerifier, sign_outgoing
from tests.harness.sites import site_copy
from tests.mavlink_helpers import VehicleEncoder, corridor_point

T0 = 1_795_000_000.0
SITE = load_site(demo_site_path())
FAR = parse_site(site_copy(SITE, 1, corridor_capacity=4))
KEY_A = hashlib.sha256(b"site A's drone").digest()
KEY_B = hashlib.sha256(b"site B's operator").digest()
STRANGER = hashlib.sha256(b"nobody registered this").digest()


def signed_encoder(sysid: int, key: bytes | None) -> VehicleEncoder:
    enc = VehicleEncoder(sysid)
    if key is not None:
        sign_outgoing(enc.mav, key, T0)
    return enc


def frames(enc: VehicleEncoder, point: tuple[float, float, float]) -> bytes:
    lat, lon, alt = point
    return enc.heartbeat(True) + enc.position(lat, lon, alt, 40.0)


def two_site_gateway(*, strict: bool = False) -> Gateway:
    sites: dict[str, Site] = {
        SITE.id: dataclasses.replace(SITE, require_signing=strict),
        FAR.id: dataclasses.replace(FAR, require_signing=strict),
    }
    gateway = Gateway(sites, LiveHub(queue_frames=1000, must_keep_frames=1000))
    drones = (
        DroneEntry("DA", "Victim", SITE.id, "op-a", sysid=11, signing_key=KEY_A),
        DroneEntry("DB", "Copycat", FAR.id, "op-b", sysid=11, signing_key=KEY_B),
    )
    gateway.set_directory(FleetDirectory(drones, ()), T0)
    return gateway


def rejected(gateway: Gateway) -> int:
    return sum(c.counters.signature_rejected for c in gateway.codecs.values())


def test_the_directory_keeps_every_sites_key_for_a_shared_sysid() -> None:
    drones = (
        DroneEntry("DA", "Victim", SITE.id, "op-a", sysid=11, signing_key=KEY_A),
        DroneEntry("DB", "Copycat", FAR.id, "op-b", sysid=11, signing_key=KEY_B),
    )
    assert FleetDirectory(drones, ()).signing_keys() == {11: (KEY_A, KEY_B)}


def test_a_second_sites_key_for_the_same_sysid_does_not_lock_out_the_first() -> None:
    gateway = two_site_gateway()
    victim = signed_encoder(11, KEY_A)
    # It flies near the other site: its key, not the distance, says whose it is.
    for i in range(20):
        t = T0 + i * 0.1
        gateway.ingest(
            "udpin:0.0.0.0:14550", frames(victim, corridor_point(FAR, "C1")), t
        )
        gateway.tick(t)
    (vehicle,) = gateway.vehicles.values()
    assert (vehicle.drone_id, vehicle.site_id) == ("DA", SITE.id)
    assert rejected(gateway) == 0


def test_frames_signed_with_the_copycats_key_bind_to_the_copycats_drone() -> None:
    gateway = two_site_gateway()
    copycat = signed_encoder(11, KEY_B)
    # Flying over the victim's site, it is still only the copycat's drone.
    for i in range(20):
        t = T0 + i * 0.1
        gateway.ingest(
            "udpin:0.0.0.0:14551", frames(copycat, corridor_point(SITE, "C1")), t
        )
        gateway.tick(t)
    (vehicle,) = gateway.vehicles.values()
    assert (vehicle.drone_id, vehicle.operator_id) == ("DB", "op-b")


def test_once_verified_a_sysid_is_held_to_its_key_on_the_link() -> None:
    verifier = SignatureVerifier({11: (KEY_A, KEY_B)})
    codec = LinkCodec("udp", {11: (KEY_A, KEY_B)})
    first = codec.feed(
        frames(signed_encoder(11, KEY_A), corridor_point(SITE, "C1")), T0
    )
    assert first.rejected == []
    assert codec.held_key(11) == KEY_A
    other = codec.feed(
        frames(signed_encoder(11, KEY_B), corridor_point(SITE, "C1")), T0
    )
    assert {r.reason for r in other.rejected} == {"wrong_key"}
    forged = codec.feed(
        frames(signed_encoder(11, STRANGER), corridor_point(SITE, "C1")), T0
    )
    assert {r.reason for r in forged.rejected} == {"bad_signature"}
    assert verifier.held_key(11) is None  # held per link, not shared


def test_a_site_that_requires_signing_refuses_unsigned_and_unregistered_frames() -> (
    None
):
    gateway = two_site_gateway(strict=True)
    point = corridor_point(SITE, "C1")
    for i in range(10):
        t = T0 + i * 0.1
        gateway.ingest(
            "udpin:0.0.0.0:14550", frames(signed_encoder(42, None), point), t
        )
        gateway.ingest(
            "udpin:0.0.0.0:14550", frames(signed_encoder(43, STRANGER), point), t
        )
        gateway.ingest(
            "udpin:0.0.0.0:14550", frames(signed_encoder(11, None), point), t
        )
        gateway.tick(t)
    assert gateway.vehicles == {}
    assert rejected(gateway) == 60  # every frame, counted
    by_reason = {
        r.reason
        for r in LinkCodec("x", {}, require_signing=True)
        .feed(frames(signed_encoder(42, None), point), T0)
        .rejected
    }
    assert by_reason == {"no_key"}


def test_a_site_that_requires_signing_takes_frames_signed_with_a_registered_key() -> (
    None
):
    gateway = two_site_gateway(strict=True)
    victim = signed_encoder(11, KEY_A)
    for i in range(5):
        t = T0 + i * 0.1
        gateway.ingest(
            "udpin:0.0.0.0:14550", frames(victim, corridor_point(SITE, "C1")), t
        )
        gateway.tick(t)
    (vehicle,) = gateway.vehicles.values()
    assert vehicle.drone_id == "DA"
    assert rejected(gateway) == 0
