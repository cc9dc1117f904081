"""A fleet of simulated drones on one clock: physics ticks in, MAVLink frames out.

Pure and deterministic: ``step(wall_s)`` advances simulated time by one tick and
returns the frames every drone sends in it; ``receive(msg, wall_s)`` returns the
answers to one decoded message. ``wall_s`` only stamps signatures; simulated time
(``t_s``, seconds since the start) drives everything else, so the same specs and
seed give the same flights however fast they are run.

Each drone is updated once per position sample (``1 / rate_hz`` seconds, in physics
steps of at most ``MAX_PHYSICS_DT_S``) and sends its GLOBAL_POSITION_INT and any
other message then due. The fleet ticks ``spread`` times per sample (at least
``MIN_TICK_HZ``) and updates a different share of the drones on each tick, so its
traffic is even rather than one burst per sample. The positions of one tick are
projected to lon/lat in a single call. With ``gcs_heartbeat`` the fleet's link also
carries a ground station's 1 Hz heartbeat (system 255, not a vehicle), as a
pilot's MAVProxy forwarding the autopilot does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from airspace.site import Site
from simulator import mavlink_out
from simulator.boot import GCS_COMPID, GCS_SYSID, GroundStationBeat
from simulator.drone import DroneSpec, SimDrone
from simulator.errors import FleetError
from simulator.kinematics import Wind

MIN_TICK_HZ = 50.0
"""Ticks per second at least: the fleet's traffic is spread over them."""
MAX_PHYSICS_DT_S = 0.1
MAX_RATE_HZ = 100.0
_GOLDEN = 0.6180339887498949


class Fleet:
    """Every simulated drone of one run."""

    def __init__(
        self,
        site: Site,
        specs: Sequence[DroneSpec],
        *,
        rate_hz: float = 10.0,
        seed: int = 0,
        mavlink1: bool = False,
        gnss_noise_m: float = 0.5,
        wind: Wind | None = None,
        repeat: bool = False,
        gcs_heartbeat: bool = False,
    ) -> None:
        if not (math.isfinite(rate_hz) and 0.1 <= rate_hz <= MAX_RATE_HZ):
            raise FleetError(f"position rate must be 0.1-{MAX_RATE_HZ:g} Hz")
        if not specs:
            raise FleetError("the fleet has no drones")
        self.site = site
        self.sample_dt_s = 1.0 / rate_hz
        self.spread = max(1, math.ceil(MIN_TICK_HZ / rate_hz - 1e-9))
        self.dt_s = self.sample_dt_s / self.spread
        self.physics_steps = max(
            1, math.ceil(self.sample_dt_s / MAX_PHYSICS_DT_S - 1e-9)
        )
        self.physics_dt_s = self.sample_dt_s / self.physics_steps
        self.tick = 0
        self.gcs: GroundStationBeat | None = (
            GroundStationBeat() if gcs_heartbeat else None
        )
        self._gcs_encoder = mavlink_out.Encoder(
            GCS_SYSID, GCS_COMPID, mavlink1=mavlink1
        )
        self.drones = [
            SimDrone(
                spec,
                site,
                seed=seed * 1_000_003 + index,
                phase=(index * _GOLDEN) % 1.0,
                mavlink1=mavlink1,
                gnss_noise_m=gnss_noise_m,
                wind=wind,
                repeat=repeat,
                link_id=index % 256,
            )
            for index, spec in enumerate(specs)
        ]

    @property
    def t_s(self) -> float:
        """Return simulated seconds since the start."""
        return self.tick * self.dt_s

    @property
    def flying(self) -> int:
        """Return how many drones are armed."""
        return sum(d.flying for d in self.drones)

    @property
    def done(self) -> bool:
        """Return True when every drone has landed for good."""
        return all(d.done(self.t_s) for d in self.drones)

    def step(self, wall_s: float) -> list[bytes]:
        """Advance one tick; return the frames sent during it, in drone order."""
        self.tick += 1
        t_s = self.t_s
        plans: list[tuple[SimDrone, list[str], int]] = []
        points: list[tuple[float, float]] = []
        for index in range(self.tick % self.spread, len(self.drones), self.spread):
            drone = self.drones[index]
            start_s = t_s - self.sample_dt_s
            for k in range(self.physics_steps):
                drone.advance(start_s + k * self.physics_dt_s, self.physics_dt_s)
            names = drone.schedule(t_s, position_due=True)
            if names:
                fixes = drone.fixes(names)
                plans.append((drone, names, len(fixes)))
                points += fixes
        frames: list[bytes] = []
        if points:
            xs, ys = zip(*points, strict=True)
            lons, lats = self.site.projection.to_lonlat(xs, ys)
            offset = 0
            for drone, names, count in plans:
                lonlats = [
                    (float(lons[i]), float(lats[i]))
                    for i in range(offset, offset + count)
                ]
                offset += count
                frames += drone.emit(t_s, wall_s, names, lonlats)
        for drone in self.drones:
            frames += drone.poll(t_s, wall_s)
        if self.gcs is not None:
            frames += [self._gcs_encoder.encode(m, wall_s) for m in self.gcs.due(t_s)]
        return frames

    def fly_ahead(self, index: int) -> Iterator[float]:
        """Fly drone ``index`` alone, as ``step`` would, one position sample at a
        time; yield the simulated time after each (read ``drones[index]`` then).

        Nothing is sent and no other drone moves: for a twin of a fleet that looks
        ahead at where a drone will be (physics draws no random numbers, so the
        twin flies exactly the path of the real run, commands from outside apart).
        Endless; the caller stops.
        """
        drone = self.drones[index]
        while True:
            self.tick += 1
            if self.tick % self.spread != index % self.spread:
                continue
            start_s = self.t_s - self.sample_dt_s
            for k in range(self.physics_steps):
                drone.advance(start_s + k * self.physics_dt_s, self.physics_dt_s)
            yield self.t_s

    def receive(self, msg: Any, wall_s: float) -> list[bytes]:
        """Return every drone's answer to ``msg`` (a decoded pymavlink message)."""
        frames: list[bytes] = []
        for drone in self.drones:
            if drone.wants(msg):
                frames += drone.receive(msg, self.t_s, wall_s)
        return frames

    def by_sysid(self, sysid: int) -> SimDrone:
        """Return the genuine (non-spoofing) drone sending as ``sysid``."""
        for drone in self.drones:
            if drone.sysid == sysid and not drone.spec.spoofer:
                return drone
        raise KeyError(f"no drone with system id {sysid}")
