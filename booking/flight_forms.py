"""The operator's flight forms: what the pilot states before and after flying.

A pre-flight form per booking records the take-off mass, the payload, the weather
observed, the crew, the test objective and the pre-flight checklist; a post-flight
form the result, the emergency procedures exercised and remarks (issue 18 item 3).
Pure values with their own checks: ranges with units in the names, every checklist
item answered, and the take-off mass within the drone's and the take-off pad's
maximum (``mass_refusal``), each refusal naming its rule (``booking.errors.Rule``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from booking.errors import BookingRuleViolation, Rule

DEFAULT_CHECKLIST: Final = (
    "fence_verified",
    "battery_above_minimum",
    "link_check",
    "notams_and_closures_reviewed",
)
"""The pre-flight checklist items a form must answer (ids, in order)."""
MAX_WIND_MPS: Final = 60.0
MAX_VISIBILITY_M: Final = 100_000.0


class FormKind(enum.StrEnum):
    """Which form."""

    PRE_FLIGHT = "pre_flight"
    POST_FLIGHT = "post_flight"


class Precipitation(enum.StrEnum):
    NONE = "none"
    DRIZZLE = "drizzle"
    RAIN = "rain"
    HEAVY_RAIN = "heavy_rain"
    SNOW = "snow"


class FlightResult(enum.StrEnum):
    COMPLETED = "completed"
    PARTIAL = "partial"
    ABORTED = "aborted"


class EmergencyProcedure(enum.StrEnum):
    RTL = "rtl"
    LAND_NOW = "land_now"
    DITCHING_DRILL = "ditching_drill"
    LOST_LINK = "lost_link"
    FLIGHT_TERMINATION = "flight_termination"
    MANUAL_TAKEOVER = "manual_takeover"


@dataclass(frozen=True)
class StoredForm:
    """A form as stored: its kind, body, author and time (aware UTC)."""

    booking_id: int
    kind: FormKind
    body: dict[str, Any]
    submitted_by: str
    submitted_at: datetime
    version: int
    """1 for the first submission of this kind for the booking, then 2, 3..."""


class FlightFormRepository(Protocol):
    """Where flight forms are kept (``booking.flight_form_store``)."""

    def add(
        self,
        booking_id: int,
        kind: FormKind,
        body: dict[str, Any],
        submitted_by: str,
        at: datetime,
    ) -> StoredForm:
        """Store a submission; return it with its version."""

    def latest(self, booking_id: int) -> dict[FormKind, StoredForm]:
        """Return the newest form of each kind submitted for the booking."""


def _refuse(message: str, rule: Rule = Rule.FORM) -> BookingRuleViolation:
    return BookingRuleViolation(rule, message)


def _in_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if not math.isfinite(value) or not low <= value <= high:
        raise _refuse(f"{name} {value!r} is outside {low:g}-{high:g}")


@dataclass(frozen=True)
class PreFlightForm:
    """What the crew states before the first flight of a booking."""

    takeoff_mass_kg: float
    payload_kind: str
    payload_mass_kg: float
    wind_speed_mps: float
    wind_from_deg: float
    visibility_m: float
    precipitation: Precipitation
    temperature_c: float
    remote_pilot: str
    observer: str
    test_objective: str
    checklist: Mapping[str, bool]
    sea_state: int | None = None
    """Douglas sea state 0-9, for maritime legs."""

    def __post_init__(self) -> None:
        _in_range("takeoff_mass_kg", self.takeoff_mass_kg, 0.01, 150.0)
        _in_range("payload_mass_kg", self.payload_mass_kg, 0.0, 150.0)
        if self.payload_mass_kg >= self.takeoff_mass_kg:
            raise _refuse(
                f"payload_mass_kg {self.payload_mass_kg:g} is not below "
                f"takeoff_mass_kg {self.takeoff_mass_kg:g}"
            )
        _in_range("wind_speed_mps", self.wind_speed_mps, 0.0, MAX_WIND_MPS)
        _in_range("wind_from_deg", self.wind_from_deg, 0.0, 360.0)
        _in_range("visibility_m", self.visibility_m, 0.0, MAX_VISIBILITY_M)
        _in_range("temperature_c", self.temperature_c, -40.0, 60.0)
        _in_range("sea_state", self.sea_state, 0, 9)
        for name in ("remote_pilot", "test_objective"):
            if not getattr(self, name).strip():
                raise _refuse(f"{name} is required")

    def check_checklist(self, items: Sequence[str] = DEFAULT_CHECKLIST) -> None:
        """Refuse unless every item is answered and ticked (and nothing else)."""
        missing = [i for i in items if i not in self.checklist]
        unknown = sorted(set(self.checklist) - set(items))
        unticked = [i for i in items if self.checklist.get(i) is False]
        if missing or unknown:
            raise _refuse(
                f"checklist: missing {missing or 'none'}, unknown {unknown or 'none'}",
                Rule.CHECKLIST,
            )
        if unticked:
            raise _refuse(
                f"checklist items not done: {', '.join(unticked)}", Rule.CHECKLIST
            )


@dataclass(frozen=True)
class PostFlightForm:
    """What the crew states after flying."""

    result: FlightResult
    emergency_procedures: tuple[EmergencyProcedure, ...] = field(default=())
    remarks: str = ""

    def __post_init__(self) -> None:
        if len(self.remarks) > 4000:
            raise _refuse("remarks are longer than 4000 characters")
        if len(set(self.emergency_procedures)) != len(self.emergency_procedures):
            raise _refuse("emergency_procedures lists one twice")


def mass_refusal(
    form: PreFlightForm,
    drone_id: str,
    drone_max_kg: float,
    pad_id: str | None,
    pad_max_kg: float | None,
) -> BookingRuleViolation | None:
    """Return why the take-off mass is refused (drone's, then pad's maximum)."""
    mass = form.takeoff_mass_kg
    if mass > drone_max_kg:
        return _refuse(
            f"take-off mass {mass:g} kg exceeds drone {drone_id} maximum "
            f"{drone_max_kg:g} kg",
            Rule.DRONE_MASS,
        )
    if pad_id is not None and pad_max_kg is not None and mass > pad_max_kg:
        return _refuse(
            f"take-off mass {mass:g} kg exceeds pad {pad_id} limit {pad_max_kg:g} kg",
            Rule.PAD_MASS,
        )
    return None


def form_body(form: PreFlightForm | PostFlightForm) -> dict[str, Any]:
    """Return the form as JSON-ready data (enums as their values)."""
    body = asdict(form)
    return {
        k: ([str(x) for x in v] if isinstance(v, tuple) else v) for k, v in body.items()
    }


def pre_flight_from(body: Mapping[str, Any]) -> PreFlightForm:
    """Return the pre-flight form ``body`` describes (raising on a bad value)."""
    try:
        return PreFlightForm(
            **{**body, "precipitation": Precipitation(body["precipitation"])}
        )
    except (TypeError, KeyError, ValueError) as exc:
        raise _refuse(f"pre-flight form: {exc}") from exc


def post_flight_from(body: Mapping[str, Any]) -> PostFlightForm:
    """Return the post-flight form ``body`` describes (raising on a bad value)."""
    try:
        return PostFlightForm(
            result=FlightResult(body["result"]),
            emergency_procedures=tuple(
                EmergencyProcedure(p) for p in body.get("emergency_procedures", ())
            ),
            remarks=str(body.get("remarks", "")),
        )
    except (TypeError, KeyError, ValueError) as exc:
        raise _refuse(f"post-flight form: {exc}") from exc
