"""The browser pages: plain HTML files that call the REST API and ``/ws/live``.

The pages hold no data: each is a static HTML file in ``web/pages/`` whose
scripts (``web/static/js/``) sign in through ``POST /api/v1/auth/token``, keep the
bearer token in ``sessionStorage`` and ask the API for everything, so the API's
role checks are the only ones that count. Everything a page loads comes from this
server -- Leaflet is copied from npm into ``web/static/vendor/`` at set-up -- and
the ``Content-Security-Policy`` sent with each page makes the browser refuse any
other host, except the tile server when one is configured (``tile_url``).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from web.settings import Settings

WEB_DIR = Path(__file__).resolve().parent.parent
PAGES_DIR = WEB_DIR / "pages"
STATIC_DIR = WEB_DIR / "static"
STATIC_URL = "/static"

PAGES = (
    "login",
    "map",
    "bookings",
    "incidents",
    "incident",
    "flights",
    "campaign",
)
"""Each is served at ``/<name>`` from ``web/pages/<name>.html`` (``incident`` also
at ``/incidents/{id}``, ``flights`` at ``/bookings/{id}/flights``)."""

DEFAULT_TILE_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
    "contributors"
)

router = APIRouter(include_in_schema=False)


class PageConfig(BaseModel):
    """What the pages need to know about this server beyond the API."""

    api_prefix: str = "/api/v1"
    live_path: str = "/ws/live"
    tile_url: str = ""
    """An online tile layer, e.g. ``https://tile.openstreetmap.org/{z}/{x}/{y}.png``;
    empty (the default) keeps the map fully offline."""
    tile_attribution: str = DEFAULT_TILE_ATTRIBUTION


def page_config(settings: Settings) -> PageConfig:
    """Return the pages' configuration from ``settings``."""
    # getattr: the tile settings are optional fields of Settings.
    tile_url = str(getattr(settings, "tile_url", "") or "")
    attribution = str(
        getattr(settings, "tile_attribution", "") or DEFAULT_TILE_ATTRIBUTION
    )
    return PageConfig(tile_url=tile_url, tile_attribution=attribution)


def tile_origin(tile_url: str) -> str | None:
    """Return ``scheme://host`` of a tile URL template (``{s}`` becomes ``*``), or
    None when it is not an http(s) URL."""
    scheme, sep, rest = tile_url.partition("://")
    host = rest.split("/", 1)[0]
    if not sep or scheme not in {"http", "https"} or not host:
        return None
    return f"{scheme}://{host.replace('{s}', '*')}"


def content_security_policy(config: PageConfig) -> str:
    """Return the CSP header value: this origin only, plus the tile host if set."""
    images = "'self' data: blob:"
    origin = tile_origin(config.tile_url) if config.tile_url else None
    if origin:
        images += f" {origin}"
    return "; ".join(
        [
            "default-src 'self'",
            f"img-src {images}",
            # Leaflet positions its panes with inline style attributes.
            "style-src 'self' 'unsafe-inline'",
            "script-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def _page(name: str, request: Request) -> FileResponse:
    config = page_config(_settings(request))
    return FileResponse(
        PAGES_DIR / f"{name}.html",
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": content_security_policy(config),
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


@router.get("/")
def home() -> RedirectResponse:
    """Send the browser to the live map."""
    return RedirectResponse("/map", status_code=307)


@router.api_route("/login", methods=["GET", "HEAD"])
def login_page(request: Request) -> FileResponse:
    """Return the sign-in page."""
    return _page("login", request)


@router.api_route("/map", methods=["GET", "HEAD"])
def map_page(request: Request) -> FileResponse:
    """Return the live map page."""
    return _page("map", request)


@router.api_route("/bookings", methods=["GET", "HEAD"])
def bookings_page(request: Request) -> FileResponse:
    """Return the bookings timeline page."""
    return _page("bookings", request)


@router.api_route("/incidents", methods=["GET", "HEAD"])
def incidents_page(request: Request) -> FileResponse:
    """Return the incident list page."""
    return _page("incidents", request)


@router.api_route("/incidents/{incident_id}", methods=["GET", "HEAD"])
def incident_page(incident_id: str, request: Request) -> FileResponse:
    """Return the page of one incident (its script reads the id from the path)."""
    return _page("incident", request)


@router.api_route("/bookings/{booking_id}/flights", methods=["GET", "HEAD"])
def flights_page(booking_id: str, request: Request) -> FileResponse:
    """Return a booking's Flights page (its script reads the id from the path)."""
    return _page("flights", request)


@router.api_route("/flights", methods=["GET", "HEAD"])
def flights_page_by_query(request: Request) -> FileResponse:
    """Return the Flights page of the booking named by ``?booking=``."""
    return _page("flights", request)


@router.api_route("/campaign", methods=["GET", "HEAD"])
def campaign_page(request: Request) -> FileResponse:
    """Return the Flights view of an organisation (or all, for staff) over dates."""
    return _page("campaign", request)


@router.api_route("/incident", methods=["GET", "HEAD"])
def incident_page_by_query(request: Request) -> FileResponse:
    """Return the page of one incident named by ``?id=``."""
    return _page("incident", request)


@router.get("/ui/config.json")
def ui_config(request: Request) -> PageConfig:
    """Return the pages' configuration (tile layer opt-in, API paths)."""
    return page_config(_settings(request))


def static_files() -> StaticFiles:
    """Return the app for ``/static`` (CSS, scripts, vendor copies, base map)."""
    return StaticFiles(directory=STATIC_DIR)


def install_pages(app: FastAPI) -> None:
    """Add the pages and ``/static`` to ``app`` (for apps built without them)."""
    app.include_router(router)
    app.mount(STATIC_URL, static_files(), name="static")
