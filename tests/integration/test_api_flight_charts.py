"""``GET /api/v1/bookings/{id}/flights/{n}/charts/{chart}`` (issue 18 item 5) on a
real app and SQLite database: a scripted flight's recording in, the campaign
report's own matplotlib SVG charts out, seen by the booking's roles only."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree

import pytest

from tests.flight_script import out_and_back, records, write_tlog
from tests.integration.api_world import SITE, World, api_world
from tests.integration.test_api_flights import booked
from tests.integration.test_api_incidents import site_of
from web.settings import Settings

API = "/api/v1"


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


@pytest.fixture
def recorded(world: World, settings: Settings) -> int:
    """A booking of d1 with one scripted out-and-back flight recorded."""
    bid = booked(world)
    write_tlog(
        settings.tlog_dir / SITE / f"booking-{bid}.tlog",
        records(site_of(world), out_and_back()),
    )
    return bid


@pytest.mark.parametrize(
    ("chart", "legend"),
    [("altitude_speed", "corridor ceiling"), ("signal", "HDOP")],
)
def test_each_chart_of_a_recorded_flight_is_an_svg_drawn_by_matplotlib(
    world: World, recorded: int, chart: str, legend: str
) -> None:
    response = world.get("pilot", f"{API}/bookings/{recorded}/flights/1/charts/{chart}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(response.text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("class") == "skyberth-chart"
    assert "Matplotlib" in response.text
    assert legend in response.text


def test_a_flight_the_booking_does_not_have_answers_404(
    world: World, recorded: int
) -> None:
    url = f"{API}/bookings/{recorded}/flights/2/charts/signal"
    response = world.get("operator", url)
    assert response.status_code == 404
    assert "flight 2 of booking" in response.text
    unknown = world.get("operator", f"{API}/bookings/{recorded}/flights/1/charts/pie")
    assert unknown.status_code == 422


def test_another_organisation_sees_no_chart(world: World, recorded: int) -> None:
    url = f"{API}/bookings/{recorded}/flights/1/charts/altitude_speed"
    assert world.get("rival", url).status_code == 404
    assert world.get("safety_officer", url).status_code == 200
