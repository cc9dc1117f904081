"""How a scale-out process is started on one machine: its command line and its
environment, shared by ``skyberth cluster`` (``make cluster``) and the fault tests'
cluster harness, so the documented way is the tested one (docs/bus.md).

Every process is ``python -m web.cli_roles gateway|web`` with ``--bus``, ``--name``
and ``--port``; everything else comes from ``SKYBERTH_*`` variables, the same on
every process of the deployment except the data directory and MAVLink endpoints.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

ProcessRole = Literal["gateway", "web"]


def role_command(
    role: ProcessRole, name: str, http_port: int, bus_url: str
) -> list[str]:
    """The command line of one ``skyberth gateway`` or ``skyberth web`` process."""
    return [
        sys.executable, "-m", "web.cli_roles", role, "--bus", bus_url,
        "--name", name, "--port", str(http_port),
    ]  # fmt: skip


def role_environment(
    base: Mapping[str, str],
    *,
    data_dir: Path,
    database_url: str,
    secret_key: str,
    udp_ports: Sequence[int] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``base`` plus the variables every process of a deployment needs: its own
    data directory and UDP listeners (``127.0.0.1:<port>``), the shared database
    and token key; ``extra`` (``SKYBERTH_DEPLOYMENT``, ...) last."""
    return {
        **base,
        "SKYBERTH_DATA_DIR": str(data_dir),
        "SKYBERTH_DATABASE_URL": database_url,
        "SKYBERTH_SECRET_KEY": secret_key,
        "SKYBERTH_MAVLINK": json.dumps([f"udpin:127.0.0.1:{p}" for p in udp_ports]),
        **(extra or {}),
    }


def wait_healthy(
    base_url: str,
    alive: Callable[[], bool],
    timeout_s: float,
    describe: Callable[[], str] = str,
) -> None:
    """Wait until ``GET base_url/healthz`` answers 200; RuntimeError (with
    ``describe()``, e.g. the log's tail) when ``alive()`` turns false or time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(urllib.error.URLError, OSError):
            with urllib.request.urlopen(base_url + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        if not alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{base_url} did not start: {describe()}")
        time.sleep(0.1)
