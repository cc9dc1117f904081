"""Domain errors become HTTP responses here, and only here.

=======================  ======  ============================================
``BookingConflict``      409     another booking or a closure holds it
``InvalidTransition``    409     the booking's state does not allow it
``QuotaExceeded``        409     the operator holds its quota of bookings
``BookingRuleViolation`` 422     a site rule (mass, hours, horizon...) is broken
``PermissionDenied``     403     the caller's role or organisation may not
``NotFound``             404     no such site, pad, drone, booking, closure
other ``BookingError``   400
=======================  ======  ============================================

Each body is ``err.as_dict()``: ``error``, ``rule``, ``message``, ``booking_ids`` and
``closure_ids`` (the ids of what the request hit), plus ``detail`` (the message) as in
FastAPI's own error bodies. Request validation keeps FastAPI's
422 body with one entry per field (``loc``, ``msg``, ``type``).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from booking.errors import (
    BookingConflict,
    BookingError,
    BookingRuleViolation,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[BookingError], int] = {
    BookingConflict: status.HTTP_409_CONFLICT,
    InvalidTransition: status.HTTP_409_CONFLICT,
    QuotaExceeded: status.HTTP_409_CONFLICT,
    BookingRuleViolation: status.HTTP_422_UNPROCESSABLE_CONTENT,
    PermissionDenied: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
}


def status_for(err: BookingError) -> int:
    """Return the HTTP status for a domain error (400 for an unmapped subclass)."""
    for cls in type(err).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return status.HTTP_400_BAD_REQUEST


async def _booking_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, BookingError):  # pragma: no cover - registered for it
        raise exc
    code = status_for(exc)
    logger.info("%s %s -> %d: %s", request.method, request.url.path, code, exc)
    return JSONResponse({"detail": exc.message, **exc.as_dict()}, status_code=code)


def install_error_handlers(app: FastAPI) -> None:
    """Register the domain error handlers on ``app``."""
    app.add_exception_handler(BookingError, _booking_error)
