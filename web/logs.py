"""Log set-up for the command line: readable text by default, JSON lines on request.

Times are UTC, like every time SkyBerth shows. ``SKYBERTH_LOG_FORMAT=json`` writes
one JSON object per line (``t_utc``, ``level``, ``logger``, ``message`` and
``exc_info`` when there is one) for log collectors.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


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
