"""The token key fails closed: a default ``skyberth serve`` never signs or accepts
tokens with the public development key (issue 16's first finding)."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from typer.testing import CliRunner

from tests.integration.live_server import live_server
from web.auth import create_access_token
from web.cli import app
from web.secret_key import SECRET_KEY_FILE, SecretKeyError, with_secret_key
from web.settings import DEV_SECRET, Settings


@pytest.mark.usefixtures("clean_env")
def test_a_default_serve_refuses_a_token_signed_with_the_public_development_key(
    tmp_path: Path,
) -> None:
    with live_server(tmp_path) as server:
        forged = create_access_token(
            "site_admin",
            "site_admin",
            DEV_SECRET,
            datetime.now(UTC),
            timedelta(hours=1),
        )
        refused = httpx2.get(
            server.base_url + "/api/v1/audit",
            headers={"Authorization": f"Bearer {forged}"},
            timeout=10,
        )
        allowed = server.get("site_admin", "/api/v1/audit")
        log = server.log()
    assert refused.status_code == 401, refused.text
    assert "invalid token" in refused.json()["detail"]
    assert allowed.status_code == 200, allowed.text
    key_file = tmp_path / SECRET_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"generated a token signing key in {key_file}" in log


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "0"],
        ["gateway", "--bus", "nats://127.0.0.1:1", "--port", "0"],
        ["web", "--bus", "nats://127.0.0.1:1", "--port", "0"],
    ],
    ids=["serve", "gateway", "web"],
)
@pytest.mark.usefixtures("clean_env")
def test_the_server_commands_refuse_the_public_key_unless_a_dev_run_is_asked(
    command: list[str], tmp_path: Path
) -> None:
    env = {"SKYBERTH_DATA_DIR": str(tmp_path), "SKYBERTH_SECRET_KEY": DEV_SECRET}
    result = CliRunner().invoke(app, command, env=env)
    assert result.exit_code == 2, result.output
    # Typer draws the message in a box; read it as one line of words.
    said = " ".join(re.sub("[\u2500-\u257f]", " ", result.output).split())
    assert "SKYBERTH_SECRET_KEY is the public development key" in said
    assert "SKYBERTH_ENV=dev" in said


@pytest.mark.usefixtures("clean_env")
def test_only_a_dev_or_test_run_signs_with_the_public_key(tmp_path: Path) -> None:
    assert Settings(env="dev", data_dir=tmp_path).secret_key == DEV_SECRET
    assert Settings(env="test", data_dir=tmp_path).secret_key == DEV_SECRET
    assert Settings(data_dir=tmp_path).secret_key == ""


@pytest.mark.usefixtures("clean_env")
def test_the_generated_key_is_kept_across_starts_and_a_configured_one_wins(
    tmp_path: Path,
) -> None:
    first = with_secret_key(Settings(data_dir=tmp_path)).secret_key
    again = with_secret_key(Settings(data_dir=tmp_path)).secret_key
    configured = "a-configured-key-that-is-long-enough-for-hs256"
    given = with_secret_key(Settings(data_dir=tmp_path, secret_key=configured))
    assert first == again
    assert len(first) >= 32
    assert first != DEV_SECRET
    assert given.secret_key == configured


@pytest.mark.usefixtures("clean_env")
def test_a_key_file_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    key_file = tmp_path / SECRET_KEY_FILE
    key_file.write_text("x" * 64)
    key_file.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        with_secret_key(Settings(data_dir=tmp_path))
