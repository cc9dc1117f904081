"""Sites: pads, corridors, geofences and closures that clients draw and book against."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel
from shapely.geometry import mapping

from airspace.booked_volume import outline_lonlat
from airspace.site import Site, SiteId
from airspace.site_features import site_to_feature_collection
from airspace.volume import TimeWindow
from booking.availability import SiteAvailability, site_availability
from booking.errors import BookingRuleViolation, NotFound, Rule
from booking.model import ClosedArea, ClosedCorridor, ClosedPad, Closure
from booking.rules import lookaround
from web.deps import ActorDep, CatalogueDep, SessionDep, SettingsDep, SitesDep
from web.queries import list_closures, occupying_bookings
from web.site_display import site_display

router = APIRouter(tags=["sites"])

MAX_AVAILABILITY_SPAN = timedelta(days=31)


class SiteSummary(BaseModel):
    """One site in the list, without its geometry."""

    id: str
    name: str
    ref_lon_deg: float
    ref_lat_deg: float
    metric_crs: str
    timezone: str
    pads: int
    corridors: int
    geofences: int


@router.get("/sites")
def list_sites(_user: ActorDep, sites: SitesDep) -> list[SiteSummary]:
    """Return every site this instance serves (signed-in users only)."""
    return [
        SiteSummary(
            id=s.id,
            name=s.name,
            ref_lon_deg=s.ref_lon_deg,
            ref_lat_deg=s.ref_lat_deg,
            metric_crs=s.metric_crs,
            timezone=s.timezone,
            pads=len(s.pads),
            corridors=len(s.corridors),
            geofences=len(s.geofences),
        )
        for s in sites.values()
    ]


def _site_or_404(sites: dict[str, Site], site_id: str) -> Site:
    site = sites.get(site_id)
    if site is None:
        raise NotFound("site", site_id)
    return site


def closure_feature(closure: Closure, site: Site) -> dict[str, Any]:
    """Return ``closure`` as a GeoJSON feature (kind ``closure``) in lon/lat."""
    props: dict[str, Any] = {
        "kind": "closure",
        "id": closure.id,
        "start": closure.window.start.isoformat(),
        "end": closure.window.end.isoformat(),
        "reason": closure.reason,
    }
    if closure.origin is not None:  # an imported official zone: say where from
        props |= {
            "source": closure.origin.source,
            "source_zone_id": closure.origin.zone_id,
        }
    match closure.target:
        case ClosedPad(pad_id):
            props |= {"target_kind": "pad", "pad_id": pad_id}
            geometry = site.pad(pad_id).geometry_lonlat
        case ClosedCorridor(corridor_id):
            props |= {"target_kind": "corridor", "corridor_id": corridor_id}
            outline = site.corridor(corridor_id).volume.outline
            geometry = site.projection.geometry_to_lonlat(outline)
        case ClosedArea(volume):
            props |= {
                "target_kind": "area",
                "floor_amsl_m": volume.floor_amsl_m,
                "ceiling_amsl_m": volume.ceiling_amsl_m,
            }
            geometry = site.projection.geometry_to_lonlat(volume.outline)
    return {"type": "Feature", "properties": props, "geometry": mapping(geometry)}


@router.get("/sites/{site_id}")
def get_site(
    site_id: str,
    _user: ActorDep,
    sites: SitesDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Return the site as a GeoJSON FeatureCollection (lon/lat, WGS84), with its
    current and future closures as features of kind ``closure``, and a ``display``
    member for showing HK1980 Grid positions and mPD heights (``web.site_display``).

    Signed-in users only: the layout of a site and why parts of it are closed are
    not for anyone on the network.
    """
    site = _site_or_404(sites, site_id)
    collection = site_to_feature_collection(site)
    for feature in collection["features"]:
        props = feature["properties"]
        if props.get("kind") == "corridor":
            # The engine's own outline (round caps and joins, site metres), so the
            # map never re-buffers a centre line with other maths.
            outline = site.corridor(props["id"]).volume.outline
            props["outline"] = mapping(outline_lonlat(site, outline))
    closures = list_closures(session, site.id, start=datetime.now(UTC))
    collection["features"] += [closure_feature(c, site) for c in closures]
    collection["display"] = site_display(site, settings.mpd_reference(site.id))
    return collection


class Interval(BaseModel):
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime


def _intervals(windows: tuple[TimeWindow, ...]) -> list[Interval]:
    return [Interval(start=w.start, end=w.end) for w in windows]


class PadAvailabilityPublic(BaseModel):
    """A pad's busy (turnaround included), closed and free intervals."""

    pad_id: str
    turnaround_min: float
    busy: list[Interval]
    closed: list[Interval]
    free: list[Interval]


class CorridorAvailabilityPublic(BaseModel):
    """A corridor's capacity, peak bookings at once, and busy/full/closed intervals."""

    corridor_id: str
    capacity: int
    peak_booked: int
    busy: list[Interval]
    full: list[Interval]
    closed: list[Interval]


class AvailabilityPublic(BaseModel):
    """Availability of every pad and corridor of a site over ``[start, end)``."""

    site_id: str
    start: datetime
    end: datetime
    opening: list[Interval]
    pads: list[PadAvailabilityPublic]
    corridors: list[CorridorAvailabilityPublic]

    @classmethod
    def of(cls, a: SiteAvailability) -> AvailabilityPublic:
        """Return the public view of ``a``."""
        return cls(
            site_id=a.site_id,
            start=a.window.start,
            end=a.window.end,
            opening=_intervals(a.opening),
            pads=[
                PadAvailabilityPublic(
                    pad_id=p.pad_id,
                    turnaround_min=p.turnaround_min,
                    busy=_intervals(p.busy),
                    closed=_intervals(p.closed),
                    free=_intervals(p.free),
                )
                for p in a.pads
            ],
            corridors=[
                CorridorAvailabilityPublic(
                    corridor_id=c.corridor_id,
                    capacity=c.capacity,
                    peak_booked=c.peak_booked,
                    busy=_intervals(c.busy),
                    full=_intervals(c.full),
                    closed=_intervals(c.closed),
                )
                for c in a.corridors
            ],
        )


@router.get("/sites/{site_id}/availability")
def get_availability(
    site_id: str,
    actor: ActorDep,
    session: SessionDep,
    catalogue: CatalogueDep,
    start: Annotated[AwareDatetime, Query(alias="from")],
    end: Annotated[AwareDatetime, Query(alias="to")],
) -> AvailabilityPublic:
    """Return free pad slots and corridor load at the site over ``[from, to)``.

    At most 31 days at once; any signed-in user may ask (no booking details shown).
    """
    site = catalogue.get(SiteId(site_id))
    if site is None:
        raise NotFound("site", site_id)
    s, e = start.astimezone(UTC), end.astimezone(UTC)
    if not s < e or e - s > MAX_AVAILABILITY_SPAN:
        raise BookingRuleViolation(
            Rule.WINDOW, "'from' must be before 'to', at most 31 days apart"
        )
    window = TimeWindow(s, e)
    pad = lookaround(site)
    bookings = occupying_bookings(
        session, site.id, TimeWindow(window.start - pad, window.end + pad)
    )
    closures = list_closures(session, site.id, window.start, window.end)
    availability = site_availability(
        site, catalogue.policy(site.id), window, bookings, closures
    )
    return AvailabilityPublic.of(availability)
