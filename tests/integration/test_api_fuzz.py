"""Random and half-valid bodies against the POST routes: never a 500.

Hypothesis builds JSON bodies whose fields are each either plausible (real ids, aware
times near now, GeoJSON polygons near the pier) or junk of any JSON type; the API
must answer every one with a 2xx or a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tests.integration.api_world import SITE, World, api_world, drone_body
from web.settings import Settings

FUZZ = hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
junk = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=8,
)
NOW = datetime.now(UTC)
times = st.datetimes(
    min_value=(NOW - timedelta(days=2)).replace(tzinfo=None),
    max_value=(NOW + timedelta(days=40)).replace(tzinfo=None),
    timezones=st.sampled_from([UTC, None]),
).map(lambda t: t.isoformat())
ids = st.sampled_from(["P1", "P2", "C1", "C3", "f1", SITE, "nope", "", "x" * 80])
lon = st.floats(113.9, 114.4, allow_nan=False) | st.floats(
    allow_nan=False, allow_infinity=False
)
lat = st.floats(22.0, 22.5, allow_nan=False) | st.floats(
    allow_nan=False, allow_infinity=False
)
ring = st.lists(
    st.lists(lon | lat, min_size=2, max_size=3), min_size=3, max_size=6
).map(lambda r: [*r, r[0]])
polygon = st.fixed_dictionaries(
    {"type": st.just("Polygon"), "coordinates": st.lists(ring, min_size=1, max_size=2)}
)


def field(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return plausible | junk


def body(
    fields: dict[str, st.SearchStrategy[Any]],
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={k: field(v) for k, v in fields.items()})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    with api_world(
        Settings(env="test", data_dir=data_dir, http_port=0, mavlink=[])
    ) as w:
        assert (
            w.post("operator", "/api/v1/drones", json=drone_body("f1", 200)).status_code
            == 201
        )
        yield w


def _never_500(response: Any) -> None:
    assert response.status_code < 500, response.text
    response.json()


@FUZZ
@given(
    body(
        {
            "id": ids | st.text(max_size=10),
            "name": st.text(max_size=10),
            "site_id": ids,
            "operator_id": st.sampled_from(["acme", "rival", "ghost"]),
            "mavlink_sysid": st.integers(-5, 300),
            "max_takeoff_mass_kg": st.floats(-1, 50),
            "signing_key_hex": st.text("0123456789abcdef", min_size=60, max_size=66),
        }
    ),
    st.sampled_from(["operator", "site_admin"]),
)
def test_drone_registration_never_fails_with_500(
    world: World, payload: dict[str, Any], who: str
) -> None:
    _never_500(world.post(who, "/api/v1/drones", json=payload))


@FUZZ
@given(
    body(
        {
            "site_id": ids,
            "drone_id": ids,
            "start": times,
            "end": times,
            "takeoff_pad_id": ids,
            "landing_pad_id": ids,
            "corridor_id": ids,
        }
    ),
    st.sampled_from(["operator", "pilot", "site_admin"]),
)
def test_booking_requests_never_fail_with_500(
    world: World, payload: dict[str, Any], who: str
) -> None:
    _never_500(world.post(who, "/api/v1/bookings", json=payload))


@FUZZ
@given(
    body(
        {
            "site_id": ids,
            "start": times,
            "end": times,
            "reason": st.text(max_size=10),
            "pad_id": ids,
            "corridor_id": ids,
            "area": polygon,
            "floor_m": st.floats(-600, 1000),
            "ceiling_m": st.floats(-600, 1000),
            "alt_ref": st.sampled_from(["AGL", "AMSL", "agl"]),
        }
    ),
)
def test_closures_never_fail_with_500(world: World, payload: dict[str, Any]) -> None:
    _never_500(world.post("safety_officer", "/api/v1/closures", json=payload))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["from", "to", "site", "state", "limit", "pad"]),
        st.text(max_size=30) | times,
    )
)
def test_query_strings_never_fail_with_500(
    world: World, params: dict[str, str]
) -> None:
    _never_500(world.get("pilot", "/api/v1/bookings", params=params))
    _never_500(world.get("pilot", f"/api/v1/sites/{SITE}/availability", params=params))
