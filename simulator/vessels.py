"""Scripted vessels that broadcast AIS, encoded with pyais, over UDP.

The simulator's maritime side: each :class:`ScriptedVessel` sails a polyline of
WGS84 waypoints at a constant speed (looping), and :func:`sentences` turns the
fleet's state at a simulated time into ``!AIVDM`` sentences written by pyais'
own encoder (type 1 positions for Class A, 18 for Class B, type 5 / 24 static data
every ``STATIC_EVERY_S``), the same library SkyBerth decodes with.
:func:`send_ais` sends them as UDP datagrams at each vessel's reporting interval.

The default fleet (:func:`harbour_vessels`): a ferry on the Central-Cheung Chau
line, a container ship in the West Lamma Channel fairway, a small craft near the
pier. ``vessel_crossing`` adds a vessel that crosses the maritime corridor's water
(the demo site's C2) under the drone flying it: :mod:`simulator.crossing` finds
where and when that drone will be, :func:`crossing_vessel` sails through there then.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pyais import encode_dict

KNOT_MPS: Final = 0.514444
EARTH_R_M: Final = 6_371_000.0
STATIC_EVERY_S: Final = 30.0
"""Static data more often than AIS's 6 min, so a fresh viewer names vessels soon."""


@dataclass(frozen=True)
class ScriptedVessel:
    """One vessel sailing ``route`` ((lon, lat) degrees) at ``sog_kn``, looping."""

    mmsi: int
    name: str
    ship_type: int
    length_m: int
    beam_m: int
    route: tuple[tuple[float, float], ...]
    sog_kn: float
    class_b: bool = False
    start_s: float = 0.0
    """Simulated seconds at which it leaves the first waypoint (waits there before)."""
    interval_s: float = 10.0
    """Position reporting interval (ITU-R M.1371: 10 s at 0-14 kn, 2 s above 23)."""

    def state(self, t_s: float) -> tuple[float, float, float]:
        """Return ``(lon_deg, lat_deg, cog_deg)`` at simulated time ``t_s``."""
        legs = [
            (a, b, _distance_m(a, b))
            for a, b in zip(self.route, self.route[1:], strict=False)
        ]
        total = sum(d for _, _, d in legs)
        travelled = max(t_s - self.start_s, 0.0) * self.sog_kn * KNOT_MPS
        if total > 0:
            travelled %= total
        for a, b, d in legs:
            if travelled <= d or d == 0:
                f = travelled / d if d else 0.0
                lon = a[0] + (b[0] - a[0]) * f
                lat = a[1] + (b[1] - a[1]) * f
                return lon, lat, _bearing_deg(a, b)
            travelled -= d
        a, b, _ = legs[-1]
        return b[0], b[1], _bearing_deg(a, b)


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    mean_lat = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(b[0] - a[0]) * math.cos(mean_lat) * EARTH_R_M
    dy = math.radians(b[1] - a[1]) * EARTH_R_M
    return math.hypot(dx, dy)


def _bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    mean_lat = math.radians((a[1] + b[1]) / 2)
    dx = (b[0] - a[0]) * math.cos(mean_lat)
    dy = b[1] - a[1]
    return math.degrees(math.atan2(dx, dy)) % 360


def harbour_vessels() -> list[ScriptedVessel]:
    """The demo's traffic around the Cyberport pier (positions are illustrative)."""
    return [
        ScriptedVessel(
            477000101,
            "CHEUNG CHAU FERRY",
            60,
            40,
            9,
            ((114.158, 22.287), (114.10, 22.245), (114.030, 22.208)),
            sog_kn=24.0,
            interval_s=2.0,
        ),
        ScriptedVessel(
            477000102,
            "EVER FAIRWAY",
            70,
            300,
            48,
            ((114.095, 22.150), (114.090, 22.240), (114.075, 22.300)),
            sog_kn=12.0,
        ),
        ScriptedVessel(
            412000103,
            "PIER SAMPAN",
            37,
            8,
            3,
            ((114.1300, 22.2590), (114.1250, 22.2570), (114.1300, 22.2590)),
            sog_kn=4.0,
            class_b=True,
            interval_s=30.0,
        ),
    ]


