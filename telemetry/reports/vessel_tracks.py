"""Vessel tracks around an event, read back from the raw AIS recording.

The recording (``telemetry/recording/ais_log.py``) keeps every sentence behind a
tag block with its receive time, per site; :func:`read_vessel_tracks` replays one
site's day files that cover a window through the AIS codec and returns each
vessel's positions in it, so an incident's replay and exports show the vessels
near its site as they moved then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telemetry.ais import AisLinkCodec, VesselPosition, VesselStatic
from telemetry.recording.ais_log import site_day_path

_STAMP = re.compile(rb"^\\(?:[^\\]*,)?c:(\d+)")
MAX_VESSELS = 200
"""Vessel tracks kept for one replay (the nearest ones first would need a place;
a harbour window rarely holds more)."""


@dataclass(frozen=True, slots=True)
class VesselTrack:
    """One vessel's positions in a window: (t_s, lat, lon, sog_kn, cog_deg) rows."""

    mmsi: int
    name: str | None
    points: tuple[tuple[float, float, float, float | None, float | None], ...]

    def as_json(self) -> dict[str, Any]:
        """This track as the replay API sends it."""
        return {
            "mmsi": self.mmsi,
            "name": self.name,
            "points": [list(p) for p in self.points],
        }


def read_vessel_tracks(
    ais_dir: Path | None, site_id: str, from_s: float, to_s: float
) -> tuple[VesselTrack, ...]:
    """Return the tracks of every vessel heard near ``site_id`` between ``from_s``
    and ``to_s``.

    Reads ``<ais_dir>/<site>/<YYYY-MM-DD>.nmea`` for each UTC day the window
    touches, and ``<ais_dir>/<YYYY-MM-DD>.nmea`` (recorded before recordings were
    kept per site, all sites together) where it exists; names come from static
    messages anywhere in those files. Blocking file I/O.
    """
    if ais_dir is None or not ais_dir.is_dir() or to_s < from_s:
        return ()
    codec = AisLinkCodec("replay", partial_timeout_s=60.0)
    names: dict[int, str] = {}
    points: dict[int, list[tuple[float, float, float, float | None, float | None]]] = {}
    day = datetime.fromtimestamp(from_s, UTC).date()
    last = datetime.fromtimestamp(to_s, UTC).date()
    paths: list[Path] = []
    while day <= last:
        name = day.isoformat()
        paths += [site_day_path(ais_dir, site_id, name), ais_dir / f"{name}.nmea"]
        day += timedelta(days=1)
    for path in paths:
        if not path.is_file():
            continue
        with path.open("rb") as lines:
            for line in lines:
                stamp = _STAMP.match(line)
                if stamp is None:
                    continue
                t_s = float(stamp.group(1))
                for msg in codec.feed(line, t_s).messages:
                    if isinstance(msg, VesselStatic) and msg.name:
                        names[msg.mmsi] = msg.name
                    elif (
                        isinstance(msg, VesselPosition)
                        and from_s <= t_s <= to_s
                        and msg.lat_deg is not None
                        and msg.lon_deg is not None
                    ):
                        track = points.setdefault(msg.mmsi, [])
                        if track and track[-1][0] == t_s:
                            continue  # several reports in one second: keep one
                        if len(points) <= MAX_VESSELS:
                            track.append(
                                (t_s, msg.lat_deg, msg.lon_deg, msg.sog_kn, msg.cog_deg)
                            )
    return tuple(
        VesselTrack(mmsi, names.get(mmsi), tuple(sorted(track)))
        for mmsi, track in sorted(points.items())
        if track
    )
