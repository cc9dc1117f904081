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
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from airspace.errors import AirspaceError
from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator.assignments import (
    DroneEntry,
    booking_entries,
    build_specs,
    merge_entries,
    site_entries,
)
from simulator.bookings_api import SkyBerthApi
from simulator.drone import DroneSpec
from simulator.errors import FleetError, SimulatorError
from simulator.fleet import Fleet
from simulator.kinematics import Wind
from simulator.links import parse_endpoint
from simulator.runner import RunOptions, RunStats, run_fleet, run_replay
from simulator.scenario_file import ScenarioFile, load_scenario_file, parse_key_hex
from simulator.scenarios import ScenarioSpec, describe_scenarios, parse_spec
from simulator.tlog import read_tlog

DEFAULT_ENDPOINT = "udpout:127.0.0.1:14550"
DEFAULT_DRONES = 3
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
            "booked drones, default all).",
            min=1,
            max=255,
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
) -> None:
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
            _summary(stats, options)
            return
        plan = _FleetChoice(
            drones=drones,
            scenarios=tuple(parse_spec(s) for s in scenario or ()),
            file=load_scenario_file(scenario_file) if scenario_file else None,
            site=site,
            api=api,
            token=token,
            site_id=site_id,
            corridor=corridor,
            keys=_keys(signing_key or []),
            intruders=intruders,
            laps=laps,
            sysid_base=sysid_base,
            horizon=timedelta(seconds=duration_s) if duration_s else BOOKING_HORIZON,
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
            if options.duration_s is None and file.duration_s is not None:
                options = replace(options, duration_s=file.duration_s)
        wind = Wind.from_direction(wind_mps or 0.0, wind_from_deg or 0.0)
        fleet = Fleet(
            the_site,
            specs,
            rate_hz=rate_hz,
            seed=seed or 0,
            mavlink1=mavlink1,
            gnss_noise_m=gnss_noise_m,
            wind=wind,
            repeat=repeat,
        )
    except (SimulatorError, AirspaceError, ValueError) as exc:
        _echo(f"error: {exc}")
        raise typer.Exit(2) from None
    _echo(
        f"site {the_site.id}: {len(specs)} drone(s) to {_where(options)} at x{speed:g}"
    )
    for spec in specs:
        _echo(f"  {spec.label}{' (signed)' if spec.signing_key else ''}")
    try:
        stats = _run(lambda stop: run_fleet(fleet, options, stop=stop, progress=_echo))
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
    "(--signing-key SYSID:HEX).",
    "Scenarios (--scenario NAME@DRONES:KEY=VALUE,... composable; at_s is seconds "
    "after that drone's take-off; DRONES are 1-based fleet positions like 2 or 1+3, "
    "default all):",
    describe_scenarios(),
    "A scenario file (--scenario-file, TOML) scripts drones and times: top-level "
    "seed, duration_s, wind_mps, wind_from_deg and scenarios (a list like "
    "--scenario's); then one \\[\\[drones]] table per drone with sysid, corridor, "
    "pad, landing_pad, takeoff_at_s, laps, signing_key_hex and scenarios, e.g. "
    "scenarios = \\[\"link_loss\", {name = \"lateral_drift\", at_s = 30}].",
    "--record FILE.tlog writes every frame sent (stamped with the simulated clock); "
    "--replay FILE.tlog sends a recorded tlog instead. Ctrl-C stops cleanly.",
    "Example: skyberth sim --drones 3 --to udpout:127.0.0.1:14550 --scenario "
    "lateral_drift@2 --speed 5",
)
sim.__doc__ = "\n\n".join(_HELP_PARAGRAPHS)


