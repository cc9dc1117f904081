"""The test conditions of one flight, from the vehicle's own reports, by terrain.

GNSS quality (``GPS_RAW_INT``, and ``GPS2_RAW`` as the second receiver), the
telemetry radio (``RADIO_STATUS``), SkyBerth's own link figures (position rate,
gaps), wind (``WIND``/``WIND_COV``), vibration and the EKF's GPS-glitch flag. Each
condition message takes the terrain (``airspace.terrain``) under the vehicle's
newest position before it, and every figure is given for the whole flight
(``all``) and per terrain class: min / median / max, and the time spent beyond a
threshold, each message holding until the next one (at most ``HOLD_MAX_S``, so a
link gap is not counted as bad signal). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from airspace.site import Site, Terrain
from airspace.terrain import terrain_at
from telemetry.flights.detection import FlightSpan
from telemetry.flights.samples import FlightSample
from telemetry.mavlink.condition_messages import (
    ConditionMessage,
    EkfStatus,
    Gps2Raw,
    RadioStatus,
    Vibration,
    Wind,
)
from telemetry.mavlink.messages import GpsRaw

HOLD_MAX_S: Final = 3.0
"""A message stands for at most this long (the link-loss gap threshold)."""
HDOP_POOR: Final = 2.0
"""HDOP above this is poor for a drone's position hold."""
SATELLITES_FEW: Final = 6
RSSI_WEAK: Final = 100
"""SiK's raw RSSI scale: about -74 dBm (``rssi / 1.9 - 127``)."""
FIX_3D: Final = 3
ALL: Final = "all"


@dataclass(frozen=True, slots=True)
class Stats:
    """Min, median and max of one figure over ``n`` messages."""

    n: int
    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats | None:
        """Return the stats of ``values`` (None when empty)."""
        if not values:
            return None
        a = np.asarray(values, dtype=np.float64)
        return cls(len(a), float(a.min()), float(np.median(a)), float(a.max()))


Group = dict[str, Any]
"""A JSON-ready group of figures (stats as dicts, times in seconds)."""


def _hold(t: np.ndarray, end_s: float) -> np.ndarray:
    """Each message's time: until the next (or the flight's end), at most
    ``HOLD_MAX_S``."""
    nxt = np.append(t[1:], end_s)
    held: np.ndarray = np.clip(nxt - t, 0.0, HOLD_MAX_S)
    return held


def _by_terrain(
    terrains: np.ndarray,
    figures: Callable[[np.ndarray], Group],
) -> dict[str, Group]:
    """``figures`` of the messages selected by each terrain and of them all."""
    out = {ALL: figures(np.ones(len(terrains), dtype=bool))}
    for terrain in Terrain:
        mask = terrains == terrain.value
        if mask.any():
            out[terrain.value] = figures(mask)
    return out


def _stats(values: np.ndarray, mask: np.ndarray) -> dict[str, float] | None:
    picked = [float(v) for v in values[mask] if v == v]
    s = Stats.of(picked)
    return (
        None
        if s is None
        else {"n": s.n, "min": s.min, "median": s.median, "max": s.max}
    )


def _seconds(hold: np.ndarray, bad: np.ndarray, mask: np.ndarray) -> float:
    return round(float(hold[mask & bad].sum()), 3)


def _col(msgs: Sequence[Any], name: str) -> np.ndarray:
    return np.array(
        [np.nan if getattr(m, name) is None else getattr(m, name) for m in msgs],
        dtype=np.float64,
    )


def _gnss(
    msgs: Sequence[GpsRaw | Gps2Raw], terrains: np.ndarray, end_s: float
) -> dict[str, Group]:
    t = _col(msgs, "t_s")
    hold = _hold(t, end_s)
    hdop = _col(msgs, "eph_m" if isinstance(msgs[0], GpsRaw) else "hdop")
    vdop = _col(msgs, "epv_m" if isinstance(msgs[0], GpsRaw) else "vdop")
    sats = _col(msgs, "satellites")
    fix = _col(msgs, "fix_type")
    return _by_terrain(
        terrains,
        lambda k: {
            "hdop": _stats(hdop, k),
            "vdop": _stats(vdop, k),
            "satellites": _stats(sats, k),
            "fix_type": _stats(fix, k),
            f"hdop_above_{HDOP_POOR:g}_s": _seconds(hold, hdop > HDOP_POOR, k),
            f"satellites_below_{SATELLITES_FEW}_s": _seconds(
                hold, sats < SATELLITES_FEW, k
            ),
            "no_3d_fix_s": _seconds(hold, fix < FIX_3D, k),
        },
    )


