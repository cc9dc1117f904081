"""MAVLink frames for tests, made by pymavlink's own encoder (one per vehicle)."""

from __future__ import annotations

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.site import Site

MAV_TYPE_QUADROTOR = 2
MAV_AUTOPILOT_ARDUPILOTMEGA = 3
ARMED = 128


class VehicleEncoder:
    """Encodes frames as one autopilot would send them, with its own sequence."""

    def __init__(self, sysid: int, compid: int = 1) -> None:
        self.mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)

    def _pack(self, msg: mavlink.MAVLink_message) -> bytes:
        raw: bytes = msg.pack(self.mav)
        self.mav.seq = (self.mav.seq + 1) % 256
        return raw

    def heartbeat(self, armed: bool = True) -> bytes:
        return self._pack(
            self.mav.heartbeat_encode(
                MAV_TYPE_QUADROTOR,
                MAV_AUTOPILOT_ARDUPILOTMEGA,
                ARMED if armed else 0,
                0,
                4,
            )
        )

    def position(
        self,
        lat_deg: float,
        lon_deg: float,
        alt_amsl_m: float,
        rel_alt_m: float,
        vn_mps: float = 0.0,
        ve_mps: float = 0.0,
        vd_mps: float = 0.0,
        heading_deg: float | None = 90.0,
        time_boot_ms: int = 0,
    ) -> bytes:
        return self._pack(
            self.mav.global_position_int_encode(
                time_boot_ms,
                round(lat_deg * 1e7),
                round(lon_deg * 1e7),
                round(alt_amsl_m * 1000),
                round(rel_alt_m * 1000),
                round(vn_mps * 100),
                round(ve_mps * 100),
                round(vd_mps * 100),
                65535 if heading_deg is None else round(heading_deg * 100) % 36000,
            )
        )

    def sys_status(self, battery_pct: int) -> bytes:
        return self._pack(
            self.mav.sys_status_encode(
                0, 0, 0, 500, 15800, 1200, battery_pct, 0, 0, 0, 0, 0, 0
            )
        )

    def fence_status(self, breached: bool) -> bytes:
        return self._pack(self.mav.fence_status_encode(1 if breached else 0, 1, 3, 0))


def corridor_point(
    site: Site, corridor_id: str, outside_by_m: float = 0.0
) -> tuple[float, float, float]:
    """(lat, lon, alt AMSL) mid-band inside the corridor, or ``outside_by_m`` metres
    beyond its outline (east of its east-most point) when positive."""
    corridor = site.corridor(corridor_id)
    volume = corridor.volume
    alt = (volume.floor_amsl_m + volume.ceiling_amsl_m) / 2
    if outside_by_m > 0:
        _, _, maxx, _ = volume.outline.bounds
        east = max(volume.outline.exterior.coords, key=lambda c: c[0])
        x, y = maxx + outside_by_m, east[1]
    else:
        point = volume.outline.representative_point()
        x, y = point.x, point.y
    lon, lat = site.projection.to_lonlat(x, y)
    return float(lat), float(lon), alt
