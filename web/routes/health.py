"""Liveness: is the process serving at all."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Return ``{"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}
