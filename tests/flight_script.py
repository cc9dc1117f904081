"""A scripted flight for the flight-record tests: a known path, known battery curve.

Each :class:`Step` is one second of one vehicle: heartbeat (armed or not), battery
(``SYS_STATUS``) and position, encoded by pymavlink (``tests.mavlink_helpers``)
and written as ``.tlog`` records. Positions are metres east of a pad of the demo
site at height ``rel_alt_m`` above it (AMSL = ground elevation + height), so every
figure can be computed by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from airspace.site import Site
from telemetry.mavlink.tlog import TlogWriter
from tests.mavlink_helpers import VehicleEncoder

T0 = 1_795_000_000.0


@dataclass(frozen=True)
class Step:
    """One second of the script."""

    t_s: float
    east_m: float
    rel_alt_m: float
    armed: bool
    battery_pct: int
    ve_mps: float = 0.0
    vd_mps: float = 0.0
    hdop: float | None = None
    """When set, GPS_RAW_INT (3D fix, ``satellites``), RADIO_STATUS (``rssi``) and
    WIND (5 m/s from the west) follow the position."""
    satellites: int = 12
    rssi: int = 200


def out_and_back(t0_s: float = 0.0, battery0: int = 100) -> list[Step]:
    """Arm at 1 s, climb to 20 m by 3 s, fly 30 m east at 10 m/s and back, land at
    10 s and stay disarmed until 25 s. Battery falls 1 % a second from ``battery0``.

    By hand: take-off 2 s, landing 10 s (flight time 8 s), ground distance 60 m,
    max AGL 20 m, time-weighted mean AGL 140/9 m, max speed 10 m/s, mean 60/9 m/s,
    max climb and descent 10 m/s, battery 99 % -> 90 % (9 % used)."""
    table = [
        # t, east, rel_alt, armed, ve, vd
        (0, 0, 0, False, 0, 0),
        (1, 0, 0, True, 0, 0),
        (2, 0, 10, True, 0, -10),
        (3, 10, 20, True, 10, -10),
        (4, 20, 20, True, 10, 0),
        (5, 30, 20, True, 10, 0),
        (6, 20, 20, True, -10, 0),
        (7, 10, 20, True, -10, 0),
        (8, 0, 20, True, -10, 0),
        (9, 0, 10, True, 0, 10),
        (10, 0, 0, False, 0, 10),
    ]
    steps = [
        Step(t0_s + t, e, h, a, battery0 - t, ve, vd) for t, e, h, a, ve, vd in table
    ]
    steps += [Step(t0_s + t, 0, 0, False, battery0 - 10) for t in range(11, 26)]
    return steps


def pad_origin(site: Site, pad_id: str = "P1") -> tuple[float, float]:
    """The pad's site-metric (x, y)."""
    point = site.pad(pad_id).geometry_m.centroid
    return point.x, point.y


def records(
    site: Site,
    steps: Sequence[Step],
    sysid: int = 11,
    pad_id: str = "P1",
    origin_xy: tuple[float, float] | None = None,
) -> list[tuple[float, bytes]]:
    """Return ``(t_s, frame)`` for the script: heartbeat, battery, position a step
    (and the condition messages where the step has ``hdop``). East is measured from
    ``origin_xy`` (site metres) when given, else from the pad."""
    enc = VehicleEncoder(sysid)
    x0, y0 = origin_xy or pad_origin(site, pad_id)
    out: list[tuple[float, bytes]] = []
    for s in steps:
        lon, lat = site.projection.to_lonlat([x0 + s.east_m], [y0])
        t = T0 + s.t_s
        out.append((t, enc.heartbeat(armed=s.armed)))
        out.append((t + 0.01, enc.sys_status(s.battery_pct)))
        out.append(
            (
                t + 0.02,
                enc.position(
                    float(lat[0]),
                    float(lon[0]),
                    site.ground_elev_m + s.rel_alt_m,
                    s.rel_alt_m,
                    ve_mps=s.ve_mps,
                    vd_mps=s.vd_mps,
                ),
            )
        )
        if s.hdop is not None:
            out += conditions(enc, t + 0.03, float(lat[0]), float(lon[0]), s)
    return out


def conditions(
    enc: VehicleEncoder, t_s: float, lat_deg: float, lon_deg: float, s: Step
) -> list[tuple[float, bytes]]:
    """GPS_RAW_INT, RADIO_STATUS and WIND for one step."""
    hdop = round((s.hdop or 0.0) * 100)
    gps = enc.mav.gps_raw_int_encode(
        0, 3, round(lat_deg * 1e7), round(lon_deg * 1e7), 0, hdop, hdop, 0, 0,
        s.satellites,
    )  # fmt: skip
    radio = enc.mav.radio_status_encode(s.rssi, s.rssi, 100, 30, 30, 0, 0)
    wind = enc.mav.wind_encode(270.0, 5.0, 0.0)
    return [(t_s, enc._pack(m)) for m in (gps, radio, wind)]


def write_tlog(path: Path, frames: Iterable[tuple[float, bytes]]) -> Path:
    """Write ``frames`` as a ``.tlog`` at ``path`` (parents made); return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with TlogWriter(path) as w:
        for t, raw in sorted(frames, key=lambda x: x[0]):
            w.write(t, raw)
    return path
