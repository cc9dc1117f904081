"""Every API operation fuzzed from the app's own OpenAPI schema (schemathesis).

Schemathesis draws path, query and body values from each operation's schema,
both valid ones and ones that break it (wrong types, out of range, missing
fields); each case is sent as a drawn user (every role, another
organisation's operator, anonymous) through the real app on SQLite, in process,
and the answer must:

* never be a 5xx;
* conform to the schema wherever the schema documents the status (body and
  content type);
* follow the auth matrix: anonymous gets 401 on every protected route (or a 422
  or 400 for a body that is not JSON at all, which FastAPI decodes first), a valid
  token never does, and a role that ``test_api_roles.py``'s table refuses (403)
  never succeeds, whatever the input (routes that check the role in the domain,
  after finding the resource, may answer 404 or 422 first).

Runs are bounded (``MAX_EXAMPLES`` per operation) and derandomised, so CI does not
flake; ``SKYBERTH_FUZZ_EXAMPLES`` raises the bound for a longer local run.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from booking.model import Role
from tests.integration.api_world import (
    PASSWORD,
    USERS,
    World,
    api_world,
    drone_body,
    password_hash,
    slot,
)
from tests.integration.test_api_roles import ROLES, ROUTES
from web.app import create_app
from web.settings import Settings
from web.users import add_user

logger = logging.getLogger(__name__)

MAX_EXAMPLES = int(os.environ.get("SKYBERTH_FUZZ_EXAMPLES", "25"))
PUBLIC = {"GET /healthz", "GET /readyz", "GET /metrics", "POST /api/v1/auth/token"}
"""Operations that answer without a token."""
VICTIM = "fuzz-account"
"""The only account the user routes may change: fuzzing the test users' own
passwords or roles would revoke the tokens the rest of the run relies on."""
TRIED: Counter[int] = Counter()
"""Requests sent by status, over the whole module (printed at its end)."""
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _openapi() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(
            Settings(env="test", data_dir=Path(data_dir), http_port=0, mavlink=[])
        )
        try:
            return app.openapi()
        finally:
            app.state.engine.dispose()


SCHEMA = schemathesis.openapi.from_dict(_openapi())


def _operations() -> dict[str, Any]:
    operations = {}
    for result in SCHEMA.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()  # the app's own schema must load whole
        op = result.ok()
        operations[f"{op.method.upper()} {op.path}"] = op
    return operations


OPERATIONS = _operations()


def _table_name(label: str) -> str:
    """``POST /api/v1/bookings/{booking_id}/approve`` -> the roles table's name."""
    method, path = label.split(" ", 1)
    path = path.removeprefix("/api/v1")
    for param in ("{site_id}", "{drone_id}", "{booking_id}", "{closure_id}"):
        path = path.replace(param, "{id}")
    return f"{method} {path}"


