"""``skyberth sim``: simulated drones that fly corridors and speak real MAVLink.

The command function ``sim`` is registered by ``web/cli.py``; ``python -m simulator``
runs it on its own. Everything it needs from SkyBerth comes over HTTP (``--api``)
or from a site file; telemetry goes out over sockets only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from shapely.geometry import LineString

from airspace.errors import AirspaceError
from airspace.site import Site
from simulator.crossing import plan_crossing
from simulator.errors import SimulatorError
from simulator.fleet import Fleet
from simulator.fleet_source import FleetSource, parse_signing_keys
from simulator.kinematics import Wind
from simulator.links import parse_endpoint
from simulator.recordings import read_tlog
from simulator.runner import RunOptions, RunStats, run_fleet, run_replay
from simulator.scenario_file import load_scenario_file
from simulator.scenarios import describe_scenarios, parse_spec
from simulator.selection import Selection, parse_shard, parse_sysids
from simulator.vessels import (
    ScriptedVessel,
    crossing_vessel,
    harbour_vessels,
    send_ais,
)

DEFAULT_ENDPOINT = "udpout:127.0.0.1:14550"
BOOKING_HORIZON = timedelta(hours=24)

log = logging.getLogger(__name__)


def _echo(text: str) -> None:
    typer.echo(text, err=True)


def sim(
    drones: Annotated[
        int | None,
        typer.Option(
            "--drones",
            "-n",
            help="How many drones (site file: default 3; with --api: the first N "
            "booked drones of the selection, default all).",
            min=1,
            max=255,
        ),
    ] = None,
    sysids: Annotated[
        str | None,
        typer.Option(
            help="Fly only these system ids, e.g. 1-3,7 (booked or site-file drones).",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="K/N: fly only the drones with (sysid - 1) % N == K - 1, so N runs "
            "(e.g. one per gateway) share a booked fleet without overlap.",
        ),
    ] = None,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            help="Where to send MAVLink, repeatable: udpout:HOST:PORT, tcp:HOST:PORT "
            "(connect) or tcpin:HOST:PORT (listen). Default udpout:127.0.0.1:14550.",
        ),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            "-s",
            help="NAME@DRONES:KEY=VALUE,... repeatable, e.g. lateral_drift@2:at_s=30 "
            "(@DRONES and parameters optional; default nominal for all).",
        ),
    ] = None,
    scenario_file: Annotated[
        Path | None,
        typer.Option(
            help="TOML file scripting drones, times and scenarios.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    site: Annotated[
        Path | None,
        typer.Option(
            help="Site file to fly (default: the demo site, or the server's site "
            "with --api).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    api: Annotated[
        str | None,
        typer.Option(
            help="SkyBerth URL, e.g. http://127.0.0.1:8000: fly its approved bookings."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token for --api (a safety officer's or site admin's sees "
            "every drone).",
            envvar="SKYBERTH_TOKEN",
        ),
    ] = None,
    site_id: Annotated[
        str | None,
        typer.Option(help="Site id for --api when the server serves several."),
    ] = None,
    corridor: Annotated[
        str | None,
        typer.Option(help="Site file only: fly every drone in this corridor."),
    ] = None,
    rate_hz: Annotated[
        float,
        typer.Option(help="GLOBAL_POSITION_INT rate per drone.", min=0.1, max=100.0),
    ] = 10.0,
    speed: Annotated[
        float,
        typer.Option(
            help="Time scale: 10 runs ten times faster than real time.",
            min=0.01,
            max=1000.0,
        ),
    ] = 1.0,
    seed: Annotated[
        int | None, typer.Option(help="Seed for every random part (default 0).")
    ] = None,
    duration_s: Annotated[
        float | None,
        typer.Option(
            help="Stop after this many simulated seconds (default: when all landed).",
            min=0.0,
        ),
    ] = None,
    laps: Annotated[
        int | None,
        typer.Option(help="Times each corridor is flown (default 1).", min=1),
    ] = None,
    repeat: Annotated[
        bool,
        typer.Option(
            "--repeat", help="Take off again 10 s after landing, until stopped."
        ),
    ] = False,
    intruders: Annotated[
        int,
        typer.Option(help="Extra drones flying with the intruder scenario.", min=0),
    ] = 0,
    signing_key: Annotated[
        list[str] | None,
        typer.Option(
            help="SYSID:HEX (64 hex digits), repeatable: that drone signs its "
            "MAVLink 2 frames with this key.",
        ),
    ] = None,
    mavlink1: Annotated[
        bool, typer.Option("--mavlink1", help="Send MAVLink 1 instead of 2.")
    ] = False,
    wind_mps: Annotated[
        float | None, typer.Option(help="Constant wind speed (default 0).", min=0.0)
    ] = None,
    wind_from_deg: Annotated[
        float | None, typer.Option(help="Direction the wind blows from (degrees).")
    ] = None,
    gnss_noise_m: Annotated[
        float, typer.Option(help="Bound of the GNSS position noise.", min=0.0)
    ] = 0.5,
    sysid_base: Annotated[
        int,
        typer.Option(help="Site file: first system id of the fleet.", min=1, max=255),
    ] = 1,
    gcs_heartbeat: Annotated[
        bool,
        typer.Option(
            "--gcs-heartbeat",
            help="Also send a ground station's 1 Hz heartbeat (system 255, "
            "MAV_TYPE_GCS, autopilot invalid), as MAVProxy does on the same link.",
        ),
    ] = False,
    record: Annotated[
        Path | None,
        typer.Option(help="Write every frame sent to this .tlog file."),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            help="Send the frames of this .tlog (ours or any) instead of simulating, "
            "at the recorded pace times --speed.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    progress_s: Annotated[
        float,
        typer.Option(help="Seconds between progress lines on stderr.", min=0.1),
    ] = 5.0,
    ais: Annotated[
        str | None,
        typer.Option(
            help="Also send AIS (!AIVDM over UDP) for scripted vessels to HOST:PORT: "
            "a ferry on the Central-Cheung Chau line, a container ship in the "
            "fairway, a small craft near the pier.",
        ),
    ] = None,
    vessel_crossing: Annotated[
        float | None,
        typer.Option(
            help="With --ais: the vessel_crossing scenario, a ferry crossing the "
            "site's maritime corridor under the drone flying it, at this many "
            "simulated seconds after the start or, when that drone is not over "
            "the water then, as soon after as it is.",
            min=0.0,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log connections and more.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.Formatter.converter = time.gmtime  # log times are UTC
    try:
        endpoints = tuple(parse_endpoint(t) for t in (to or [DEFAULT_ENDPOINT]))
        options = RunOptions(
            endpoints=endpoints,
            speed=speed,
            duration_s=duration_s,
            record=record,
            progress_every_s=progress_s,
        )
        if replay is not None:
            records = read_tlog(replay)
            _echo(f"replaying {len(records):,} frames of {replay} to {_where(options)}")
            stats = _run(
                lambda stop: run_replay(records, options, stop=stop, progress=_echo)
            )
            _summary(stats, options, "of the tlog")
            return
        plan = FleetSource(
            drones=drones,
            scenarios=tuple(parse_spec(s) for s in scenario or ()),
            file=load_scenario_file(scenario_file) if scenario_file else None,
            site_path=site,
            api=api,
            token=token,
            site_id=site_id,
            corridor=corridor,
            keys=parse_signing_keys(signing_key or []),
            intruders=intruders,
            laps=laps,
            sysid_base=sysid_base,
            # duration_s is simulated time; bookings are looked up in real time.
            horizon=(
                timedelta(seconds=duration_s / speed) if duration_s else BOOKING_HORIZON
            ),
            warn=_echo,
            speed=speed,
            selection=Selection(
                sysids=parse_sysids(sysids) if sysids else None,
                shard=parse_shard(shard) if shard else None,
            ),
        )
        the_site, specs = plan.build()
        file = plan.file
        if file is not None:
            # The command line wins over the file, the file over the defaults.
            seed = file.seed if seed is None else seed
            wind_mps = file.wind_mps if wind_mps is None else wind_mps
            wind_from_deg = (
                file.wind_from_deg if wind_from_deg is None else wind_from_deg
            )
            gcs_heartbeat = gcs_heartbeat or bool(file.gcs_heartbeat)
            if options.duration_s is None and file.duration_s is not None:
                options = replace(options, duration_s=file.duration_s)
        wind = Wind.from_direction(wind_mps or 0.0, wind_from_deg or 0.0)

        def make_fleet() -> Fleet:
            return Fleet(
                the_site,
                specs,
                rate_hz=rate_hz,
                seed=seed or 0,
                mavlink1=mavlink1,
                gnss_noise_m=gnss_noise_m,
                wind=wind,
                repeat=repeat,
                gcs_heartbeat=gcs_heartbeat,
            )

        fleet = make_fleet()
    except (SimulatorError, AirspaceError, ValueError) as exc:
        _echo(f"error: {exc}")
        raise typer.Exit(2) from None
    _echo(
        f"site {the_site.id}: {len(specs)} drone(s) to {_where(options)} at x{speed:g}"
    )
    for spec in specs:
        _echo(f"  {spec.label}{' (signed)' if spec.signing_key else ''}")
    vessels = _vessels(the_site, ais, vessel_crossing, make_fleet)
    if ais is not None:
        _echo(f"  AIS: {len(vessels)} vessel(s) to udp {ais}")

    async def fleet_and_vessels(stop: asyncio.Event) -> RunStats:
        if ais is None:
            return await run_fleet(fleet, options, stop=stop, progress=_echo)
        host, _, port = ais.rpartition(":")
        sender = asyncio.create_task(
            # On the fleet's clock, not the wall's: when the fleet runs behind,
            # the crossing ferry still meets its drone.
            send_ais(
                (host, int(port)), vessels, stop, speed=speed, clock=lambda: fleet.t_s
            )
        )
        try:
            return await run_fleet(fleet, options, stop=stop, progress=_echo)
        finally:
            stop.set()
            await sender

    try:
        stats = _run(fleet_and_vessels)
    except (SimulatorError, OSError) as exc:
        _echo(f"error: {exc}")
        raise typer.Exit(2) from None
    _summary(stats, options)


_HELP_PARAGRAPHS = (
    "Fly simulated drones that speak real MAVLink to SkyBerth (or any ground station).",
    "Each drone has its own system id, takes off from a pad, climbs to the middle "
    "of its corridor's band, flies the corridor (a centre line out and back, or a "
    "loop inside a polygon), comes back and lands, with plausible speed, climb and "
    "turn limits, wind drift and battery drain. It sends HEARTBEAT (1 Hz), "
    "GLOBAL_POSITION_INT (--rate-hz), GPS_RAW_INT, SYS_STATUS, BATTERY_STATUS, "
    "ATTITUDE and VFR_HUD; it obeys and acknowledges COMMAND_LONG return-to-launch "
    "and land, and accepts geofences by the mission protocol "
    "(MAV_MISSION_TYPE_FENCE), then reports FENCE_STATUS.",
    "Drones come from a site file (--site, default the demo site; --drones N share "
    "its corridors) or from the approved bookings of a running server (--api URL "
    "--token T: each booked drone flies its booked corridor from its booked pad, "
    "taking off at the booking's start). Signed drones need their key "
    "(--signing-key SYSID:HEX). To split a fleet over several gateways, run one "
    "sim per gateway with --shard 1/2, --shard 2/2 (or --sysids 1-3): disjoint "
    "system ids.",
    "Scenarios (--scenario NAME@DRONES:KEY=VALUE,... composable; at_s is seconds "
    "after that drone's take-off; DRONES are 1-based fleet positions like 2 or 1+3, "
    "default all):",
    describe_scenarios(),
    "A scenario file (--scenario-file, TOML) scripts drones and times: top-level "
    "seed, duration_s, wind_mps, wind_from_deg, gcs_heartbeat and scenarios "
    "(a list like --scenario's); then one \\[\\[drones]] table per drone with "
    "sysid, corridor, pad, landing_pad, takeoff_at_s, laps, signing_key_hex and "
    "scenarios, e.g. "
    'scenarios = \\["link_loss", {name = "lateral_drift", at_s = 30}].',
    "--gcs-heartbeat (or gcs_heartbeat = true in the file) adds a ground "
    "station's heartbeat, system 255, to the link; the pre_fix scenario makes a "
    "drone boot as ArduPilot does (params and status texts, no position) first.",
    "--record FILE.tlog writes every frame sent (stamped with the simulated clock); "
    "--replay FILE.tlog sends a recorded tlog instead. Ctrl-C stops cleanly.",
    "Example: skyberth sim --drones 3 --to udpout:127.0.0.1:14550 --scenario "
    "lateral_drift@2 --speed 5",
)
sim.__doc__ = "\n\n".join(_HELP_PARAGRAPHS)


def _vessels(
    the_site: Site,
    ais: str | None,
    crossing_at_s: float | None,
    make_fleet: Callable[[], Fleet],
) -> list[ScriptedVessel]:
    """The scripted vessels for ``--ais`` (none without it).

    The crossing ferry aims at the drone flying the maritime corridor (a twin of
    the fleet, from ``make_fleet``, flies ahead to find where it will be); with no
    such drone it crosses the corridor's first over-water segment at the time.
    """
    if ais is None:
        return []
    host, _, port = ais.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("expected HOST:PORT", param_hint="--ais")
    vessels = harbour_vessels()
    if crossing_at_s is None:
        return vessels
    crossing = plan_crossing(make_fleet(), crossing_at_s)
    if crossing is not None:
        lon, lat = crossing.lonlat
        _echo(
            f"  vessel_crossing: under {crossing.drone} at {crossing.at_s:.0f} s "
            f"({lat:.5f}, {lon:.5f}), heading {crossing.heading_deg:.0f} deg"
        )
        vessels.append(
            crossing_vessel(crossing.lonlat, crossing.at_s, crossing.heading_deg)
        )
        return vessels
    point = maritime_crossing_point(the_site)
    if point is None:
        raise typer.BadParameter(
            f"site {the_site.id} has no corridor over water",
            param_hint="--vessel-crossing",
        )
    _echo("  vessel_crossing: no drone over the maritime corridor's water to aim at")
    vessels.append(crossing_vessel(point, crossing_at_s))
    return vessels


def maritime_crossing_point(the_site: Site) -> tuple[float, float] | None:
    """(lon, lat) mid-way along the first over-water segment of a corridor."""
    for corridor in the_site.corridors:
        line = corridor.geometry_lonlat
        if not corridor.over_water or not isinstance(line, LineString):
            continue
        i = corridor.over_water_segments[0] if corridor.over_water_segments else 0
        (ax, ay), (bx, by) = line.coords[i], line.coords[i + 1]
        return (ax + bx) / 2, (ay + by) / 2
    return None


def _where(options: RunOptions) -> str:
    return ", ".join(str(e) for e in options.endpoints)


def _run(
    make: Callable[[asyncio.Event], Coroutine[Any, Any, RunStats]],
) -> RunStats:
    """Run ``make(stop)`` on a fresh loop; Ctrl-C or SIGTERM set ``stop``."""

    async def main() -> RunStats:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        task = asyncio.current_task()
        installed = []

        def on_signal() -> None:
            if stop.is_set() and task is not None:
                task.cancel()  # a second Ctrl-C: stop now
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            # Not in the main thread, or an event loop without signal support
            # (Windows): Ctrl-C then ends the run through KeyboardInterrupt.
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)
        try:
            return await make(stop)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    try:
        return asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        return RunStats(stopped=True)


def _summary(stats: RunStats, options: RunOptions, what: str = "simulated") -> None:
    how = "stopped" if stats.stopped else "finished"
    line = (
        f"{how} after {stats.sim_s:.1f} s {what} ({stats.wall_s:.1f} s wall): "
        f"sent {stats.frames_sent:,} frames, dropped {stats.frames_dropped:,}, "
        f"received {stats.messages_received:,} messages"
    )
    if options.record is not None:
        line += f"; recorded {stats.frames_recorded:,} frames to {options.record}"
    _echo(line)
