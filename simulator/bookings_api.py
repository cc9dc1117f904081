"""What the simulator reads from a running SkyBerth: site, approved bookings, drones.

Plain HTTP with the standard library (the simulator is an outside program): bearer
token in ``Authorization``, JSON back. Every failure (unreachable, 401, 404, a body
that is not what ``/api/v1`` returns) becomes a ``BookingsApiError`` that names the
request and the reason.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import shape

from airspace.errors import AirspaceError
from airspace.site import Site
from airspace.site_parse import parse_site
from simulator.errors import BookingsApiError

API_PREFIX = "/api/v1"
TIMEOUT_S = 10.0
PAGE = 1000


@dataclass(frozen=True)
class BookedFlight:
    """An approved booking, as the simulator needs it."""

    booking_id: int
    drone_id: str
    start: datetime
    end: datetime
    takeoff_pad_id: str | None
    landing_pad_id: str | None
    corridor_id: str | None


@dataclass(frozen=True)
class RegisteredDrone:
    """A registered drone: its system id and whether it signs its frames."""

    drone_id: str
    name: str
    sysid: int
    signed: bool


class SkyBerthApi:
    """A small client of ``/api/v1`` for one server and token."""

    def __init__(self, base_url: str, token: str, timeout_s: float = TIMEOUT_S):
        parsed = urllib.parse.urlsplit(base_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise BookingsApiError(
                f"API URL {base_url!r} must be http(s)://HOST[:PORT]"
            )
        self.base_url = base_url.strip().rstrip("/")
        if self.base_url.endswith(API_PREFIX):
            self.base_url = self.base_url[: -len(API_PREFIX)]
        self.token = token.strip()
        if not self.token:
            raise BookingsApiError("an API token is needed (--token)")
        self.timeout_s = timeout_s

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """Return the JSON body of ``GET /api/v1{path}?params``."""
        url = f"{self.base_url}{API_PREFIX}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(
            url,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = _detail(exc)
            raise BookingsApiError(f"GET {url}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BookingsApiError(f"GET {url}: cannot reach: {reason}") from None
        try:
            return json.loads(body)
        except ValueError:
            raise BookingsApiError(f"GET {url}: the answer is not JSON") from None

    def site_ids(self) -> list[str]:
        """Return the ids of the sites the server serves."""
        sites = self.get("/sites")
        try:
            return [str(s["id"]) for s in sites]
        except (TypeError, KeyError):
            raise BookingsApiError("GET /sites: unexpected answer") from None

    def site(self, site_id: str) -> Site:
        """Return the site, read from its GeoJSON (closures left out)."""
        path = f"/sites/{urllib.parse.quote(site_id, safe='')}"
        collection = self.get(path)
        try:
            features = [
                {"geometry": shape(f["geometry"]), "properties": f["properties"]}
                for f in collection["features"]
                if f["properties"].get("kind") != "closure"
            ]
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise BookingsApiError(f"GET {path}: not a site: {exc}") from None
        try:
            return parse_site(features)
        except AirspaceError as exc:
            raise BookingsApiError(f"GET {path}: the site is invalid: {exc}") from None

    def approved_bookings(
        self, site_id: str, start: datetime, horizon: timedelta
    ) -> list[BookedFlight]:
        """Return the approved bookings of the site overlapping [start, +horizon)."""
        params = {
            "site": site_id,
            "state": "approved",
            "from": start.isoformat(),
            "to": (start + horizon).isoformat(),
            "limit": str(PAGE),
        }
        found: list[BookedFlight] = []
        offset = 0
        while True:
            page = self.get("/bookings", {**params, "offset": str(offset)})
            if not isinstance(page, list):
                raise BookingsApiError("GET /bookings: expected a list")
            try:
                found += [_booking(b) for b in page]
            except (TypeError, KeyError, ValueError) as exc:
                raise BookingsApiError(f"GET /bookings: bad booking: {exc}") from None
            if len(page) < PAGE:
                return found
            offset += PAGE

    def drones(self, site_id: str) -> list[RegisteredDrone]:
        """Return the drones of the site the token may see."""
        answer = self.get("/drones", {"site": site_id})
        try:
            return [
                RegisteredDrone(
                    drone_id=str(d["id"]),
                    name=str(d["name"]),
                    sysid=int(d["mavlink_sysid"]),
                    signed=bool(d["signed"]),
                )
                for d in answer
            ]
        except (TypeError, KeyError, ValueError) as exc:
            raise BookingsApiError(f"GET /drones: bad drone: {exc}") from None


def _booking(b: dict[str, Any]) -> BookedFlight:
    start = datetime.fromisoformat(str(b["start"]).replace("Z", "+00:00"))
    end = datetime.fromisoformat(str(b["end"]).replace("Z", "+00:00"))
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("booking times must carry a UTC offset")
    return BookedFlight(
        booking_id=int(b["id"]),
        drone_id=str(b["drone_id"]),
        start=start,
        end=end,
        takeoff_pad_id=b.get("takeoff_pad_id"),
        landing_pad_id=b.get("landing_pad_id"),
        corridor_id=b.get("corridor_id"),
    )


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        return str(exc.reason)
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return f"{exc.reason}: {detail}"