REFUSED: dict[str, set[str | None]] = {
    route.name: {
        role for role, code in zip(ROLES, route.expect, strict=True) if code == 403
    }
    for route in ROUTES
}
"""Roles refused (403) per route of the roles table: never a 2xx for them."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir: Path = tmp_path_factory.mktemp("schema-fuzz")
    with api_world(
        Settings(env="test", data_dir=data_dir, http_port=0, mavlink=[])
    ) as w:
        # Something for the generated ids to hit now and then: drone f1, booking 1,
        # closure 1, and the account the user routes may change.
        made = [
            w.post("operator", "/api/v1/drones", json=drone_body("f1", 201)),
            w.post(
                "operator",
                "/api/v1/bookings",
                json={
                    "site_id": "cyberport-pier",
                    "drone_id": "f1",
                    "takeoff_pad_id": "P1",
                    **slot(2, 9),
                },
            ),
            w.post(
                "safety_officer",
                "/api/v1/closures",
                json={
                    "site_id": "cyberport-pier",
                    "pad_id": "P3",
                    "reason": "fuzz",
                    **slot(25, 9),
                },
            ),
        ]
        assert [r.status_code for r in made] == [201, 201, 201], [r.text for r in made]
        add_user(
            w.app.state.engine,
            VICTIM,
            Role.PILOT,
            PASSWORD,
            datetime.now(UTC),
            "acme",
            password_hash=password_hash(),
        )
        yield w
    five = sum(n for status, n in TRIED.items() if status >= 500)
    logger.info(
        "schema fuzz: %d requests, %d 5xx: %s", sum(TRIED.values()), five, TRIED
    )


def _spare_test_users(case: Any) -> Any:
    if case.path_parameters and case.path_parameters.get("name") in USERS:
        case.path_parameters["name"] = VICTIM
    return case


def _cases(operation: Any) -> st.SearchStrategy[Any]:
    """Valid cases, and cases that break the schema where it has inputs to break."""
    positive: st.SearchStrategy[Any] = operation.as_strategy(GenerationMode.POSITIVE)
    has_inputs = (
        any(
            p.get("in") in ("path", "query")
            for p in operation.definition.raw.get("parameters", [])
        )
        or "requestBody" in operation.definition.raw
    )
    if not has_inputs:
        return positive
    return st.one_of(positive, operation.as_strategy(GenerationMode.NEGATIVE))


def _send(world: World, case: Any, who: str | None) -> Any:
    kwargs = case.as_transport_kwargs(
        base_url="http://testserver", headers=world.headers(who)
    )
    if isinstance(kwargs.get("data"), str | bytes):  # a raw body: httpx2's content
        kwargs["content"] = kwargs.pop("data")
    kwargs.pop("cookies", None)
    return world.client.request(**kwargs)


def _check_auth(label: str, who: str | None, status: int, text: str) -> None:
    if label in PUBLIC:
        return
    if who is None:
        # FastAPI decodes a JSON body before it runs any dependency, so a body
        # that is not JSON at all (422 json_invalid) or not even text (400) is
        # refused before the token is asked for; nothing is read or revealed.
        # A path parameter that breaks the URL (a vehicle key with ``?`` or ``#``)
        # matches no route: the router's bare 404 comes before any route runs, and
        # says nothing either. Any other answer to anonymous is a 401.
        undecodable = (status == 422 and '"json_invalid"' in text) or (
            status == 400 and "error parsing the body" in text
        )
        unrouted = status == 404 and text == '{"detail":"Not Found"}'
        assert status == 401 or undecodable or unrouted, (
            f"{label} anonymous: {status} {text}"
        )
        return
    assert status != 401, f"{label} as {who}: {status} {text}"
    if who in REFUSED.get(_table_name(label), set()):
        assert not 200 <= status < 300, f"{label} as {who}: {status} {text}"


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_never_fails_breaks_its_schema_or_its_auth_matrix(
    world: World, label: str
) -> None:
    operation = OPERATIONS[label]
    tried = []

    @hsettings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=_cases(operation).map(_spare_test_users),
        who=st.sampled_from([*USERS, None]),
    )
    def fuzz(case: Any, who: str | None) -> None:
        response = _send(world, case, who)
        tried.append(response.status_code)
        TRIED[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
        _check_auth(label, who, response.status_code, response.text[:300])

    fuzz()
    assert tried


def test_every_route_of_the_roles_table_is_fuzzed() -> None:
    fuzzed = {_table_name(label) for label in OPERATIONS}
    assert {route.name for route in ROUTES} <= fuzzed


def test_a_refusal_of_the_route_itself_conforms_to_the_schema(world: World) -> None:
    # Found by the fuzzer: an empty report period got a 422 whose ``detail`` is a
    # message, where the schema documented only FastAPI's list of field errors.
    op = OPERATIONS["GET /api/v1/reports/conformance"]
    when = "2000-01-01T00:00:00Z"
    case = op.Case(query={"from": when, "to": when})
    response = _send(world, case, "site_admin")
    assert response.status_code == 422
    case.validate_response(response, checks=CHECKS)


def test_metrics_are_documented_as_text(world: World) -> None:
    # Found by the fuzzer: the schema said JSON for Prometheus' text format.
    op = OPERATIONS["GET /metrics"]
    case = op.Case()
    response = _send(world, case, None)
    assert response.headers["content-type"].startswith("text/plain")
    case.validate_response(response, checks=CHECKS)
