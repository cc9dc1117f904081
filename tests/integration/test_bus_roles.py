"""``skyberth gateway`` and ``skyberth web``: refused settings say what to fix.

The processes themselves run in tests/integration/test_scale_faults.py."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from web.cli_roles import roles_app
from web.settings import Settings

runner = CliRunner()


@pytest.mark.usefixtures("clean_env")
def test_web_without_a_bus_says_how_to_give_one() -> None:
    result = runner.invoke(roles_app, ["web", "--port", "0"])

    assert result.exit_code == 2
    assert "SKYBERTH_BUS_URL=nats://HOST:PORT" in result.output


@pytest.mark.usefixtures("clean_env")
def test_gateway_refuses_a_bus_that_is_not_nats() -> None:
    result = runner.invoke(roles_app, ["gateway", "--bus", "http://127.0.0.1:4222"])

    assert result.exit_code == 2
    assert "bus_url" in result.output


@pytest.mark.usefixtures("clean_env")
def test_gateway_refuses_a_bad_mavlink_endpoint() -> None:
    result = runner.invoke(
        roles_app,
        ["gateway", "--bus", "nats://127.0.0.1:4222", "--mavlink", "udpin:nowhere"],
    )

    assert result.exit_code == 2
    assert "--mavlink" in result.output


@pytest.mark.usefixtures("clean_env")
def test_a_node_name_nats_cannot_carry_is_refused() -> None:
    result = runner.invoke(
        roles_app, ["web", "--bus", "nats://127.0.0.1:4222", "--name", "web.1"]
    )

    assert result.exit_code == 2
    assert "node_name" in result.output


def test_a_default_node_name_says_role_host_and_port() -> None:
    settings = Settings(role="web", bus_url="nats://127.0.0.1:4222", http_port=8001)

    name = settings.effective_node_name

    assert name.startswith("web-")
    assert name.endswith("-8001")
