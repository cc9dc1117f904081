"""The FastAPI application factory: the one place where SkyBerth is assembled."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlmodel import Session

from airspace.site import Site
from airspace.site_files import load_site
from airspace.vessel_proximity import ProximityLimits
from booking.audit_heads import seal_engine
from booking.catalogue import StaticSiteCatalogue
from booking.unit_of_work import SqlUnitOfWork
from telemetry.incidents.repository import IncidentRepository
from telemetry.incidents.service import IncidentService, IncidentUnitOfWork
from telemetry.live.bus import open_bus
from telemetry.live.gateway_settings import GatewaySettings
from telemetry.live.quotas import QuotaLimits
from telemetry.recording.recorder import TelemetryRecorder
from telemetry.recording.track_store import TrackStore
from web.db import make_engine, write_session
from web.errors import install_error_handlers
from web.events import EventLog
from web.holder_checks import HolderChecks
from web.i18n import routes as i18n_routes
from web.input_limits import BodySizeLimit
from web.interpreter import tune_for_serving
from web.login_guard import LoginGuard
from web.metrics import metrics_registry
from web.migrate import upgrade
from web.routes import (
    api_docs,
    audit,
    auth,
    bookings,
    campaign,
    closures,
    drones,
    fences,
    flight_forms,
    flights,
    health,
    incident_replays,
    incidents,
    live,
    pages,
    reports,
    sites,
    telemetry_api,
    users,
    vehicle_commands,
    zones,
)
from web.secret_key import with_secret_key
from web.settings import Settings
from web.telemetry_runtime import TelemetryRuntime

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def load_sites(settings: Settings) -> dict[str, Site]:
    """Load every configured site file; a duplicate site id is refused."""
    loaded: dict[str, Site] = {}
    for path in settings.site_files:
        site = load_site(path)
        if site.id in loaded:
            raise ValueError(f"site id {site.id!r} is defined twice ({path})")
        loaded[site.id] = site
    return loaded


def create_app(
    settings: Settings | None = None, *, tune_interpreter: bool = False
) -> FastAPI:
    """Build the SkyBerth app for ``settings`` (read from the environment if None).

        ``tune_interpreter`` (the server commands; not tests, which build many apps in
        one process) applies ``web.interpreter.tune_for_serving`` once the app started.

        Creates the database engine and brings the schema up to date (a fresh SQLite
        file works with no extra step). ``app.state`` holds ``settings``, ``sites``,
        ``engine``, ``catalogue``, ``events`` (the ``EventLog`` that committed domain
        events are published to) and ``uow_factory`` (a fresh write unit of work per
        call). An unset token key is filled from ``data_dir/secret_key``
    (``web.secret_key``). The lifespan disposes of the engine on shutdown.
    """
    # Without a configured key, the one kept in the data directory (never the
    # public development key outside dev/test: see web/secret_key.py).
    settings = with_secret_key(settings or Settings())
    loaded_sites = load_sites(settings)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    seal_engine(engine, settings.audit_seal())  # every audit writer keys its records
    catalogue = StaticSiteCatalogue(loaded_sites, settings.site_policy())
    events = EventLog()

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(
            lambda: write_session(engine), catalogue, publish=events.publish
        )

    incident_repository = IncidentRepository(
        lambda: write_session(engine), lambda: Session(engine)
    )
    tracks = TrackStore(lambda: write_session(engine), lambda: Session(engine))
    recorder = TelemetryRecorder(
        incident_repository,
        tracks,
        settings.tlog_dir,
        tlog_budget_bytes=settings.tlog_budget_mb * 1024 * 1024,
    )
    telemetry = TelemetryRuntime(
        loaded_sites,
        engine,
        events,
        uow_factory,
        recorder,
        incident_repository,
        tracks,
        settings.mavlink,
        GatewaySettings(
            tick_s=settings.telemetry_tick_ms / 1000,
            live_interval_s=settings.live_interval_ms / 1000,
            link_lost_s=settings.link_lost_s,
            low_battery_pct=settings.low_battery_pct,
            landed_end_s=settings.landed_end_s,
            gcs_sysid=settings.gcs_sysid,
            quotas=QuotaLimits(
                vehicles=settings.unregistered_vehicles_per_link,
                tlog_bytes=int(settings.unregistered_tlog_mb * 1024 * 1024),
                track_rows=settings.unregistered_track_rows,
                incidents_per_min=settings.unregistered_incidents_per_min,
            ),
        ),
        retention_days=settings.retention_days,
        bus=open_bus(
            settings.bus_url, settings.effective_node_name, settings.deployment
        ),
        role=settings.role,
        mavlink_allow=settings.mavlink_allow,
        ais_endpoints=settings.ais,
        vessel_limits=ProximityLimits(
            warn_dcpa_m=settings.vessel_warn_dcpa_m,
            breach_m=settings.vessel_breach_m,
            max_height_m=settings.vessel_max_height_m,
        ),
        ais_stale_s=settings.ais_stale_s,
        ais_dir=settings.data_dir / "ais" if recorder is not None else None,
        forward=settings.forward,
        talk=settings.mavlink_talk,
    )
    telemetry.fences.lead_s = settings.fence_upload_lead_min * 60

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await telemetry.start()
        if tune_interpreter:
            tune_for_serving()
        try:
            yield
        finally:
            await telemetry.stop()
            engine.dispose()
            logger.info("telemetry stopped, database engine disposed")

    app = FastAPI(
        title="SkyBerth",
        summary="Drone test-site management: bookings, live telemetry, incidents.",
        version="0.1.0",
        lifespan=lifespan,
        # Served by web.routes.api_docs from local files: the CDN ones fail offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sites = loaded_sites
    app.state.engine = engine
    app.state.holder_checks = HolderChecks(engine)
    app.state.catalogue = catalogue
    app.state.events = events
    uow: Callable[[], SqlUnitOfWork] = uow_factory
    app.state.uow_factory = uow
    app.state.telemetry = telemetry
    app.state.login_guard = LoginGuard(
        settings.login_limits,
        settings.login_limits_per_address,
        settings.password_checks_at_once,
    )
    app.state.incident_service = IncidentService(
        lambda: IncidentUnitOfWork(lambda: write_session(engine))
    )
    app.state.metrics = metrics_registry(telemetry)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(telemetry_api.metrics_router)
    if settings.role == "gateway":
        return app  # a gateway serves /healthz, /readyz and /metrics only
    app.include_router(api_docs.router)
    app.include_router(live.router)
    pages.install_pages(app)
    app.include_router(i18n_routes.catalogue_router)
    for module in (
        auth,
        sites,
        drones,
        bookings,
        fences,
        closures,
        telemetry_api,
        incidents,
        incident_replays,
        flights,
        flight_forms,
        audit,
        reports,
        campaign,
        users,
        zones,
        vehicle_commands,
        i18n_routes,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    return app
