"""The campaign report's charts, drawn by matplotlib as SVG (server-side).

Per flight: altitude AGL and ground speed over time with the corridor's floor
and ceiling drawn; HDOP and RSSI over time with the terrain segments shaded. For
the campaign: a map of every flight's track coloured by HDOP. Each function
returns one ``<svg>`` element as text, ready to inline in the HTML report.
Uses ``matplotlib.figure.Figure`` directly (no ``pyplot`` global state), so it is
safe in a server's worker threads. SVG ids are salted with a fixed value so the
same data draw the same bytes.

Titles, axis labels and legends are the reader's (``Words``, keys ``chart.*``).
Text stays text in the SVG (``svg.fonttype: none``), so the browser draws it with
its own fonts and nothing is embedded or fetched; matplotlib still measures it for
the layout, so a Chinese chart is drawn with the Noto Sans CJK family that
``make browser`` installs (``fonts-noto-cjk``) when this machine has it, and with
matplotlib's default font, without a warning per missing glyph, when it has not.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Final

import matplotlib as mpl
import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from airspace.site import Terrain
from telemetry.flights import FlightTrack
from telemetry.reports.words import Words, term

logger = logging.getLogger(__name__)

TERRAIN_COLOURS: Final = {
    Terrain.WATER.value: "#cfe3f7",
    Terrain.OPEN.value: "#e6f2d9",
    Terrain.DENSE_URBAN.value: "#f3d9d9",
}
"""Background shading per terrain class (pale: the lines stay readable)."""
CHART_CLASS: Final = "skyberth-chart"
CJK_FAMILIES: Final = (
    "Noto Sans CJK HK",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK KR",
)
"""Noto Sans CJK's families, Hong Kong's glyph forms first (one .ttc holds all)."""


@cache
def cjk_family() -> str | None:
    """Return the installed Noto Sans CJK family to draw Chinese with, or None.

    matplotlib's font list is cached on disk; one written before the fonts were
    installed does not know them, so their files are looked for and added once.
    """
    names = {f.name for f in font_manager.fontManager.ttflist}
    if not names.intersection(CJK_FAMILIES):
        for path in font_manager.findSystemFonts():
            if Path(path).name.startswith("NotoSansCJK"):
                font_manager.fontManager.addfont(path)
        names = {f.name for f in font_manager.fontManager.ttflist}
    found = next((f for f in CJK_FAMILIES if f in names), None)
    if found is None:
        logger.info("no Noto Sans CJK font: Chinese chart text is laid out roughly")
    return found


_DRAWING: Final = threading.Lock()
"""matplotlib's settings are process-wide: one chart is drawn at a time, or a
Chinese chart's font could leak into an English one drawn in another thread."""


@contextmanager
def _style(words: Words) -> Iterator[None]:
    """matplotlib's settings for one chart in ``words``'s language."""
    family = cjk_family() if words.language != "en" else None
    with ExitStack() as stack:
        stack.enter_context(_DRAWING)
        stack.enter_context(
            mpl.rc_context({"svg.hashsalt": "skyberth", "svg.fonttype": "none"})
        )
        if family is not None:
            stack.enter_context(mpl.rc_context({"font.family": [family, "sans-serif"]}))
        stack.enter_context(warnings.catch_warnings())
        # Without a CJK font every Chinese glyph warns; the browser that shows
        # the SVG has its own fonts, so the chart is still right.
        warnings.filterwarnings("ignore", r"Glyph \d+ .*missing from", UserWarning)
        yield


def _svg(fig: Figure, title: str) -> str:
    buf = io.StringIO()
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
    track: FlightTrack,
    floor_agl_m: float | None,
    ceiling_agl_m: float | None,
    words: Words,
) -> str:
    """Altitude AGL and ground speed over the flight; the band dashed."""
    w = words
    t0 = float(track.t_s[0])
    t = _minutes(track.t_s, t0)
    with _style(w):
        fig = Figure(figsize=(7.5, 2.6))
        ax = fig.add_subplot()
        ax.plot(t, track.alt_agl_m, color="#1f4e79", label=w("chart.altitude_agl"))
        for value, key in (
            (floor_agl_m, "chart.corridor_floor"),
            (ceiling_agl_m, "chart.corridor_ceiling"),
        ):
            if value is not None:
                ax.axhline(value, color="#a33", ls="--", lw=1, label=w(key))
        ax.set_xlabel(w("chart.minutes_since_takeoff"))
        ax.set_ylabel(w("chart.m_agl"))
        speed = ax.twinx()
        speed.plot(
            t,
            track.ground_speed_mps,
            color="#d08a00",
            lw=1,
            label=w("chart.ground_speed"),
        )
        speed.set_ylabel(w("chart.ground_speed_mps"))
        ax.legend(loc="upper left", fontsize=7)
        fig.tight_layout()
        return _svg(fig, w("chart.altitude_speed_title"))


def signal_chart(track: FlightTrack, words: Words) -> str:
    """HDOP and RSSI over the flight with the terrain shaded behind them."""
    w = words
    t0 = float(track.t_s[0])
    with _style(w):
        fig = Figure(figsize=(7.5, 2.6))
        ax = fig.add_subplot()
        _shade_terrain(ax, track, t0)
        ax.plot(_minutes(track.gnss_t_s, t0), track.hdop, color="#1f4e79", label="HDOP")
        ax.set_xlabel(w("chart.minutes_since_takeoff"))
        ax.set_ylabel("HDOP")
        rssi = ax.twinx()
        rssi.plot(
            _minutes(track.radio_t_s, t0), track.rssi, color="#7a3d99", label="RSSI"
        )
        rssi.set_ylabel(w("chart.rssi_scale"))
        handles = [
            Patch(color=c, label=term(w, "terrain", name))
            for name, c in TERRAIN_COLOURS.items()
        ]
        ax.legend(
            handles=[*ax.get_lines(), *rssi.get_lines(), *handles],
            loc="upper left",
            fontsize=7,
        )
        fig.tight_layout()
        return _svg(fig, w("chart.signal_title"))


def tracks_map(tracks: Sequence[FlightTrack], words: Words) -> str:
    """Every track on lon/lat axes, each position coloured by the HDOP then."""
    w = words
    with _style(w):
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
        ax.set_xlabel(w("chart.longitude"))
        ax.set_ylabel(w("chart.latitude"))
        ax.set_aspect(1.0 / np.cos(np.radians(_mid_lat(tracks))))
        fig.tight_layout()
        return _svg(fig, w("chart.tracks_title"))


def _mid_lat(tracks: Sequence[FlightTrack]) -> float:
    lats = [float(np.mean(t.lat_deg)) for t in tracks if len(t.lat_deg)]
    return float(np.mean(lats)) if lats else 0.0


def utc_label(t_s: float) -> str:
    """A chart caption's time (UTC, minutes)."""
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%d %H:%MZ")
