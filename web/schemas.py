"""The API's request and response bodies (``*Create`` in, ``*Public`` out).

Times are aware datetimes: a request with a naive one (no ``Z`` or offset) is
refused with 422; responses are always in UTC. Geometry is GeoJSON in WGS84
lon/lat; the site's metric CRS never leaves the server.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from datetime import datetime
from typing import Annotated, Any, Literal, Self

import numpy as np
import shapely
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from shapely.geometry import Polygon, mapping

from airspace.hk_grid import from_hk1980, in_hk1980_area
from airspace.site import CorridorId, PadId, Site
from airspace.volume import AltitudeBand, AltitudeRef, Volume
from booking.model import (
    Booking,
    BookingState,
    ClosedArea,
    ClosedCorridor,
    ClosedPad,
    Closure,
    ClosureTarget,
    Drone,
    Role,
    User,
)
from web.registration_schemas import CadRegistrationIn, CadRegistrationPublic

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
"""A site, pad, corridor, drone or operator id as clients send it."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Token(BaseModel):
    """A bearer token and when it stops working."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class UserPublic(BaseModel):
    """A user, without their password hash."""

    id: str
    name: str
    role: Role
    operator_id: str | None
    disabled: bool = False

    @classmethod
    def of(cls, user: User) -> Self:
        """Return the public view of ``user``."""
        return cls(
            id=user.id,
            name=user.name,
            role=user.role,
            operator_id=user.operator_id,
            disabled=user.disabled,
        )


class DroneCreate(_Body):
    """Register a drone. ``operator_id`` defaults to the caller's organisation."""

    id: Ident | None = Field(
        default=None, description="Stable drone id; generated when omitted."
    )
    name: str = Field(min_length=1, max_length=120)
    site_id: Ident
    operator_id: Ident | None = None
    mavlink_sysid: int = Field(
        ge=1, le=255, description="MAVLink system id, unique per site."
    )
    max_takeoff_mass_kg: float = Field(gt=0, le=10_000)
    signing_key_hex: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="MAVLink 2 signing key: 32 bytes as 64 hex digits.",
    )
    cad: CadRegistrationIn | None = Field(
        default=None, description="Hong Kong CAD registration data (free text)."
    )


class DronePublic(BaseModel):
    """A registered drone (never its signing key)."""

    id: str
    name: str
    site_id: str
    operator_id: str
    mavlink_sysid: int
    max_takeoff_mass_kg: float
    signed: bool
    cad: CadRegistrationPublic

    @classmethod
    def of(cls, drone: Drone) -> Self:
        """Return the public view of ``drone``."""
        return cls(
            id=drone.id,
            name=drone.name,
            site_id=drone.site_id,
            operator_id=drone.operator_id,
            mavlink_sysid=drone.mavlink_sysid,
            max_takeoff_mass_kg=drone.max_takeoff_mass_kg,
            signed=drone.signing_key is not None,
            cad=CadRegistrationPublic.of(drone.cad, drone.max_takeoff_mass_kg),
        )


class BookingCreate(_Body):
    """Request pads and/or a corridor for one drone over ``[start, end)``."""

    site_id: Ident
    drone_id: Ident
    start: AwareDatetime
    end: AwareDatetime
    takeoff_pad_id: Ident | None = None
    landing_pad_id: Ident | None = None
    corridor_id: Ident | None = None


class BookingReject(_Body):
    """Why a site admin rejects a booking (kept in the audit trail)."""

    reason: str = Field(default="", max_length=500)


class BookingPublic(BaseModel):
    """A booking as clients see it; times in UTC."""

    id: int
    site_id: str
    drone_id: str
    operator_id: str
    requested_by: str
    start: datetime
    end: datetime
    takeoff_pad_id: str | None
    landing_pad_id: str | None
    corridor_id: str | None
    state: BookingState
    created_at: datetime | None
    version: int

    @classmethod
    def of(cls, b: Booking) -> Self:
        """Return the public view of booking ``b``."""
        return cls(
            id=b.id,
            site_id=b.site_id,
            drone_id=b.drone_id,
            operator_id=b.operator_id,
            requested_by=b.requested_by,
            start=b.window.start,
            end=b.window.end,
            takeoff_pad_id=b.takeoff_pad_id,
            landing_pad_id=b.landing_pad_id,
            corridor_id=b.corridor_id,
            state=b.state,
            created_at=b.created_at,
            version=b.version,
        )


Position = Annotated[list[float], Field(min_length=2, max_length=3)]


