"""The flight forms' own rules (issue 18 item 3), pure: the take-off mass against
the drone's and then the pad's maximum, each refusal naming its rule."""

from __future__ import annotations

import pytest

from booking.errors import BookingRuleViolation, Rule
from booking.flight_forms import (
    DEFAULT_CHECKLIST,
    Precipitation,
    PreFlightForm,
    form_body,
    mass_refusal,
    pre_flight_from,
)


def form(mass_kg: float) -> PreFlightForm:
    return PreFlightForm(
        takeoff_mass_kg=mass_kg,
        payload_kind="camera",
        payload_mass_kg=0.5,
        wind_speed_mps=3.0,
        wind_from_deg=180.0,
        visibility_m=5000.0,
        precipitation=Precipitation.NONE,
        temperature_c=20.0,
        remote_pilot="A",
        observer="B",
        test_objective="C",
        checklist=dict.fromkeys(DEFAULT_CHECKLIST, True),
    )


@pytest.mark.parametrize(
    ("mass_kg", "rule", "names"),
    [
        (4.0, None, ""),
        (6.0, Rule.DRONE_MASS, "drone D1 maximum 5 kg"),
        (4.8, Rule.PAD_MASS, "pad P1 limit 4.5 kg"),
    ],
)
def test_take_off_mass_within_drone_and_pad_maximum(
    mass_kg: float, rule: Rule | None, names: str
) -> None:
    refusal = mass_refusal(form(mass_kg), "D1", 5.0, "P1", 4.5)
    if rule is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.rule is rule
        assert names in refusal.message


def test_without_a_take_off_pad_only_the_drone_limit_applies() -> None:
    assert mass_refusal(form(4.8), "D1", 5.0, None, None) is None


def test_a_form_round_trips_through_its_json_body() -> None:
    original = form(3.0)
    assert pre_flight_from(form_body(original)) == original


def test_nan_is_out_of_range() -> None:
    with pytest.raises(BookingRuleViolation, match="wind_speed_mps"):
        pre_flight_from({**form_body(form(3.0)), "wind_speed_mps": float("nan")})
