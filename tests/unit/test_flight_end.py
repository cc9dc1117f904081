"""What ends an active booking's flight (issue 22 item 7): landed and disarmed
for ``landed_end_s``. The rule on its own, then through a gateway fed pymavlink
frames, with the ``BookingFinisher`` port recorded (a port fake, as unit tests may)."""

from __future__ import annotations

import math

import pytest

from airspace.site_files import demo_site_path, load_site
from telemetry.live import checks
from telemetry.live.fleet import BookingEntry, DroneEntry, FleetDirectory
from telemetry.live.gateway import Gateway
from telemetry.live.gateway_settings import GatewaySettings
from telemetry.live.hub import LiveHub
from telemetry.live.vehicles import VehicleState
from tests.mavlink_helpers import VehicleEncoder, corridor_point

T0 = 1_795_000_000.0
LINK = "udpin:127.0.0.1:14550"
SITE = load_site(demo_site_path())
LANDED_END_S = 10.0


@pytest.mark.parametrize(
    ("landed_since_s", "now_s", "over"),
    [
        (math.nan, T0, False),  # flying
        (T0, T0, False),  # just landed
        (T0, T0 + LANDED_END_S - 0.1, False),  # a touch-and-go would re-arm here
        (T0, T0 + LANDED_END_S, True),
        (T0, T0 + 300, True),
    ],
)
def test_a_flight_is_over_only_after_landed_end_s_on_the_ground(
    landed_since_s: float, now_s: float, over: bool
) -> None:
    assert checks.flight_over(landed_since_s, now_s, LANDED_END_S) is over


def test_landed_since_starts_when_disarmed_low_and_resets_when_armed_or_high() -> None:
    v = VehicleState(LINK, 11, T0)
    v.armed, v.rel_alt_m = True, 0.0
    assert math.isnan(checks.landed_since(v, T0))
    v.armed = False
    v.landed_since_s = checks.landed_since(v, T0 + 1)
    assert v.landed_since_s == T0 + 1
    assert checks.landed_since(v, T0 + 5) == T0 + 1  # still landed since then
    v.rel_alt_m = 3.0  # disarmed but clearly up: not landed
    assert math.isnan(checks.landed_since(v, T0 + 6))


def fleet(state: str) -> FleetDirectory:
    booking = BookingEntry(
        booking_id=7,
        drone_id="D1",
        site_id=SITE.id,
        operator_id="op-a",
        corridor_id="C1",
        start_s=T0 - 600,
        end_s=T0 + 3600,
        state=state,
    )
    drone = DroneEntry("D1", "Kite-1", SITE.id, "op-a", sysid=11)
    return FleetDirectory((drone,), (booking,))


class Flight:
    """A gateway with a recording finisher and activator, and one drone's encoder."""

    def __init__(self, state: str) -> None:
        self.finished: list[tuple[int, float, str]] = []
        self.activated: list[int] = []
        self.gateway = Gateway(
            {SITE.id: SITE},
            LiveHub(),
            settings=GatewaySettings(landed_end_s=LANDED_END_S),
            activate_booking=lambda bid, _t: self.activated.append(bid),
            finish_booking=lambda bid, t, why: self.finished.append((bid, t, why)),
        )
        self.gateway.set_directory(fleet(state), T0)
        self.enc = VehicleEncoder(11)
        self.t_s = T0
        self.pad = corridor_point(SITE, "C1")

    def run(self, seconds: float, armed: bool, rel_alt_m: float) -> None:
        """Send 4 Hz heartbeat + position for ``seconds``, ticking each time."""
        lat, lon, _ = self.pad
        end = self.t_s + seconds
        while self.t_s < end:
            data = self.enc.heartbeat(armed) + self.enc.position(
                lat, lon, SITE.ground_elev_m + rel_alt_m, rel_alt_m
            )
            self.gateway.ingest(LINK, data, self.t_s)
            self.gateway.tick(self.t_s)
            self.t_s += 0.25


def test_landing_and_disarming_for_landed_end_s_completes_the_booking_once() -> None:
    flight = Flight("approved")
    flight.run(5, armed=True, rel_alt_m=30.0)
    assert flight.activated == [7]
    flight.run(LANDED_END_S - 1, armed=False, rel_alt_m=0.0)
    assert flight.finished == []
    landed_at = flight.t_s - (LANDED_END_S - 1)
    flight.run(5, armed=False, rel_alt_m=0.0)
    [(booking_id, t_s, why)] = flight.finished
    assert booking_id == 7
    assert t_s - landed_at == pytest.approx(LANDED_END_S, abs=0.3)
    assert why.startswith("landed and disarmed for")


def test_a_touch_and_go_shorter_than_landed_end_s_keeps_the_booking_active() -> None:
    flight = Flight("approved")
    flight.run(5, armed=True, rel_alt_m=30.0)
    for _ in range(3):
        flight.run(LANDED_END_S - 2, armed=False, rel_alt_m=0.0)
        flight.run(3, armed=True, rel_alt_m=10.0)
    assert flight.finished == []


def test_a_drone_waiting_disarmed_before_take_off_does_not_end_its_booking() -> None:
    flight = Flight("approved")
    flight.run(LANDED_END_S * 3, armed=False, rel_alt_m=0.0)
    assert flight.activated == []
    assert flight.finished == []


def test_a_booking_the_directory_shows_active_is_completed_after_landing() -> None:
    flight = Flight("active")  # activated before this gateway started
    flight.run(LANDED_END_S + 1, armed=False, rel_alt_m=0.0)
    assert [bid for bid, _, _ in flight.finished] == [7]
