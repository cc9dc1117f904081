"""A private ``nats-server`` with JetStream on a port and store of its own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.harness.ports import free_port, wait_port

NATS_BIN = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer:
    """A private ``nats-server -js`` on a free port; its store survives restarts."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        if not Path(NATS_BIN).exists():
            raise FileNotFoundError(f"nats-server not found (looked for {NATS_BIN})")
        self.root = root
        self.port = port or free_port()
        self.store = root / "nats-store"
        self.log = root / "nats.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [
                NATS_BIN,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store),
                "-l",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, 10, "nats-server")

    def stop(self, *, kill: bool = False) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        proc.wait(timeout=10)

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
