"""Liveness and readiness of the process, for load balancers and supervisors.

``/healthz``: the process serves requests. ``/readyz``: it can do its job: the
database answers and, with a remote live bus, the bus is connected; 503 names what
is not ready.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Return ``{"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}


def _database_ok(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception:  # any failure means not ready
        # The error text names hosts, users and paths: it goes to the log, and
        # the unauthenticated answer says only which part is not ready.
        logger.exception("readiness: the database does not answer")
        return "database: not answering (see the server log)"
    return None


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers and the live bus (if remote) is connected."""
    problems: list[str] = []
    problem = await asyncio.to_thread(_database_ok, request.app.state.engine)
    if problem:
        problems.append(problem)
    telemetry: Any = getattr(request.app.state, "telemetry", None)
    if telemetry is not None and telemetry.bus.remote and not telemetry.bus.connected:
        problems.append("bus: not connected")
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, 503)
    return JSONResponse({"status": "ready"})
