"""Log set-up for the command line: readable text by default, JSON lines on request.

Times are UTC, like every time SkyBerth shows. ``SKYBERTH_LOG_FORMAT=json`` writes
one JSON object per line (``t_utc``, ``level``, ``logger``, ``message`` and
``exc_info`` when there is one) for log collectors.

Secrets never reach a log line through a URL: uvicorn's access and connection
lines show the query string, so ``RedactSecrets`` replaces the value of any
``token``, ``access_token``, ``ticket`` or ``password`` parameter in them.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


SECRET_QUERY = re.compile(
    r"([?&](?:token|access_token|ticket|password)=)[^&\s\"']*", re.IGNORECASE
)
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """Return ``text`` with the values of secret query parameters replaced."""
    return SECRET_QUERY.sub(r"\1<redacted>", text)


class RedactSecrets(logging.Filter):
    """Rewrite a record's message and string arguments through ``redact``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(a) if isinstance(a, str) else a for a in record.args
            )
        return True


def install_redaction() -> None:
    """Put ``RedactSecrets`` on uvicorn's loggers (uvicorn's own log set-up keeps
    logger filters, so this may run before ``uvicorn.run``)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "t_utc": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(level: str, fmt: str = "text") -> None:
    """Log at ``level`` to stderr as ``text`` or ``json``."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    install_redaction()
