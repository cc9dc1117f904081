"""The simulator's scripted vessels: where they are, and that SkyBerth decodes them."""

from __future__ import annotations

import math

import pytest

from airspace.site_files import demo_site_path, load_site
from simulator.cli import maritime_crossing_point
from simulator.vessels import (
    KNOT_MPS,
    ScriptedVessel,
    crossing_vessel,
    harbour_vessels,
    sentences,
)
from telemetry.ais import AisLinkCodec, VesselPosition, VesselStatic

SITE = load_site(demo_site_path())


def test_the_crossing_vessel_is_over_the_maritime_corridor_at_its_time() -> None:
    point = maritime_crossing_point(SITE)
    assert point is not None
    vessel = crossing_vessel(point, at_s=120.0)
    lon, lat, cog = vessel.state(120.0)
    assert (lon, lat) == pytest.approx(point, abs=1e-6)
    assert cog == pytest.approx(180.0, abs=0.5)
    # a minute earlier it is 15 kn x 60 s north of the point
    _, lat0, _ = vessel.state(60.0)
    north_m = math.radians(lat0 - point[1]) * 6_371_000
    assert north_m == pytest.approx(15 * KNOT_MPS * 60, rel=1e-3)


@pytest.mark.parametrize("vessel", harbour_vessels(), ids=lambda v: v.name)
def test_skyberth_decodes_every_scripted_vessel(vessel: ScriptedVessel) -> None:
    codec = AisLinkCodec("sim")
    text = "".join(f"{s}\r\n" for s in sentences(vessel, 42.0, static=True))
    out = codec.feed(text.encode(), 1_800_000_000.0)
    positions = [m for m in out.messages if isinstance(m, VesselPosition)]
    statics = [m for m in out.messages if isinstance(m, VesselStatic)]
    assert len(positions) == 1
    assert positions[0].msg_type == (18 if vessel.class_b else 1)
    assert positions[0].sog_kn == pytest.approx(vessel.sog_kn, abs=0.1)
    assert vessel.name in {s.name for s in statics}
    lengths = {s.length_m for s in statics} - {None}
    assert lengths == {float(vessel.length_m)}
    assert codec.counters.bad_checksum == codec.counters.partial_dropped == 0
