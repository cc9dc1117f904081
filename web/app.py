"""The FastAPI application factory: the one place where SkyBerth is assembled."""

from __future__ import annotations

from fastapi import FastAPI

from airspace.site import Site
from airspace.site_files import load_site
from web.routes import health, sites
from web.settings import Settings


def load_sites(settings: Settings) -> dict[str, Site]:
    """Load every configured site file; a duplicate site id is refused."""
    loaded: dict[str, Site] = {}
    for path in settings.site_files:
        site = load_site(path)
        if site.id in loaded:
            raise ValueError(f"site id {site.id!r} is defined twice ({path})")
        loaded[site.id] = site
    return loaded


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the SkyBerth app for ``settings`` (read from the environment if None)."""
    settings = settings or Settings()
    app = FastAPI(
        title="SkyBerth",
        summary="Drone test-site management: bookings, live telemetry, incidents.",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.sites = load_sites(settings)
    app.include_router(health.router)
    app.include_router(sites.router, prefix="/api/v1")
    return app
