"""Helpers for tests that fly the real simulator against a real server (not a test).

- ``scenario_site``: the demo site with four more pads and room in C1 for eight
  drones, so one server can hold a booking per scenario at once (the demo site has
  four pads, each holding one booking at a time).
- ``LiveRecorder``: a websocket client of ``/ws/live`` in its own thread that keeps
  every frame, for assertions after the flight.
- ``register_and_book``: a drone registered and its booking approved over REST.
- ``run_simulator``: ``python -m simulator`` as a subprocess, its output kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from websockets.exceptions import ConnectionClosed

import web
from airspace.site_files import demo_site_path, load_site
from telemetry.live.frames import vehicle_entries
from tests.integration.api_world import SITE, drone_body
from tests.integration.live_server import LiveServer, connect_live

SOURCE_ROOT = Path(web.__file__).resolve().parent.parent

EXTRA_PADS = {
    "P5": (114.129275, 22.260825),
    "P6": (114.128925, 22.260635),
    "P7": (114.128575, 22.260445),
    "P8": (114.128225, 22.260255),
}
"""Pads added between (and beyond) the demo pier's four, lon/lat degrees."""
C1_CAPACITY = 8


def scenario_site(directory: Path) -> Path:
    """Write the demo site with ``EXTRA_PADS`` and C1 for eight; return its path."""
    collection = json.loads(demo_site_path().read_text(encoding="utf-8"))
    features = collection["features"]
    for feature in features:
        props = feature["properties"]
        if props["kind"] == "corridor" and props["id"] == "C1":
            props["capacity"] = C1_CAPACITY
    for pad_id, (lon, lat) in EXTRA_PADS.items():
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "kind": "pad",
                    "id": pad_id,
                    "name": f"Test pad {pad_id}",
                    "charger": False,
                    "max_takeoff_mass_kg": 25.0,
                    "turnaround_min": 5.0,
                },
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
        )
    path = directory / "scenario-site.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")
    load_site(path)  # fail here, with the site's own message, if it is invalid
    return path


def register_and_book(
    server: LiveServer,
    drone_id: str,
    sysid: int,
    *,
    corridor: str,
    pad: str,
    signing_key: bytes | None = None,
    minutes: int = 30,
    lead_s: float = 1.5,
) -> int:
    """Register ``drone_id`` (operator of acme), book it from ``lead_s`` from now
    and approve; return the booking id."""
    extra: dict[str, Any] = {}
    if signing_key is not None:
        extra["signing_key_hex"] = signing_key.hex()
    response = server.post(
        "operator", "/api/v1/drones", json=drone_body(drone_id, sysid, **extra)
    )
    assert response.status_code == 201, response.text
    # A window may not start in the past: take "now" after the registration.
    start = datetime.now(UTC) + timedelta(seconds=lead_s)
    response = server.post(
        "operator",
        "/api/v1/bookings",
        json={
            "site_id": SITE,
            "drone_id": drone_id,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=minutes)).isoformat(),
            "corridor_id": corridor,
            "takeoff_pad_id": pad,
            "landing_pad_id": pad,
        },
    )
    assert response.status_code == 201, response.text
    booking_id = int(response.json()["id"])
    approved = server.post("site_admin", f"/api/v1/bookings/{booking_id}/approve")
    assert approved.status_code == 200, approved.text
    return booking_id


@dataclass
class LiveRecorder:
    """Every frame of one ``/ws/live`` connection, read in a background thread."""

    url: str
    token: str
    frames: list[dict[str, Any]] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[dict[str, Any]]:
        """Return a copy of the frames so far."""
        with self._lock:
            return list(self.frames)

    def events(self, **match: Any) -> list[dict[str, Any]]:
        """Return the ``event`` payloads whose fields equal ``match``."""
        return [
            f["event"]
            for f in self.snapshot()
            if f.get("type") == "event"
            and all(f["event"].get(k) == v for k, v in match.items())
        ]

    def vehicles(self, sysid: int) -> list[tuple[float, dict[str, Any]]]:
        """Return ``(frame t_s, vehicle)`` for every report of ``sysid``, each as a
        client holds it then: merged over the reports before it of the same key (a
        motion row carries only what telemetry changes)."""
        held: dict[str, dict[str, Any]] = {}
        out: list[tuple[float, dict[str, Any]]] = []
        suffix = f"/{sysid}"
        for f in self.snapshot():
            if f.get("type") != "vehicles":
                continue
            for v in vehicle_entries(f):
                key = str(v.get("key", ""))
                if key.endswith(suffix):
                    held[key] = merged = {**held.get(key, {}), **v}
                    out.append((float(f["t_s"]), merged))
        return out

    def wait_for(
        self, wanted: Callable[[dict[str, Any]], bool], timeout_s: float
    ) -> dict[str, Any]:
        """Return the first frame for which ``wanted`` is true; fail after timeout."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        while True:
            frames = self.snapshot()
            for frame in frames[seen:]:
                if wanted(frame):
                    return frame
            seen = len(frames)
            if self.error is not None:
                raise AssertionError(f"the live stream failed: {self.error!r}")
            if time.monotonic() > deadline:
                kinds = [f.get("type") for f in frames[-20:]]
                raise AssertionError(
                    f"no such frame in {timeout_s} s; last frames: {kinds}"
                )
            time.sleep(0.05)

    async def _read(self) -> None:
        async with connect_live(self.url, self.token, max_size=None) as ws:
            self.connected.set()
            while not self._stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.2)
                except TimeoutError:
                    continue
                frame = orjson.loads(raw)
                with self._lock:
                    self.frames.append(frame)

    def _run(self) -> None:
        try:
            asyncio.run(self._read())
        except ConnectionClosed as exc:
            if not self._stop.is_set():
                self.error = exc
        except BaseException as exc:  # reported by wait_for and the test
            self.error = exc
        finally:
            self.connected.set()

    @classmethod
    @contextmanager
    def running(
        cls, url: str, token: str, timeout_s: float = 10.0
    ) -> Iterator[LiveRecorder]:
        """Yield a recorder connected to ``url`` with ``token``; disconnect after."""
        recorder = cls(url, token)
        thread = threading.Thread(target=recorder._run, daemon=True)
        thread.start()
        try:
            if not recorder.connected.wait(timeout_s) or recorder.error is not None:
                raise AssertionError(f"cannot connect to {url}: {recorder.error!r}")
            yield recorder
        finally:
            recorder._stop.set()
            thread.join(timeout=5)


@dataclass(frozen=True)
class SimulatorRun:
    """How a simulator subprocess ended."""

    returncode: int
    output: str
    wall_s: float


def simulator_env() -> dict[str, str]:
    """The environment of a simulator (or server) subprocess: this checkout only."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(SOURCE_ROOT),
        "COLUMNS": "200",
    }


def run_simulator(
    args: Sequence[str], log_path: Path, timeout_s: float
) -> SimulatorRun:
    """Run ``python -m simulator ARGS`` to its end; kill it after ``timeout_s``."""
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator", *args],
            cwd=SOURCE_ROOT,
            env=simulator_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(
                f"the simulator ran over {timeout_s} s:\n"
                + log_path.read_text(errors="replace")[-3000:]
            ) from None
    return SimulatorRun(
        returncode,
        log_path.read_text(errors="replace"),
        time.monotonic() - started,
    )
