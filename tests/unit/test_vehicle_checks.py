"""The gateway's per-vehicle checks as pure functions: state and ``now`` in, the new
flag and the alert out (``telemetry.live.checks``)."""

from __future__ import annotations

import math

from telemetry.live.checks import (
    battery_check,
    fence_check,
    fence_disagreement_check,
    link_alert,
    spoof_alert,
)
from telemetry.live.vehicles import VehicleState


def _vehicle(*, site_id: str | None = "pier", armed: bool = True) -> VehicleState:
    v = VehicleState("udp:14550", 7, 100.0)
    v.site_id = site_id
    v.armed = armed
    return v


def test_link_is_lost_after_the_timeout_and_restored_when_heard_again() -> None:
    v = _vehicle()

    assert link_alert(v, 102.0, 3.0, -math.inf) is None
    lost = link_alert(v, 104.0, 3.0, -math.inf)
    assert lost is not None
    assert lost.kind == "link_lost"
    assert lost.details == {"silent_s": 4.0, "timeout_s": 3.0}
    assert lost.message == "sysid 7: link lost (silent 4.0 s)"

    v.link_lost = True
    v.last_message_s = 104.0
    restored = link_alert(v, 104.5, 3.0, -math.inf)
    assert restored is not None
    assert restored.kind == "link_restored"


def test_link_loss_waits_while_the_link_is_paused_or_the_vehicle_has_no_site() -> None:
    assert link_alert(_vehicle(), 104.0, 3.0, paused_until_s=105.0) is None
    assert link_alert(_vehicle(site_id=None), 104.0, 3.0, -math.inf) is None


def test_low_battery_alerts_once_in_flight_and_clears_five_points_above() -> None:
    v = _vehicle()
    v.battery_pct = 19

    low, alert = battery_check(v, 20)
    assert low
    assert alert is not None
    assert alert.details == {"battery_pct": 19, "threshold_pct": 20}

    v.low_battery, v.battery_pct = True, 24
    assert battery_check(v, 20) == (True, None)
    v.battery_pct = 25
    assert battery_check(v, 20) == (False, None)


def test_low_battery_on_the_ground_raises_nothing() -> None:
    v = _vehicle(armed=False)
    v.battery_pct = 5
    assert battery_check(v, 20) == (False, None)


def test_fence_breach_is_raised_once_and_cleared_when_the_autopilot_clears_it() -> None:
    v = _vehicle()
    v.fence_breach = True

    raised, alert = fence_check(v, raised=False)
    assert raised
    assert alert is not None
    assert alert.kind == "fence_breach"
    assert fence_check(v, raised=True) == (True, None)

    v.fence_breach = False
    assert fence_check(v, raised=True) == (False, None)


def test_spoofed_frames_alert_names_the_count_sysid_and_link() -> None:
    alert = spoof_alert("udp:14550", 7, 12)
    assert alert.kind == "spoofed_frames"
    assert alert.details == {"frames": 12, "link_id": "udp:14550"}
    assert "12 frame(s) claiming sysid 7" in alert.message


def _fenced(state_code: int, conformance: str, breach: bool) -> VehicleState:
    v = _vehicle()
    v.fence_reported = True
    v.state_code, v.conformance, v.fence_breach = state_code, conformance, breach
    return v


def test_autopilot_breach_that_skyberth_does_not_see_warns_after_the_hold() -> None:
    v = _fenced(0, "inside", breach=True)
    assert fence_disagreement_check(v, 10.0, 5.0) is None
    assert fence_disagreement_check(v, 14.9, 5.0) is None
    alert = fence_disagreement_check(v, 15.0, 5.0)
    assert alert is not None
    assert alert.kind == "fence_disagreement"
    assert alert.details == {"autopilot": "breach", "skyberth": "inside", "for_s": 5.0}
    assert fence_disagreement_check(v, 16.0, 5.0) is None  # once per episode
    v.fence_breach = False  # they agree again: cleared, may warn again later
    assert fence_disagreement_check(v, 17.0, 5.0) is None
    assert not v.fence_disagreement


def test_skyberth_breach_the_autopilot_does_not_see_warns_too() -> None:
    v = _fenced(3, "outside_lateral", breach=False)
    fence_disagreement_check(v, 0.0, 5.0)
    alert = fence_disagreement_check(v, 5.0, 5.0)
    assert alert is not None
    assert "the autopilot's fence says inside, SkyBerth says outside lateral" in (
        alert.message
    )


def test_no_disagreement_without_a_fence_on_board_or_for_a_vertical_exit() -> None:
    silent = _fenced(3, "outside_lateral", breach=False)
    silent.fence_reported = False
    assert fence_disagreement_check(silent, 0.0, 0.0) is None
    vertical = _fenced(2, "outside_vertical", breach=False)
    assert fence_disagreement_check(vertical, 0.0, 0.0) is None
    assert fence_disagreement_check(vertical, 9.0, 0.0) is None
