"""Shared fixtures: settings on a temporary data directory, free ports, services."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

import telemetry.mavlink.tlog as tlog_module
from tests.harness.ports import free_port as free_port  # re-exported for the tests
from web.settings import Settings

# Property tests check results, not speed: hypothesis's default 200 ms per example
# failed a correct test on a machine busy with the rest of the suite.
hypothesis_settings.register_profile("skyberth", deadline=None)
hypothesis_settings.load_profile("skyberth")

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for one test: its own data directory and SQLite file."""
    return Settings(
        env="test", data_dir=tmp_path, http_port=0, mavlink=["udpin:127.0.0.1:0"]
    )


def service_available(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, port: int, host: str = "127.0.0.1") -> None:
    """Skip locally, but fail on CI, when a needed service is not running."""
    if service_available(port, host):
        return
    message = f"{name} is not running on {host}:{port}"
    if ON_CI:
        pytest.fail(f"{message}; CI must start it (.ci/services.sh)")
    pytest.skip(message)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every SKYBERTH_* variable so a test sees only the defaults."""
    for key in list(os.environ):
        if key.startswith("SKYBERTH_"):
            monkeypatch.delenv(key)


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every tlog a writer reads through for a torn record, in order."""
    seen: list[Path] = []
    real = tlog_module.complete_length

    def counting(path: str | os.PathLike[str]) -> int:
        seen.append(Path(path))
        return real(path)

    monkeypatch.setattr(tlog_module, "complete_length", counting)
    return seen