class _FleetChoice:
    """Works out the site and the drone specs from the command's options."""

    def __init__(
        self,
        *,
        drones: int | None,
        scenarios: tuple[ScenarioSpec, ...],
        file: ScenarioFile | None,
        site: Path | None,
        api: str | None,
        token: str | None,
        site_id: str | None,
        corridor: str | None,
        keys: dict[int, bytes],
        intruders: int,
        laps: int | None,
        sysid_base: int,
        horizon: timedelta,
    ) -> None:
        self.drones = drones
        self.scenarios = scenarios
        self.file = file
        self.site_path = site
        self.api = api
        self.token = token
        self.site_id = site_id
        self.corridor = corridor
        self.keys = keys
        self.intruders = intruders
        self.laps = laps
        self.sysid_base = sysid_base
        self.horizon = horizon

    def build(self) -> tuple[Site, list[DroneSpec]]:
        file_specs = self.file.scenarios if self.file else ()
        file_drones = list(self.file.drones) if self.file else []
        registered: dict[int, bool] = {}
        if self.api is not None:
            if self.corridor is not None:
                raise FleetError(
                    "--corridor is for site files; bookings name corridors"
                )
            client = SkyBerthApi(self.api, self.token or "")
            site_id = self.site_id or self._only_site(client)
            site = load_site(self.site_path) if self.site_path else client.site(site_id)
            if site.id != site_id:
                raise FleetError(
                    f"--site is site {site.id}, the bookings are of {site_id}"
                )
            registered_drones = client.drones(site_id)
            registered = {d.sysid: d.signed for d in registered_drones}
            now = datetime.now(UTC)
            booked = booking_entries(
                client.approved_bookings(site_id, now, self.horizon),
                registered_drones,
                now,
            )
            if self.drones is not None:
                booked = booked[: self.drones]
            entries = merge_entries(booked, file_drones)
            self._warn_unsigned(entries, registered)
            if not entries and not self.intruders:
                raise FleetError(
                    f"no approved booking of site {site_id} in the next "
                    f"{self.horizon} and no drones in the scenario file"
                )
        else:
            site = load_site(self.site_path or demo_site_path())
            if file_drones:
                if self.drones is not None:
                    raise FleetError(
                        "give --drones or [[drones]] in the scenario file, not both"
                    )
                entries = file_drones
            else:
                entries = site_entries(
                    site,
                    self.drones or DEFAULT_DRONES,
                    sysid_base=self.sysid_base,
                    corridor_id=self.corridor,
                )
        specs = build_specs(
            site,
            entries,
            scenario_specs=(*file_specs, *self.scenarios),
            keys=self.keys,
            registered=registered,
            intruders=self.intruders,
            laps=self.laps,
        )
        return site, specs

    @staticmethod
    def _only_site(client: SkyBerthApi) -> str:
        ids = client.site_ids()
        if len(ids) != 1:
            raise FleetError(
                f"the server serves {len(ids)} sites ({', '.join(ids) or 'none'}): "
                "choose one with --site-id"
            )
        return ids[0]

    def _warn_unsigned(
        self, entries: list[DroneEntry], registered: dict[int, bool]
    ) -> None:
        for entry in entries:
            if entry.sysid is None or not registered.get(entry.sysid):
                continue
            if entry.signing_key is None and entry.sysid not in self.keys:
                _echo(
                    f"warning: drone with sysid {entry.sysid} is registered with a "
                    "signing key, but none was given (--signing-key SYSID:HEX): its "
                    "unsigned frames will be rejected"
                )


def _keys(texts: list[str]) -> dict[int, bytes]:
    keys: dict[int, bytes] = {}
    for text in texts:
        sysid_text, sep, key_hex = text.partition(":")
        if not sep or not sysid_text.strip().isdigit():
            raise FleetError(f"--signing-key {text!r}: write SYSID:HEX")
        sysid = int(sysid_text)
        if not 1 <= sysid <= 255:
            raise FleetError(f"--signing-key {text!r}: sysid must be 1-255")
        keys[sysid] = parse_key_hex(key_hex, f"--signing-key for sysid {sysid}")
    return keys


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


def _summary(stats: RunStats, options: RunOptions) -> None:
    how = "stopped" if stats.stopped else "finished"
    line = (
        f"{how} after {stats.sim_s:.1f} s simulated ({stats.wall_s:.1f} s wall): "
        f"sent {stats.frames_sent:,} frames, dropped {stats.frames_dropped:,}, "
        f"received {stats.messages_received:,} messages"
    )
    if options.record is not None:
        line += f"; recorded {stats.frames_recorded:,} frames to {options.record}"
    _echo(line)
