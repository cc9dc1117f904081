"""Vessel tracks around an event, read back from the raw AIS recording.

The recording (``telemetry/recording/ais_log.py``) keeps every sentence behind a
tag block with its receive time; :func:`read_vessel_tracks` replays the day files
that cover a window through the AIS codec and returns each vessel's positions in
it, so an incident's replay and exports show the vessels as they moved then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telemetry.ais import AisLinkCodec, VesselPosition, VesselStatic

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
    ais_dir: Path | None, from_s: float, to_s: float
) -> tuple[VesselTrack, ...]:
    """Return the tracks of every vessel heard between ``from_s`` and ``to_s``.

    Reads ``<ais_dir>/<YYYY-MM-DD>.nmea`` for each UTC day the window touches;
    names come from static messages anywhere in those files. Blocking file I/O.
    """
    if ais_dir is None or not ais_dir.is_dir() or to_s < from_s:
        return ()
    codec = AisLinkCodec("replay", partial_timeout_s=60.0)
    names: dict[int, str] = {}
    points: dict[int, list[tuple[float, float, float, float | None, float | None]]] = {}
    day = datetime.fromtimestamp(from_s, UTC).date()
    last = datetime.fromtimestamp(to_s, UTC).date()
    while day <= last:
        path = ais_dir / f"{day.isoformat()}.nmea"
        day += timedelta(days=1)
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
        VesselTrack(mmsi, names.get(mmsi), tuple(track))
        for mmsi, track in sorted(points.items())
        if track
    )
