"""The raw AIS recording: every checksum-valid sentence, stamped, per site and day.

AIS's answer to the ``.tlog``: each sentence is written as received, behind an
NMEA 4.0 tag block that carries the receive time and the link, e.g.
``\\c:1795000000,s:udpin-0.0.0.0-10110*3A\\!AIVDM,1,1,,A,...*5C``: the form
gpsd, pyais' ``FileReaderStream`` and our own codec read (the codec skips the
tag block), so an incident's vessels can be replayed into any of them. Files are
``<ais_dir>/<site>/<YYYY-MM-DD>.nmea`` by site and UTC day (:func:`site_day_path`),
kept for the retention period (:meth:`AisLog.purge`). Which sites a sentence is
recorded for is the vessel picture's decision (docs/ais.md: the sites its vessel
is near).

One writer thread appends what the vessel picture hands over (at most twice a
second), so the event loop never touches the disk. What is queued when the
thread stops is written before it ends.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

from telemetry.ais.messages import AisSentence
from telemetry.log_limits import RateLimitedLog

logger = logging.getLogger(__name__)

_SOURCE_CHARS = re.compile(r"[^A-Za-z0-9.-]")
_SITE_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_STOP = None


def site_dir(ais_dir: Path, site_id: str) -> Path:
    """The directory of ``site_id``'s recording (the id made safe as a file name)."""
    return ais_dir / (_SITE_CHARS.sub("_", site_id) or "_")


def site_day_path(ais_dir: Path, site_id: str, day: str) -> Path:
    """The file of ``site_id``'s sentences received on UTC ``day`` (YYYY-MM-DD)."""
    return site_dir(ais_dir, site_id) / f"{day}.nmea"


def tag_block(t_s: float, source: str) -> str:
    """Return the NMEA 4.0 tag block for receive time ``t_s`` and ``source``."""
    body = f"c:{int(t_s)},s:{_SOURCE_CHARS.sub('-', source)[:15]}"
    checksum = reduce(lambda acc, ch: acc ^ ord(ch), body, 0)
    return f"\\{body}*{checksum:02X}\\"


class AisLog:
    """Appends AIS sentences to per-site daily files under ``directory`` from its
    own thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._queue: queue.SimpleQueue[tuple[str, list[str]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._log = RateLimitedLog(logger)
        self.written = 0
        self.failed = 0

    def start(self) -> None:
        """Start the writer thread."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="ais-log", daemon=True)
        self._thread.start()

    def record(
        self, site_id: str, source: str, sentences: Sequence[AisSentence]
    ) -> None:
        """Queue ``sentences`` from ``source`` (a link id) for ``site_id``'s
        recording; never blocks."""
        lines = [f"{tag_block(s.t_s, source)}{s.text}\n" for s in sentences]
        if lines:
            self._queue.put((site_id, lines))

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued and stop the thread (blocking)."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout_s)
            self._thread = None

    def purge(self, before_epoch_s: float) -> int:
        """Delete day files (every site's) last written before ``before_epoch_s``;
        return how many."""
        removed = 0
        # ``*.nmea`` at the top: recordings from before they were kept per site.
        for path in [*self.directory.glob("*/*.nmea"), *self.directory.glob("*.nmea")]:
            try:
                if path.stat().st_mtime < before_epoch_s:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            # Everything queued meanwhile goes in the same write, one per site.
            batches: dict[str, list[str]] = {first[0]: list(first[1])}
            stop = False
            while not self._queue.empty():
                more = self._queue.get()
                if more is _STOP:
                    stop = True
                    break
                batches.setdefault(more[0], []).extend(more[1])
            for site_id, lines in batches.items():
                self._write(site_id, lines)
            if stop:
                return

    def _write(self, site_id: str, lines: list[str]) -> None:
        day = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d")
        path = site_day_path(self.directory, site_id, day)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="ascii", errors="replace") as out:
                out.writelines(lines)
            self.written += len(lines)
        except OSError as exc:
            self.failed += len(lines)
            self._log(logging.ERROR, "write", "AIS recording failed: %s", exc)