MAX_POLYGON_VERTICES = 1000
"""A closure area's vertices, all rings together: a hand-drawn area has tens; the
validity check and every conformance test against it grow with the count."""
MAX_POLYGON_RINGS = 20


Rings = Annotated[
    list[
        Annotated[list[Position], Field(min_length=4, max_length=MAX_POLYGON_VERTICES)]
    ],
    Field(min_length=1, max_length=MAX_POLYGON_RINGS),
]
"""A polygon's closed rings, outer first, then holes."""


class _PolygonBody(_Body):
    """A Polygon's rings, at most ``MAX_POLYGON_VERTICES`` positions in all,
    checked by the subclass for its coordinate system, then for validity."""

    type: Literal["Polygon"]
    coordinates: Rings

    @model_validator(mode="after")
    def _valid_polygon(self) -> Self:
        vertices = sum(len(ring) for ring in self.coordinates)
        if vertices > MAX_POLYGON_VERTICES:
            raise PydanticCustomError(
                "polygon_vertices",
                "the polygon has {count} positions; at most {limit} are allowed",
                {"count": vertices, "limit": MAX_POLYGON_VERTICES},
            )
        self._check_positions()
        given = _polygon(self.coordinates)
        if not given.is_valid:
            raise PydanticCustomError(
                "invalid_polygon",
                "invalid polygon: {reason}",
                {"reason": shapely.is_valid_reason(given)},
            )
        return self

    @abstractmethod
    def _check_positions(self) -> None:
        """Raise a ``PydanticCustomError`` naming the first position not in this
        system (its ``type`` and ``ctx`` let a page say it in the reader's words)."""

    @abstractmethod
    def to_lonlat(self) -> Polygon:
        """Return the polygon in WGS84 lon/lat degrees, without altitudes."""


def _polygon(coordinates: list[list[list[float]]]) -> Polygon:
    shell, *holes = ([(p[0], p[1]) for p in ring] for ring in coordinates)
    return Polygon(shell, holes)


class GeoJSONPolygon(_PolygonBody):
    """A GeoJSON Polygon in WGS84 lon/lat degrees (outer ring first, then holes),
    at most ``MAX_POLYGON_VERTICES`` positions in all."""

    def _check_positions(self) -> None:
        for ring in self.coordinates:
            for lon, lat, *_ in ring:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise PydanticCustomError(
                        "lonlat_position",
                        "position ({lon}, {lat}) is not lon/lat degrees "
                        "(HK1980 Grid easting, northing go in area_hk1980)",
                        {"lon": lon, "lat": lat},
                    )

    def to_lonlat(self) -> Polygon:
        """Return the polygon in lon/lat, without altitudes."""
        return _polygon(self.coordinates)


class HK1980Polygon(_PolygonBody):
    """A Polygon in the Hong Kong 1980 Grid (EPSG:2326): each position is
    ``[easting, northing]`` in metres (easting first, whatever the EPSG axis order
    says), inside the grid's area of use; same ring rules as ``GeoJSONPolygon``.

    Turned into WGS84 by pyproj on the server (``airspace.hk_grid``), so clients
    need no datum maths.
    """

    def _check_positions(self) -> None:
        for ring in self.coordinates:
            eastings = [p[0] for p in ring]
            northings = [p[1] for p in ring]
            lon, lat = from_hk1980(np.array(eastings), np.array(northings))
            inside = in_hk1980_area(lon, lat) & np.isfinite(lon) & np.isfinite(lat)
            if not inside.all():
                k = int(np.argmin(inside))
                raise PydanticCustomError(
                    "hk1980_position",
                    "position ({easting}, {northing}) is not in the HK1980 Grid over "
                    "Hong Kong: give easting, northing in metres (EPSG:2326, e.g. "
                    "836694, 819070); lon/lat degrees go in area",
                    {"easting": eastings[k], "northing": northings[k]},
                )

    def to_lonlat(self) -> Polygon:
        """Return the polygon in WGS84 lon/lat degrees, without altitudes."""
        rings = []
        for ring in self.coordinates:
            lon, lat = from_hk1980(
                np.array([p[0] for p in ring]), np.array([p[1] for p in ring])
            )
            rings.append(np.column_stack([lon, lat]).tolist())
        return _polygon(rings)


