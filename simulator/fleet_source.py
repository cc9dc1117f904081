"""Where a fleet comes from: a site file, or the approved bookings of a server.

``FleetSource.build()`` returns the site and the drone specs to fly, from the
command line's choices; every refusal is a ``SimulatorError`` naming the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from simulator.errors import FleetError
from simulator.scenario_file import ScenarioFile, parse_key_hex
from simulator.scenarios import ScenarioSpec
from simulator.selection import Selection

DEFAULT_DRONES = 3


@dataclass(frozen=True)
class FleetSource:
    """Works out the site and the drone specs from what the user gave.

    With ``api``: the server's site (or ``site`` when given, which must be the
    same site) and its approved bookings over ``horizon``, plus the scenario
    file's drones; otherwise the site file (default: the demo site) with the
    file's drones or ``drones`` drones sharing its corridors.
    """

    drones: int | None
    scenarios: tuple[ScenarioSpec, ...]
    file: ScenarioFile | None
    site_path: Path | None
    api: str | None
    token: str | None
    site_id: str | None
    corridor: str | None
    keys: dict[int, bytes]
    intruders: int
    laps: int | None
    sysid_base: int
    horizon: timedelta
    warn: Callable[[str], None]
    speed: float = 1.0
    """The run's time scale; booking times (real) become simulated times with it."""
    selection: Selection = field(default_factory=Selection)
    """Which drones of the fleet this run flies (``--sysids``, ``--shard``), chosen
    before ``drones`` caps their number."""

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
                speed=self.speed,
            )
            booked = self.selection.apply(booked)
            if self.drones is not None:
                booked = booked[: self.drones]
            entries = merge_entries(booked, self.selection.apply(file_drones))
            self._warn_unsigned(entries, registered)
            if not entries and not self.intruders:
                chosen = f" for {self.selection.describe()}" if self.selection else ""
                raise FleetError(
                    f"no approved booking of site {site_id}{chosen} in the next "
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
            entries = self.selection.apply(entries)
            if not entries and not self.intruders:
                raise FleetError(f"{self.selection.describe()} leaves no drone to fly")
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
                self.warn(
                    f"warning: drone with sysid {entry.sysid} is registered with a "
                    "signing key, but none was given (--signing-key SYSID:HEX): its "
                    "unsigned frames will be rejected"
                )


def parse_signing_keys(texts: list[str]) -> dict[int, bytes]:
    """Return keys by system id from ``SYSID:HEX`` texts; FleetError if malformed."""
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
