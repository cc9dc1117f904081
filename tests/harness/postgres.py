"""PostgreSQL for the harness: a throwaway cluster of its own (``initdb`` on a free
port, for restart faults) or a fresh, migrated database on a running server."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.harness.ports import free_port
from web.db import make_engine
from web.migrate import upgrade


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb``, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """A throwaway PostgreSQL cluster (initdb in a temp dir, its own port).

    For the restart fault test: never the machine's main server. As root the
    server runs as the ``postgres`` user, as PostgreSQL insists, in a directory of
    its own under the system temp dir (``remove`` deletes it).
    """

    def __init__(self, port: int | None = None) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise FileNotFoundError("no PostgreSQL binaries in /usr/lib/postgresql")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="skyberth-pg-"))
        self.port = port or free_port()
        self.data = self.root / "pgdata"
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        if done.returncode:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )

    def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w",
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop; ``mode="immediate"`` is a crash (no checkpoint, clients cut)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop if running and delete the cluster's directory."""
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(
    admin_url: str, *, migrate: bool = True, prefix: str = "skyberth_scale"
) -> Iterator[str]:
    """A new database on the server of ``admin_url`` (migrated unless ``migrate`` is
    False), named ``<prefix>_<random>``; its URL is yielded, and it is dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    if migrate:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    try:
        yield url
    finally:
        with contextlib.suppress(Exception), admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
