"""The campaign report's charts, drawn by matplotlib as SVG (server-side).

Per flight: altitude AGL and ground speed over time with the corridor's floor
and ceiling drawn; HDOP and RSSI over time with the terrain segments shaded. For
the campaign: a map of every flight's track coloured by HDOP. Each function
returns one ``<svg>`` element as text, ready to inline in the HTML report.
Uses ``matplotlib.figure.Figure`` directly (no ``pyplot`` global state), so it is
safe in a server's worker threads. SVG ids are salted with a fixed value so the
same data draw the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from airspace.site import Terrain
from telemetry.flights import FlightTrack

TERRAIN_COLOURS: Final = {
    Terrain.WATER.value: "#cfe3f7",
    Terrain.OPEN.value: "#e6f2d9",
    Terrain.DENSE_URBAN.value: "#f3d9d9",
}
"""Background shading per terrain class (pale: the lines stay readable)."""
CHART_CLASS: Final = "skyberth-chart"


def _svg(fig: Figure, title: str) -> str:
    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": "skyberth", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Title": title})
    text = buf.getvalue()
    start = text.index("<svg")
    return text[start:].replace("<svg", f'<svg class="{CHART_CLASS}"', 1)


def _minutes(t_s: np.ndarray, t0_s: float) -> np.ndarray:
    out: np.ndarray = (t_s - t0_s) / 60.0
    return out


def _shade_terrain(ax: Axes, track: FlightTrack, t0_s: float) -> None:
    """Shade the time axis by the terrain under the drone."""
    t = _minutes(track.t_s, t0_s)
    if len(t) < 2:
        return
    start = 0
    for i in range(1, len(t) + 1):
        if i == len(t) or track.terrain[i] != track.terrain[start]:
            colour = TERRAIN_COLOURS.get(str(track.terrain[start]), "#eeeeee")
            end = t[i] if i < len(t) else t[-1]
            ax.axvspan(float(t[start]), float(end), color=colour, lw=0)
            start = i


def altitude_speed_chart(
    track: FlightTrack, floor_agl_m: float | None, ceiling_agl_m: float | None
) -> str:
    """Altitude AGL and ground speed over the flight; the band dashed."""
    t0 = float(track.t_s[0])
    t = _minutes(track.t_s, t0)
    fig = Figure(figsize=(7.5, 2.6))
    ax = fig.add_subplot()
    ax.plot(t, track.alt_agl_m, color="#1f4e79", label="altitude AGL (m)")
    for value, name in ((floor_agl_m, "floor"), (ceiling_agl_m, "ceiling")):
        if value is not None:
            ax.axhline(value, color="#a33", ls="--", lw=1, label=f"corridor {name}")
    ax.set_xlabel("minutes since take-off")
    ax.set_ylabel("m AGL")
    speed = ax.twinx()
    speed.plot(t, track.ground_speed_mps, color="#d08a00", lw=1, label="ground speed")
    speed.set_ylabel("ground speed (m/s)")
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return _svg(fig, "altitude and ground speed")


def signal_chart(track: FlightTrack) -> str:
    """HDOP and RSSI over the flight with the terrain shaded behind them."""
    t0 = float(track.t_s[0])
    fig = Figure(figsize=(7.5, 2.6))
    ax = fig.add_subplot()
    _shade_terrain(ax, track, t0)
    ax.plot(_minutes(track.gnss_t_s, t0), track.hdop, color="#1f4e79", label="HDOP")
    ax.set_xlabel("minutes since take-off")
    ax.set_ylabel("HDOP")
    rssi = ax.twinx()
    rssi.plot(_minutes(track.radio_t_s, t0), track.rssi, color="#7a3d99", label="RSSI")
    rssi.set_ylabel("RSSI (radio scale)")
    handles = [Patch(color=c, label=name) for name, c in TERRAIN_COLOURS.items()]
    ax.legend(
        handles=[*ax.get_lines(), *rssi.get_lines(), *handles],
        loc="upper left",
        fontsize=7,
    )
    fig.tight_layout()
    return _svg(fig, "HDOP and RSSI")


def tracks_map(tracks: Sequence[FlightTrack]) -> str:
    """Every track on lon/lat axes, each position coloured by the HDOP then."""
    fig = Figure(figsize=(6.5, 5.0))
    ax = fig.add_subplot()
    mappable = None
    for track in tracks:
        ax.plot(track.lon_deg, track.lat_deg, color="#999999", lw=0.6)
        if len(track.gnss_t_s):
            hdop = np.interp(track.t_s, track.gnss_t_s, track.hdop)
            mappable = ax.scatter(
                track.lon_deg, track.lat_deg, c=hdop, s=6, cmap="viridis_r"
            )
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, label="HDOP")
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.set_aspect(1.0 / np.cos(np.radians(_mid_lat(tracks))))
    fig.tight_layout()
    return _svg(fig, "tracks by signal quality")


def _mid_lat(tracks: Sequence[FlightTrack]) -> float:
    lats = [float(np.mean(t.lat_deg)) for t in tracks if len(t.lat_deg)]
    return float(np.mean(lats)) if lats else 0.0


def utc_label(t_s: float) -> str:
    """A chart caption's time (UTC, minutes)."""
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%d %H:%MZ")
