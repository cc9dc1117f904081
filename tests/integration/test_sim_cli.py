"""The ``sim`` command: its help, its refusals, and a real process stopped by Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from simulator.cli import sim
from simulator.recordings import read_tlog
from simulator.scenarios import SCENARIOS
from tests.conftest import free_port

KEY_HEX = "5a" * 32


def app() -> typer.Typer:
    application = typer.Typer()
    application.command()(sim)
    return application


def test_help_describes_every_scenario_and_the_main_options() -> None:
    result = CliRunner().invoke(app(), ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name, cls in SCENARIOS.items():
        assert f"{name}" in result.output
        assert cls.summary.split(";")[0][:40] in result.output
    for option in ("--drones", "--to", "--scenario", "--site", "--api", "--token"):
        assert option in result.output
    for option in ("--speed", "--record", "--replay", "--mavlink1", "--rate-hz"):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "warp"], "unknown scenario 'warp'"),
        (["--to", "udp:127.0.0.1:1"], "must start with one of"),
        (["--scenario", "spoofed_sysid@2"], "needs a drone that signs"),
        (["--signing-key", "1:abc"], "signing key is not hex"),
        (["--signing-key", "x"], "write SYSID:HEX"),
        (["--corridor", "C9"], "no corridor 'C9'"),
        (["--drones", "300"], "less than or equal to 255"),
        (["--mavlink1", "--signing-key", f"1:{KEY_HEX}"], "MAVLink 1 cannot"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app(), args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_server_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app(), ["--api", url, "--token", "t"])
    assert result.exit_code == 2
    assert "cannot reach" in result.output


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app(), ["--to", f"tcpin:127.0.0.1:{port}"], env={"COLUMNS": "200"}
        )
    assert result.exit_code == 2
    assert f"tcpin:127.0.0.1:{port}: cannot listen" in result.output


def test_a_bad_scenario_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[drones]]\nsysid = 'one'\n", encoding="utf-8")
    result = CliRunner().invoke(app(), ["--scenario-file", str(path)])
    assert result.exit_code == 2
    assert "sysid must be a whole number" in result.output


def test_a_scenario_file_flies_to_its_end(tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    port = receiver.getsockname()[1]
    path = tmp_path / "script.toml"
    path.write_text(
        """
        duration_s = 8
        [[drones]]
        sysid = 42
        corridor = "C3"
        scenarios = [{ name = "link_loss", at_s = 2, duration_s = 3 }]
        """,
        encoding="utf-8",
    )
    try:
        args = ["--scenario-file", str(path), "--to", f"udpout:127.0.0.1:{port}"]
        result = CliRunner().invoke(app(), [*args, "--speed", "40"])
        assert result.exit_code == 0, result.output
        assert "sysid 42, C3 from P1, link_loss" in result.output
        assert "finished after 8.0 s simulated" in result.output
        receiver.settimeout(1.0)
        data, _ = receiver.recvfrom(4096)
        assert data[5] == 42
    finally:
        receiver.close()


@pytest.mark.slow
def test_a_running_simulator_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10.0)
    port = receiver.getsockname()[1]
    tlog = tmp_path / "run.tlog"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--drones",
            "2",
            "--to",
            f"udpout:127.0.0.1:{port}",
            "--speed",
            "5",
            "--progress-s",
            "0.3",
            "--record",
            str(tlog),
            "--repeat",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        received = 0
        deadline = time.monotonic() + 20.0
        while received < 100 and time.monotonic() < deadline:
            receiver.recvfrom(4096)
            received += 1
        assert received == 100
        time.sleep(0.5)  # a progress line or two
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10.0)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        receiver.close()
    assert process.returncode == 0, stderr
    assert "stopped after" in stderr
    assert "| flying 2/2 |" in stderr
    assert "msg/s" in stderr
    assert "Traceback" not in stderr
    assert len(read_tlog(tlog)) >= 100