def _radio(
    msgs: Sequence[RadioStatus], terrains: np.ndarray, end_s: float
) -> dict[str, Group]:
    t = _col(msgs, "t_s")
    hold = _hold(t, end_s)
    rssi, remote = _col(msgs, "rssi"), _col(msgs, "remote_rssi")
    noise = _col(msgs, "noise")
    errors = _col(msgs, "rx_errors")
    new_errors = np.diff(errors, prepend=errors[0]).clip(min=0)
    return _by_terrain(
        terrains,
        lambda k: {
            "rssi": _stats(rssi, k),
            "remote_rssi": _stats(remote, k),
            "noise": _stats(noise, k),
            "rx_errors": int(new_errors[k].sum()),
            f"rssi_below_{RSSI_WEAK}_s": _seconds(hold, rssi < RSSI_WEAK, k),
        },
    )


def _link(samples: Sequence[FlightSample], span: FlightSpan) -> Group:
    duration = samples[-1].t_s - samples[0].t_s
    return {
        "position_rate_hz": round(len(samples) / duration, 3) if duration > 0 else None,
        "gaps": len(span.link_lost),
        "lost_s": round(sum(b - a for a, b in span.link_lost), 3),
    }


def flight_conditions(
    samples: Sequence[FlightSample],
    conditions: Sequence[GpsRaw | ConditionMessage],
    span: FlightSpan,
    site: Site,
) -> dict[str, Any]:
    """Return the flight's test conditions (JSON-ready; see the module)."""
    flight = samples[span.first : span.last + 1]
    start_s, end_s = span.start_t_s, span.landing_t_s
    t = np.array([s.t_s for s in flight])
    x, y = site.projection.to_metric(
        [s.lon_deg for s in flight], [s.lat_deg for s in flight]
    )
    sample_terrain = terrain_at(site, x, y)
    hold = np.diff(t, append=end_s).clip(0.0, HOLD_MAX_S)
    terrain_s = {
        tr.value: round(float(hold[sample_terrain == tr.value].sum()), 3)
        for tr in Terrain
    }
    during = [m for m in conditions if start_s <= m.t_s <= end_s]

    def terrain_of(msgs: Sequence[Any]) -> np.ndarray:
        at = np.searchsorted(t, [m.t_s for m in msgs], side="right") - 1
        return sample_terrain[np.clip(at, 0, len(t) - 1)]

    out: dict[str, Any] = {"terrain_s": terrain_s, "link": _link(flight, span)}
    for key, kind in (("gnss", GpsRaw), ("gnss2", Gps2Raw)):
        msgs = [m for m in during if isinstance(m, kind)]
        out[key] = _gnss(msgs, terrain_of(msgs), end_s) if msgs else None
    radio = [m for m in during if isinstance(m, RadioStatus)]
    out["radio"] = _radio(radio, terrain_of(radio), end_s) if radio else None
    wind = [m for m in during if isinstance(m, Wind)]
    out["wind"] = (
        {
            "speed_mps": _stats(_col(wind, "speed_mps"), np.ones(len(wind), bool)),
            "direction_deg": _stats(
                _col(wind, "direction_deg"), np.ones(len(wind), bool)
            ),
        }
        if wind
        else None
    )
    vib = [m for m in during if isinstance(m, Vibration)]
    out["vibration"] = (
        {
            "max_axis": _stats(
                np.array(
                    [max(m.vibration_x, m.vibration_y, m.vibration_z) for m in vib]
                ),
                np.ones(len(vib), bool),
            ),
            "clipping": sum(vib[-1].clipping) - sum(vib[0].clipping),
        }
        if vib
        else None
    )
    ekf = [m for m in during if isinstance(m, EkfStatus)]
    if ekf:
        ekf_hold = _hold(_col(ekf, "t_s"), end_s)
        glitch = np.array([m.gps_glitching for m in ekf])
        out["ekf"] = {"gps_glitch_s": round(float(ekf_hold[glitch].sum()), 3)}
    else:
        out["ekf"] = None
    return out
