"""Hong Kong CAD registration data of a drone, and the booking rules that use it.

Cap. 448G (Small Unmanned Aircraft Order, in force since 1 June 2022) sorts small
drones by mass and operation: up to 250 g (A1) need no registration; over 250 g up
to 7 kg (A2) need a registered aircraft with a CAD label and a registered remote
pilot; 7 kg to 25 kg, or any flight outside the A1/A2 rules, is "advanced" and needs
CAD permission as well. Over 25 kg Cap. 448C applies, not 448G.

Formats: the CAD publishes no format for the registration mark, the remote-pilot or
the responsible-person registration numbers (searched: the eSUA pages and the Order
say what must be registered, not how the number is written). So they are free text
here, trimmed and at most ``MAX_NUMBER_LEN`` characters; only the category is checked
against the drone's mass. Dates are calendar dates in Hong Kong; a registration is
valid through the whole of its ``valid_until`` day.

Booking rules (each returns its refusal, not raised, like ``booking.rules``):

- ``drone_registration``: the drone's registration expired before the booking's
  last local day, or is missing when the site requires registration;
- ``pilot_registration``: the remote pilot's registration expired, or is missing
  when the site requires registration.

A drone in category A1 needs neither. "Missing" is refused only where the site
policy says so (``require_cad_registration``), so sites outside Hong Kong and drones
registered before these fields existed keep working; an *expired* date is always
refused, since it says the drone or pilot may not fly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from booking.errors import BookingConflict, BookingError, BookingRuleViolation, Rule

MAX_NUMBER_LEN = 64
"""Longest registration number or mark accepted (free text: no published format)."""

A1_MAX_KG = 0.25
A2_MAX_KG = 7.0
ADVANCED_MAX_KG = 25.0


class UasCategory(enum.StrEnum):
    """Cap. 448G category of a small drone (by mass; advanced also by operation)."""

    A1 = "A1"
    """Up to 250 g: no registration."""
    A2 = "A2"
    """Over 250 g up to 7 kg: registered drone and remote pilot."""
    ADVANCED = "advanced"
    """7 kg to 25 kg, or operations beyond A1/A2: CAD permission as well."""

    @property
    def needs_registration(self) -> bool:
        """Whether drones of this category must be registered with the CAD."""
        return self is not UasCategory.A1


def category_for_mass(max_takeoff_mass_kg: float) -> UasCategory:
    """Return the lowest category a drone of this mass may fly in."""
    if max_takeoff_mass_kg <= A1_MAX_KG:
        return UasCategory.A1
    if max_takeoff_mass_kg <= A2_MAX_KG:
        return UasCategory.A2
    return UasCategory.ADVANCED


@dataclass(frozen=True)
class Registration:
    """A CAD registration number and the last day it is valid (None: not given)."""

    number: str
    valid_until: date | None = None

    def valid_on(self, day: date) -> bool:
        """Whether the registration is valid on ``day`` (its last day included)."""
        return self.valid_until is None or day <= self.valid_until


@dataclass(frozen=True)
class CadRegistration:
    """What the CAD registers about a drone, its operator and its remote pilot.

    Every field is optional: a drone without any is treated as unregistered.
    """

    registration_mark: Registration | None = None
    """The drone's registration (the mark on its CAD label) and its validity."""
    serial_number: str | None = None
    category: UasCategory | None = None
    """None: derived from the drone's mass (``category_for_mass``)."""
    operator: Registration | None = None
    """The responsible person's (operator's) registration."""
    remote_pilot: Registration | None = None

    def check_fields(self, drone_id: str, max_takeoff_mass_kg: float) -> None:
        """Raise ``BookingRuleViolation`` (rule ``drone``) for an unusable field."""
        mark, op, pilot = self.registration_mark, self.operator, self.remote_pilot
        texts = {
            "registration mark": mark.number if mark else None,
            "serial number": self.serial_number,
            "operator registration": op.number if op else None,
            "remote pilot registration": pilot.number if pilot else None,
        }
        for what, text in texts.items():
            if text is not None and not 0 < len(text.strip()) <= MAX_NUMBER_LEN:
                raise BookingRuleViolation(
                    Rule.DRONE,
                    f"drone {drone_id}: {what} must be 1..{MAX_NUMBER_LEN} characters",
                )
        if max_takeoff_mass_kg > ADVANCED_MAX_KG:
            return  # Cap. 448C, not 448G: no small-drone category to check.
        least = category_for_mass(max_takeoff_mass_kg)
        order = list(UasCategory)
        if self.category is not None and order.index(self.category) < order.index(
            least
        ):
            raise BookingRuleViolation(
                Rule.DRONE,
                f"drone {drone_id}: category {self.category} is for lighter drones; "
                f"{max_takeoff_mass_kg:g} kg is at least {least}",
            )

    def effective_category(self, max_takeoff_mass_kg: float) -> UasCategory:
        """Return the category given, or the one the mass implies."""
        return self.category or category_for_mass(max_takeoff_mass_kg)


def local_day(t_utc: datetime, timezone: str) -> date:
    """Return the calendar day of aware datetime ``t_utc`` in ``timezone``."""
    return t_utc.astimezone(ZoneInfo(timezone)).date()


def check_registration(
    drone_id: str,
    cad: CadRegistration,
    max_takeoff_mass_kg: float,
    last_day: date,
    *,
    required: bool,
) -> BookingError | None:
    """Return the refusal for flying ``drone_id`` up to ``last_day``, or None.

    ``last_day`` is the booking's last calendar day at the site; ``required`` says
    whether the site refuses drones and pilots with no registration at all.
    """
    category = cad.effective_category(max_takeoff_mass_kg)
    if not category.needs_registration:
        return None
    mark = cad.registration_mark
    if mark is not None and not mark.valid_on(last_day):
        return BookingConflict(
            Rule.DRONE_REGISTRATION,
            f"drone {drone_id}: CAD registration {mark.number} expired on "
            f"{mark.valid_until:%Y-%m-%d}, before the booking's day "
            f"{last_day:%Y-%m-%d}",
        )
    if mark is None and required:
        return BookingConflict(
            Rule.DRONE_REGISTRATION,
            f"drone {drone_id}: category {category} needs a CAD registration mark",
        )
    pilot = cad.remote_pilot
    if pilot is not None and not pilot.valid_on(last_day):
        return BookingConflict(
            Rule.PILOT_REGISTRATION,
            f"drone {drone_id}: remote pilot registration {pilot.number} expired on "
            f"{pilot.valid_until:%Y-%m-%d}, before the booking's day "
            f"{last_day:%Y-%m-%d}",
        )
    if pilot is None and required:
        return BookingConflict(
            Rule.PILOT_REGISTRATION,
            f"drone {drone_id}: category {category} needs a registered remote pilot",
        )
    return None