def crossing_vessel(
    crossing: tuple[float, float], at_s: float, heading_deg: float = 180.0
) -> ScriptedVessel:
    """A vessel that passes over ``crossing`` (lon, lat) at simulated ``at_s``.

    It starts 1.5 km up-course at 15 kn and sails 3 km straight through the point
    (the ``vessel_crossing`` scenario: under the drone flying the corridor there).
    """
    sog_kn = 15.0
    lead_m = 1500.0
    back = math.radians((heading_deg + 180) % 360)
    dlat = math.degrees(lead_m * math.cos(back) / EARTH_R_M)
    dlon = math.degrees(
        lead_m * math.sin(back) / (EARTH_R_M * math.cos(math.radians(crossing[1])))
    )
    start = (crossing[0] + dlon, crossing[1] + dlat)
    end = (crossing[0] - dlon, crossing[1] - dlat)
    return ScriptedVessel(
        477000199,
        "CROSSING FERRY",
        60,
        45,
        10,
        (start, crossing, end),
        sog_kn=sog_kn,
        start_s=at_s - lead_m / (sog_kn * KNOT_MPS),
        interval_s=2.0,
    )


def sentences(vessel: ScriptedVessel, t_s: float, *, static: bool) -> list[str]:
    """Return the AIVDM sentences ``vessel`` sends at simulated ``t_s``."""
    lon, lat, cog = vessel.state(t_s)
    moving = t_s >= vessel.start_s
    position: dict[str, Any] = {
        "type": 18 if vessel.class_b else 1,
        "mmsi": vessel.mmsi,
        "lat": lat,
        "lon": lon,
        "speed": vessel.sog_kn if moving else 0.0,
        "course": round(cog, 1),
        "heading": round(cog) % 360,
        "second": int(t_s) % 60,
    }
    if not vessel.class_b:
        position["status"] = 0 if moving else 1
    out = encode_dict(position, sentence_type="VDM")
    if static:
        half_len, half_beam = vessel.length_m // 2, vessel.beam_m // 2
        dims: dict[str, Any] = {
            "to_bow": half_len,
            "to_stern": vessel.length_m - half_len,
            "to_port": half_beam,
            "to_starboard": vessel.beam_m - half_beam,
        }
        if vessel.class_b:
            out += encode_dict(
                {"type": 24, "mmsi": vessel.mmsi, "partno": 0, "shipname": vessel.name},
                sentence_type="VDM",
            )
            part_b: dict[str, Any] = {"type": 24, "mmsi": vessel.mmsi, "partno": 1}
            out += encode_dict(
                part_b | {"ship_type": vessel.ship_type, **dims},
                sentence_type="VDM",
            )
        else:
            static5: dict[str, Any] = {"type": 5, "mmsi": vessel.mmsi}
            out += encode_dict(
                static5
                | {"shipname": vessel.name, "ship_type": vessel.ship_type, **dims},
                sentence_type="VDM",
                seq_id=vessel.mmsi % 10,
            )
    return out


async def send_ais(
    target: tuple[str, int],
    vessels: Sequence[ScriptedVessel],
    stop: asyncio.Event,
    *,
    speed: float = 1.0,
    tick_s: float = 0.5,
    clock: Callable[[], float] | None = None,
) -> int:
    """Send each vessel's sentences to ``target`` over UDP until ``stop``.

    Simulated time is ``clock()`` (seconds; the fleet's, to sail in step with the
    drones), by default ``speed`` times the wall clock from the call. Returns the
    number of datagrams sent (one per vessel report).
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    started = time.monotonic()
    if clock is None:

        def clock() -> float:
            return (time.monotonic() - started) * speed

    next_s = {v.mmsi: 0.0 for v in vessels}
    static_s = {v.mmsi: -math.inf for v in vessels}
    sent = 0
    try:
        while not stop.is_set():
            t_s = clock()
            for v in vessels:
                if t_s < next_s[v.mmsi]:
                    continue
                next_s[v.mmsi] = t_s + v.interval_s
                with_static = t_s - static_s[v.mmsi] >= STATIC_EVERY_S
                if with_static:
                    static_s[v.mmsi] = t_s
                text = "".join(
                    f"{s}\r\n" for s in sentences(v, t_s, static=with_static)
                )
                try:
                    await loop.sock_sendto(sock, text.encode(), target)
                    sent += 1
                except OSError:
                    pass  # nobody listening yet: AIS is broadcast, best effort
            try:
                await asyncio.wait_for(stop.wait(), tick_s / max(speed, 1.0))
            except TimeoutError:
                pass
    finally:
        sock.close()
    return sent
