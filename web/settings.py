"""SkyBerth's one settings object, read from ``SKYBERTH_*`` environment variables.

Every setting has a working embedded default, so a fresh checkout runs without any
configuration: SQLite in the user's data directory, the demo site, MAVLink on UDP
14550 and HTTP on 127.0.0.1:8000. The token secret fails closed: the public
development key is used only when a development or test run is asked for
(``SKYBERTH_ENV=dev`` or ``test``); otherwise an empty ``secret_key`` means the
private key kept in the data directory (``web/secret_key.py``) and the public one
is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import socket
from datetime import time
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from airspace.hk_grid import MpdReference
from airspace.site_files import demo_site_path
from booking.audit_heads import AuditSeal
from booking.rules import SitePolicy
from telemetry.mavlink.sender_filter import parse_networks

DEV_SECRET = "dev-insecure-secret-change-me-before-prod"
"""The public development key: long enough for HS256 (32 bytes); only ``dev`` and
``test`` runs may sign with it, since anyone can read it in the source."""
DEVELOPMENT_ENVS = frozenset({"dev", "test"})
MIN_SECRET_BYTES = 32


def default_data_dir() -> Path:
    """Return the per-user data directory (``$XDG_DATA_HOME/skyberth``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "skyberth"


class Settings(BaseSettings):
    """All of SkyBerth's configuration; env prefix ``SKYBERTH_``."""

    model_config = SettingsConfigDict(env_prefix="SKYBERTH_", env_file=None)

    env: Literal["dev", "test", "prod"] = "prod"
    """``dev``/``test`` ask for a development run (public token key allowed)."""
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    """SQLAlchemy URL; empty means SQLite at ``data_dir/skyberth.sqlite3``."""
    site_files: list[Path] = Field(default_factory=lambda: [demo_site_path()])
    """Site files (GeoJSON, KML or GeoPackage) served by this instance."""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    mavlink: list[str] = Field(default_factory=lambda: ["udpin:0.0.0.0:14550"])
    """MAVLink endpoints the gateway listens on or connects to; empty: no gateway
    links (the live stream still serves bookings and events)."""
    forward: list[str] = Field(default_factory=list)
    """Forward targets (``--forward``): a ground station behind SkyBerth gets every
    frame of the MAVLink links, and its frames go back to them (README, "Sharing
    the link")."""
    mavlink_talk: list[str] = Field(default_factory=list)
    """``mavlink`` endpoints SkyBerth may talk on unasked: its GCS heartbeat and
    telemetry-rate requests (only where no other ground station is heard). Empty:
    none; fences and safety commands are sent whenever someone asks."""
    gcs_sysid: int = Field(default=245, ge=1, le=255)
    """SkyBerth's own MAVLink system id (fences, commands, heartbeats)."""
    mavlink_allow: list[str] = Field(default_factory=list)
    """Networks (CIDR) MAVLink listeners accept senders from; empty: any sender
    (the ground-station convention). Others are refused and counted per link."""
    ais: list[str] = Field(default_factory=list)
    """AIS (NMEA 0183 AIVDM) endpoints: ``udpin:HOST:PORT`` or ``tcp:HOST:PORT``;
    empty: no vessels (docs/ais.md)."""
    ais_stale_s: float = Field(default=360.0, gt=0)
    """A vessel not heard this long leaves the picture (a Class A vessel at anchor
    reports every 3 min, static data every 6 min)."""
    vessel_warn_dcpa_m: float = Field(default=150.0, gt=0)
    vessel_breach_m: float = Field(default=50.0, gt=0)
    vessel_max_height_m: float = Field(default=80.0, gt=0)
    """Vessel check limits; reasons in ``airspace.vessel_proximity.ProximityLimits``."""
    telemetry_tick_ms: int = Field(default=20, ge=5, le=1000)
    """How often the gateway checks conformance and sends events."""
    live_interval_ms: int = Field(default=200, ge=0, le=5000)
    """``vehicles`` frames go to live viewers at most this often (0: every tick);
    events never wait for it."""
    link_lost_s: float = Field(default=3.0, gt=0)
    """A vehicle silent this long raises ``link_lost``."""
    low_battery_pct: int = Field(default=20, ge=0, le=100)
    landed_end_s: float = Field(default=60.0, gt=0)
    """An active booking is completed once its drone has been landed and disarmed
    this long (a shorter touch-and-go keeps it active)."""
    fence_upload_lead_min: float = Field(default=0.0, ge=0)
    """Approved bookings' fences go to their connected drones this long before the
    window opens (and during it); 0 (the default, until sites have enabled their
    aircraft's fences on purpose): only by hand (the bookings page, the API)."""
    retention_days: int = Field(default=90, ge=1)
    """Track samples and ``.tlog`` recordings older than this are deleted."""
    tlog_budget_mb: int = Field(default=20_480, ge=1)
    """Disk budget of the ``.tlog`` recordings (MiB); past it raw frames are not
    recorded (logged once; incidents and tracks still are)."""
    unregistered_vehicles_per_link: int = Field(default=16, ge=0, le=256)
    """Sysids no drone is registered with, tracked at once per MAVLink link."""
    unregistered_tlog_mb: float = Field(default=8.0, ge=0)
    """Raw-frame recording per unregistered vehicle (MiB)."""
    unregistered_track_rows: int = Field(default=3600, ge=0)
    """Replay positions stored per unregistered vehicle."""
    unregistered_incidents_per_min: int = Field(default=6, ge=0)
    """Incidents opened a minute for a link's unregistered vehicles."""
    opening_hours: str = Field(
        default="07:00-19:00",
        pattern=r"^(24h|([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d)$",
    )
    """Site-local hours in which bookings may lie (``HH:MM-HH:MM``), or ``24h``."""
    tile_url: str = ""
    """Opt-in online tile layer (e.g. ``https://tile.openstreetmap.org/{z}/{x}/{y}.png``);
    empty keeps the map offline on the packaged coastline."""
    tile_attribution: str = ""
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """Request bodies larger than this are refused with 413 while they stream in."""
    booking_quota: int = Field(default=100, ge=1)
    """Bookings one operator may hold pending or approved within the booking
    horizon; one more is refused with 409 (rule ``booking_quota``)."""
    mpd_offset_m: dict[str, float] = Field(default_factory=dict)
    """Per site id, the surveyed offset from the drones' reported height (m AMSL)
    to mPD: mPD = reported + offset. JSON, e.g. ``{"cyberport-pier": 1.31}``.
    A site in neither this nor ``mpd_geoid_grid`` gets the approximate +1.23."""
    mpd_benchmark: dict[str, str] = Field(default_factory=dict)
    """Per site id, the benchmark the offset was surveyed at (shown with mPD)."""
    mpd_geoid_grid: dict[str, Path] = Field(default_factory=dict)
    """Per site id, a grid file (GTX/GeoTIFF) whose value is added to the reported
    height to give mPD (``airspace.hk_grid``); wins over ``mpd_offset_m``."""
    require_cad_registration: bool = False
    """Refuse bookings of drones over 250 g without a CAD registration mark or a
    remote pilot registration (409, rules ``drone_registration`` and
    ``pilot_registration``). Expired registrations are refused regardless."""
    require_verified_fence: bool = False
    """Every site as if its file said ``require_verified_fence``: a booking whose
    fence on the aircraft is ``mismatch`` or ``refused`` does not become active."""
    secret_key: str = ""
    """HS256 key for tokens. Empty: the public key in ``dev``/``test``; in ``prod``
    the key in ``data_dir/secret_key``, generated (mode 0600) on first start."""
    audit_key: str = ""
    """HMAC key of the audit chain (docs/audit.md); never stored in the database.
    Empty: derived from ``secret_key``. Set it apart to rotate token keys freely."""
    token_ttl_min: int = Field(default=60, ge=1)
    session_check_s: float = Field(default=1.0, gt=0, le=60)
    """How often an open live socket re-checks its user: a revoked token (new
    password, disabled user) is closed within this time."""
    login_limits: str = "5/minute;30/hour"
    """Failed logins allowed per user name (``limits`` notation; the longer window
    is the back-off after the first is used up)."""
    login_limits_per_address: str = "20/minute;200/hour"
    """Failed logins allowed per client address."""
    password_checks_at_once: int = Field(default=2, ge=1, le=64)
    """Argon2 hashes computed at the same time (each takes ~50 ms and 64 MiB)."""
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line, for log collectors."""
    # -- scale-out (docs/bus.md) --
    bus_url: str = Field(default="", pattern=r"^((nats|tls)://\S+)?$")
    """Live bus between processes: empty = in process (one process does it all);
    ``nats://HOST:4222`` = NATS with JetStream."""
    role: Literal["all", "gateway", "web"] = "all"
    """What this process runs: ``all`` (``skyberth serve``), ``gateway`` (MAVLink,
    conformance, recorder; publishes to the bus) or ``web`` (API, pages, live
    stream from the bus). ``gateway`` and ``web`` need ``bus_url``."""
    node_name: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    """This process's name on the bus (its durable event consumer); unique per
    process. Empty: ``<role>-<host>-<http port>``."""
    deployment: str = Field(default="skyberth", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    """This installation's name on a shared NATS: the subject prefix
    (``<deployment>.<site>.…``) and the event stream (``<DEPLOYMENT>_EVENTS``).
    Every process of one installation uses the same; two installations (two
    sites, staging and production) sharing a NATS cluster each use their own."""

    @field_validator("mavlink_allow")
    @classmethod
    def _networks_parse(cls, cidrs: list[str]) -> list[str]:
        parse_networks(cidrs)  # ValueError names the bad one
        return cidrs

    @model_validator(mode="after")
    def _need_a_bus_to_split(self) -> Self:
        if self.role != "all" and not self.bus_url:
            raise ValueError(
                f"SKYBERTH_ROLE={self.role} needs SKYBERTH_BUS_URL=nats://HOST:PORT "
                "(processes share live frames through NATS)"
            )
        return self

    @property
    def effective_node_name(self) -> str:
        """``node_name``, or one made of the role, host name and HTTP port."""
        if self.node_name:
            return self.node_name
        host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40]
        return f"{self.role}-{host}-{self.http_port}"

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Self:
        if self.env in DEVELOPMENT_ENVS:
            if not self.secret_key:
                self.secret_key = DEV_SECRET
            return self
        if self.secret_key == DEV_SECRET:
            raise ValueError(
                "SKYBERTH_SECRET_KEY is the public development key: set a private "
                "value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe"
                "(48))'`), leave it unset to use the key generated in the data "
                "directory, or ask for a development run with SKYBERTH_ENV=dev"
            )
        if self.secret_key and len(self.secret_key.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"SKYBERTH_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes for "
                "HS256 tokens"
            )
        return self

    def site_policy(self) -> SitePolicy:
        """The booking policy the opening hours describe."""
        if self.opening_hours == "24h":
            return SitePolicy(
                always_open=True,
                booking_quota=self.booking_quota,
                require_cad_registration=self.require_cad_registration,
                require_verified_fence=self.require_verified_fence,
            )
        opens, closes = (
            time.fromisoformat(part) for part in self.opening_hours.split("-")
        )
        return SitePolicy(
            opens_local=opens,
            closes_local=closes,
            booking_quota=self.booking_quota,
            require_cad_registration=self.require_cad_registration,
            require_verified_fence=self.require_verified_fence,
        )

    def mpd_reference(self, site_id: str) -> MpdReference:
        """Return how heights at ``site_id`` become mPD (labelled; see above)."""
        if site_id in self.mpd_geoid_grid:
            return MpdReference.geoid_grid(self.mpd_geoid_grid[site_id])
        if site_id in self.mpd_offset_m:
            return MpdReference.surveyed(
                self.mpd_offset_m[site_id], self.mpd_benchmark.get(site_id, "")
            )
        return MpdReference()

    def audit_seal(self) -> AuditSeal:
        """The audit key and the heads file (``data_dir/audit-heads.log``)."""
        if self.audit_key:
            key = self.audit_key.encode()
        elif not self.secret_key:
            # Deriving from an empty key would key the chain with a public value.
            raise RuntimeError(
                "no token key yet to derive the audit key from: resolve it first "
                "(web.secret_key.with_secret_key) or set SKYBERTH_AUDIT_KEY"
            )
        else:
            # A key of its own, derived one way: an audit key never signs tokens.
            key = hmac.new(
                self.secret_key.encode(), b"skyberth audit chain", hashlib.sha256
            ).digest()
        return AuditSeal(key, self.data_dir / "audit-heads.log")

    @property
    def tlog_dir(self) -> Path:
        """Where raw MAVLink recordings (``.tlog``) are kept."""
        return self.data_dir / "tlogs"

    @property
    def effective_database_url(self) -> str:
        """The database URL in use, with the SQLite default filled in."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'skyberth.sqlite3'}"
