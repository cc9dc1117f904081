"""API bodies for a drone's Hong Kong CAD registration data (``booking.registration``).

The CAD publishes no format for registration marks or registration numbers, so they
are free text (1..64 characters after trimming); dates are Hong Kong calendar days,
valid through the day given. The category defaults to the one the drone's mass
implies and may only be raised, never lowered below it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from booking.registration import (
    MAX_NUMBER_LEN,
    CadRegistration,
    Registration,
    UasCategory,
)

RegistrationText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NUMBER_LEN),
]
"""Free text: the CAD publishes no format for marks and registration numbers."""


class CadRegistrationIn(BaseModel):
    """A drone's CAD registration data as a client sends it (all optional)."""

    model_config = ConfigDict(extra="forbid")

    registration_mark: RegistrationText | None = Field(
        default=None, description="The mark on the drone's CAD label (free text)."
    )
    registration_valid_until: date | None = None
    serial_number: RegistrationText | None = None
    category: UasCategory | None = Field(
        default=None, description="A1, A2 or advanced; default from the mass."
    )
    operator_registration: RegistrationText | None = None
    operator_registration_valid_until: date | None = None
    remote_pilot_registration: RegistrationText | None = None
    remote_pilot_registration_valid_until: date | None = None

    def to_domain(self) -> CadRegistration:
        """Return the domain value (a date without its number is dropped)."""

        def reg(number: str | None, until: date | None) -> Registration | None:
            return Registration(number, until) if number else None

        return CadRegistration(
            registration_mark=reg(
                self.registration_mark, self.registration_valid_until
            ),
            serial_number=self.serial_number,
            category=self.category,
            operator=reg(
                self.operator_registration, self.operator_registration_valid_until
            ),
            remote_pilot=reg(
                self.remote_pilot_registration,
                self.remote_pilot_registration_valid_until,
            ),
        )


class CadRegistrationPublic(BaseModel):
    """A drone's CAD registration data; ``category`` is always filled in."""

    registration_mark: str | None
    registration_valid_until: date | None
    serial_number: str | None
    category: UasCategory
    operator_registration: str | None
    operator_registration_valid_until: date | None
    remote_pilot_registration: str | None
    remote_pilot_registration_valid_until: date | None

    @classmethod
    def of(cls, cad: CadRegistration, max_takeoff_mass_kg: float) -> Self:
        """Return the public view of ``cad`` for a drone of that mass."""
        mark, op, pilot = cad.registration_mark, cad.operator, cad.remote_pilot
        return cls(
            registration_mark=mark.number if mark else None,
            registration_valid_until=mark.valid_until if mark else None,
            serial_number=cad.serial_number,
            category=cad.effective_category(max_takeoff_mass_kg),
            operator_registration=op.number if op else None,
            operator_registration_valid_until=op.valid_until if op else None,
            remote_pilot_registration=pilot.number if pilot else None,
            remote_pilot_registration_valid_until=pilot.valid_until if pilot else None,
        )
