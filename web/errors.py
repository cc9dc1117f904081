"""Domain errors become HTTP responses here, and only here.

=======================  ======  ============================================
``BookingConflict``      409     another booking or a closure holds it
``InvalidTransition``    409     the booking's state does not allow it
``QuotaExceeded``        409     the operator holds its quota of bookings
``BookingRuleViolation`` 422     a site rule (mass, hours, horizon...) is broken
``PermissionDenied``     403     the caller's role or organisation may not
``NotFound``             404     no such site, pad, drone, booking, closure
other ``BookingError``   400
``ApiError``             its own a refusal a route words itself (below)
=======================  ======  ============================================

Each body is ``err.as_dict()``: ``error``, ``rule`` (a stable English machine code),
``message`` (for people, in the language of the request's ``Accept-Language``:
``web.i18n``), ``booking_ids`` and ``closure_ids`` (the ids of what the request hit),
plus ``detail`` (the domain's English message) as in FastAPI's own error bodies.
Request validation keeps FastAPI's 422 body with one entry per field (``loc``,
``msg``, ``type``, ``ctx`` as pydantic gives them, for machines) and adds each
entry's ``message``: the problem in the request's language
(``web.i18n.validation_words``; ``loc`` names the field).

What a route refuses itself (an empty report period, a fence for a booking not
approved, a throttled login, a bad token) is an ``ApiError``: the body keeps
``detail`` (English, unchanged for clients that read it) and adds ``code`` (stable,
for machines) and ``message``, the catalogue's ``error.<code>`` filled from the
error's named ``params``. Routes never raise ``HTTPException`` with words of their
own (``tests/unit/test_api_errors.py`` walks the routes to keep it so).

Every ``message`` is in the request's language: the user's stored language when a
signed-in request reached authentication (``web.deps`` notes it on
``request.state``), else ``Accept-Language``. English keeps the English text itself
(it names thing and reason); the answer's ``Content-Language`` says which it is, so
a page that switched language meanwhile knows the words are not its own.

The OpenAPI schema says so too: every documented 422 is either FastAPI's
``HTTPValidationError`` or an ``ErrorMessage`` (a ``detail`` string), since a route
may refuse a well-formed request with a message of its own (a site rule, an empty
or too long period). Clients and the schema fuzzer read the schema, not this table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
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
from web.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalogue, negotiate, translate
from web.i18n.validation_words import validation_message

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Word:
    """A parameter given in words: catalogue key ``key`` in the message's language
    (a booking's state, a role), where the English text says the code itself."""

    key: str


class ApiError(Exception):
    """A refusal a route words itself: a status, a stable ``code``, English ``detail``.

    ``params`` fill the named placeholders of ``error.<code>`` in the catalogue (a
    ``Word`` in the same language); ``headers`` go on the answer (``Retry-After``,
    ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        detail: str,
        /,
        *,
        headers: Mapping[str, str] | None = None,
        **params: object,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.params = params
        super().__init__(detail)

    def message_in(self, language: str) -> str:
        """Return the error for people in ``language`` (English: ``detail``)."""
        if language == DEFAULT_LANGUAGE:
            return self.detail
        key = f"error.{self.code}"
        if key not in catalogue(language):
            return self.detail  # not translated yet: never an empty answer
        params = {
            name: translate(language, value.key) if isinstance(value, Word) else value
            for name, value in self.params.items()
        }
        return translate(language, key, **params)


def request_language(request: Request) -> str:
    """Return the language of the request's error messages.

    The signed-in user's stored language (noted by authentication), else the one
    ``Accept-Language`` asks for.
    """
    stored = getattr(request.state, "language", None)
    if stored in LANGUAGES:
        return str(stored)
    return negotiate(request.headers.get("accept-language"))


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
    language = request_language(request)
    body = {"detail": exc.message, **exc.as_dict()}
    body["message"] = rule_message(exc, language)
    return JSONResponse(body, status_code=code, headers={"Content-Language": language})


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, ApiError):  # pragma: no cover - registered for it
        raise exc
    logger.info(
        "%s %s -> %d: %s", request.method, request.url.path, exc.status_code, exc
    )
    language = request_language(request)
    body = {"detail": exc.detail, "code": exc.code, "message": exc.message_in(language)}
    headers = {**exc.headers, "Content-Language": language}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def rule_message(exc: BookingError, language: str) -> str:
    """Return the error's ``message`` in ``language``.

    English keeps the domain's own message (it names thing and reason); Chinese
    gives the rule's message from the catalogue (``rule.<rule>``), or the English
    one for a rule not translated yet (never an empty answer).
    """
    if language == DEFAULT_LANGUAGE:
        return exc.message
    key = f"rule.{exc.rule}"
    translated = catalogue(language).get(key)
    return translated if translated else exc.message


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover - registered
        raise exc
    language = request_language(request)
    errors = exc.errors()
    detail = jsonable_encoder(errors)
    for entry, error in zip(detail, errors, strict=True):
        entry["message"] = validation_message(error, language)
    return JSONResponse(
        {"detail": detail}, status_code=422, headers={"Content-Language": language}
    )


ERROR_MESSAGE_SCHEMA: dict[str, Any] = {
    "title": "ErrorMessage",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "code": {"type": "string", "title": "Code"},
        "message": {"type": "string", "title": "Message"},
    },
}
"""The body of every error a route raises itself: ``detail`` says what and why
(English), ``code`` which refusal it is, ``message`` the same for people in the
request's language."""

VALIDATION_MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "title": "Message",
    "description": (
        "The problem in the request's language (Accept-Language), for people; "
        "'loc' names the field, 'type' and 'msg' stay pydantic's."
    ),
}


def _with_error_bodies(
    generate: Callable[[], dict[str, Any]],
) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI caches it: the edit below runs once
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "ErrorMessage" in schemas:
            return schema
        schemas["ErrorMessage"] = ERROR_MESSAGE_SCHEMA
        if "ValidationError" in schemas:
            fields = schemas["ValidationError"].setdefault("properties", {})
            fields["message"] = VALIDATION_MESSAGE_SCHEMA
        message = {"$ref": "#/components/schemas/ErrorMessage"}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                body = (
                    operation.get("responses", {})
                    .get("422", {})
                    .get("content", {})
                    .get("application/json")
                )
                if body is not None and "schema" in body:
                    body["schema"] = {"anyOf": [body["schema"], message]}
        return schema

    return openapi


def install_error_handlers(app: FastAPI) -> None:
    """Register the domain error handlers on ``app`` and document their bodies."""
    app.add_exception_handler(BookingError, _booking_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.openapi = _with_error_bodies(app.openapi)  # type: ignore[method-assign]
