"""The wing's front door: every public name resolves, and loading the tlog format
alone (as the simulator does) does not load the codec and transports."""

from __future__ import annotations

import subprocess
import sys

import telemetry.mavlink as wing


def test_every_public_name_resolves_to_its_modules_object() -> None:
    for name in wing.__all__:
        value = getattr(wing, name)
        home = wing._HOME[name]
        module = sys.modules[f"telemetry.mavlink.{home}"]
        assert value is getattr(module, name), name


def test_public_names_and_their_homes_agree() -> None:
    assert sorted(wing.__all__) == sorted(wing._HOME)


def test_importing_the_tlog_format_loads_nothing_else_of_the_wing() -> None:
    code = (
        "import sys, telemetry.mavlink.tlog\n"
        "print(sorted(m for m in sys.modules if m.startswith('telemetry')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "['telemetry', 'telemetry.mavlink', 'telemetry.mavlink.tlog']"