class ClosureCreate(_Body):
    """Close exactly one of: a pad, a corridor, or an area with an altitude band.

    An area is given in WGS84 lon/lat (``area``) or in the HK1980 Grid
    (``area_hk1980``, easting/northing metres), with ``floor_m``/``ceiling_m``
    relative to ``alt_ref``.
    """

    site_id: Ident
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=1, max_length=500)
    pad_id: Ident | None = None
    corridor_id: Ident | None = None
    area: GeoJSONPolygon | None = None
    area_hk1980: HK1980Polygon | None = None
    floor_m: float | None = Field(default=None, ge=-500, le=20_000)
    ceiling_m: float | None = Field(default=None, ge=-500, le=20_000)
    alt_ref: AltitudeRef = AltitudeRef.AGL

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        given = [
            name
            for name in ("pad_id", "corridor_id", "area", "area_hk1980")
            if getattr(self, name) is not None
        ]
        # Each refusal has a type of its own, so a page can say it in words
        # (web.i18n.validation_words); the English text stays pydantic's ``msg``.
        if len(given) != 1:
            raise PydanticCustomError(
                "closure_target",
                "give exactly one of pad_id, corridor_id, area or area_hk1980 "
                "(got {given})",
                {"given": ", ".join(given) or "none"},
            )
        if self.area_field is not None:
            if self.floor_m is None or self.ceiling_m is None:
                raise PydanticCustomError(
                    "area_band_missing", "an area closure needs floor_m and ceiling_m"
                )
            if not self.floor_m < self.ceiling_m:
                raise PydanticCustomError(
                    "floor_not_below_ceiling",
                    "floor_m must be below ceiling_m",
                    {"floor_m": self.floor_m, "ceiling_m": self.ceiling_m},
                )
        return self

    @property
    def area_field(self) -> str | None:
        """Return the name of the field that holds the area, if one does."""
        if self.area is not None:
            return "area"
        return "area_hk1980" if self.area_hk1980 is not None else None

    def target(self, site: Site) -> ClosureTarget:
        """Return the domain target, an area projected to ``site``'s metres.

        Raises ``ValueError`` when the area does not project to finite site metres.
        """
        if self.pad_id is not None:
            return ClosedPad(PadId(self.pad_id))
        if self.corridor_id is not None:
            return ClosedCorridor(CorridorId(self.corridor_id))
        area = self.area or self.area_hk1980
        if area is None or self.floor_m is None or self.ceiling_m is None:
            raise ValueError("no closure target")  # excluded by _one_target
        outline = site.projection.geometry_to_metric(area.to_lonlat())
        if not all(math.isfinite(v) for v in outline.bounds) or not outline.is_valid:
            raise ValueError(f"area does not lie in site {site.id}'s projection")
        floor, ceiling = AltitudeBand(
            self.floor_m, self.ceiling_m, self.alt_ref
        ).to_amsl(site.ground_elev_m)
        return ClosedArea(Volume(outline, floor, ceiling))


class ClosurePublic(BaseModel):
    """A closure; an area is given in lon/lat with its band in metres AMSL."""

    id: int
    site_id: str
    target_kind: Literal["pad", "corridor", "area"]
    pad_id: str | None = None
    corridor_id: str | None = None
    area: dict[str, Any] | None = None
    floor_amsl_m: float | None = None
    ceiling_amsl_m: float | None = None
    start: datetime
    end: datetime
    reason: str
    created_by: str
    created_at: datetime
    source: str | None = None
    """Imported official zones: where from (file or provider)."""
    source_zone_id: str | None = None

    @classmethod
    def of(cls, c: Closure, site: Site | None) -> Self:
        """Return the public view of ``c``; ``site`` projects an area to lon/lat."""
        fields: dict[str, Any] = {}
        match c.target:
            case ClosedPad(pad_id):
                fields = {"target_kind": "pad", "pad_id": pad_id}
            case ClosedCorridor(corridor_id):
                fields = {"target_kind": "corridor", "corridor_id": corridor_id}
            case ClosedArea(volume):
                outline = (
                    site.projection.geometry_to_lonlat(volume.outline)
                    if site is not None
                    else None
                )
                fields = {
                    "target_kind": "area",
                    "area": dict(mapping(outline)) if outline is not None else None,
                    "floor_amsl_m": volume.floor_amsl_m,
                    "ceiling_amsl_m": volume.ceiling_amsl_m,
                }
        return cls(
            id=c.id,
            site_id=c.site_id,
            start=c.window.start,
            end=c.window.end,
            reason=c.reason,
            created_by=c.created_by,
            created_at=c.created_at,
            source=c.origin.source if c.origin else None,
            source_zone_id=c.origin.zone_id if c.origin else None,
            **fields,
        )


class ClosureCreated(ClosurePublic):
    """A new closure with the bookings it bumped and the active flights it covers."""

    bumped: list[BookingPublic]
    active_booking_ids: list[int]
