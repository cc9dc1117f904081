"""CAD registration data of drones (Cap. 448G) and the booking rules that use it."""

from __future__ import annotations

from datetime import date

import pytest

from booking.errors import BookingConflict, BookingRuleViolation
from booking.registration import (
    CadRegistration,
    Registration,
    UasCategory,
    category_for_mass,
    check_registration,
)

DAY = date(2027, 3, 10)


@pytest.mark.parametrize(
    ("mass_kg", "category"),
    [
        (0.249, UasCategory.A1),
        (0.25, UasCategory.A1),
        (0.251, UasCategory.A2),
        (7.0, UasCategory.A2),
        (7.01, UasCategory.ADVANCED),
        (25.0, UasCategory.ADVANCED),
    ],
)
def test_category_follows_the_mass_bands(mass_kg: float, category: UasCategory) -> None:
    assert category_for_mass(mass_kg) is category


def test_registration_is_valid_through_its_last_day() -> None:
    reg = Registration("SUA-1", date(2027, 3, 10))
    assert reg.valid_on(date(2027, 3, 10))
    assert not reg.valid_on(date(2027, 3, 11))


def test_refuses_a_drone_whose_registration_expired_before_the_booking_day() -> None:
    cad = CadRegistration(registration_mark=Registration("SUA-1", date(2027, 3, 9)))
    err = check_registration("d1", cad, 2.0, DAY, required=False)
    assert isinstance(err, BookingConflict)
    assert err.rule == "drone_registration"
    assert "2027-03-09" in err.message


def test_refuses_a_remote_pilot_whose_registration_expired() -> None:
    cad = CadRegistration(
        registration_mark=Registration("SUA-1", date(2028, 1, 1)),
        remote_pilot=Registration("RP-9", date(2027, 1, 1)),
    )
    err = check_registration("d1", cad, 2.0, DAY, required=False)
    assert err is not None
    assert err.rule == "pilot_registration"


def test_missing_registration_is_refused_only_where_the_site_requires_it() -> None:
    assert check_registration("d1", CadRegistration(), 2.0, DAY, required=False) is None
    err = check_registration("d1", CadRegistration(), 2.0, DAY, required=True)
    assert err is not None
    assert err.rule == "drone_registration"
    marked = CadRegistration(registration_mark=Registration("SUA-1"))
    err = check_registration("d1", marked, 2.0, DAY, required=True)
    assert err is not None
    assert err.rule == "pilot_registration"


def test_a1_drones_need_no_registration_even_where_required() -> None:
    assert check_registration("d1", CadRegistration(), 0.2, DAY, required=True) is None


def test_refuses_a_category_lighter_than_the_mass() -> None:
    with pytest.raises(BookingRuleViolation, match="at least A2"):
        CadRegistration(category=UasCategory.A1).check_fields("d1", 3.0)
    CadRegistration(category=UasCategory.ADVANCED).check_fields("d1", 3.0)


def test_registration_numbers_are_free_text_but_not_blank_or_endless() -> None:
    CadRegistration(registration_mark=Registration("任何 format / 123")).check_fields(
        "d1", 2.0
    )
    with pytest.raises(BookingRuleViolation, match="registration mark"):
        CadRegistration(registration_mark=Registration("  ")).check_fields("d1", 2.0)
    with pytest.raises(BookingRuleViolation, match="serial number"):
        CadRegistration(serial_number="x" * 65).check_fields("d1", 2.0)
