"""A vehicle's evidence rings: raw frames kept once as tlog records; positions."""

from __future__ import annotations

from telemetry.live.vehicles import KEEP_S, VehicleState
from telemetry.mavlink.messages import GlobalPosition
from telemetry.mavlink.tlog import encode_record

T0 = 1_795_000_000.0


def frame(i: int) -> bytes:
    return bytes([0xFD, 1, 0, 0, i % 256, 7, 1, 33, 0, 0, i % 256, 0xAA, 0xBB])


def test_frames_handed_to_the_tlog_stay_in_the_ring_until_keep_s() -> None:
    v = VehicleState("udp:14550", 7, T0)
    handed: list[bytes] = []
    for second in range(int(KEEP_S) + 10):
        for k in range(4):
            v.record_frame(T0 + second + k / 4, frame(second * 4 + k))
        records, count = v.take_tlog()
        assert count == 4
        handed.append(records)
    v.record_frame(T0 + KEEP_S + 10.5, frame(999))  # not handed over yet

    # What was handed over is exactly the tlog records of those frames.
    assert handed[0] == b"".join(encode_record(T0 + k / 4, frame(k)) for k in range(4))
    assert v.take_tlog()[1] == 1
    assert v.take_tlog() == (b"", 0)

    # The ring answers any window of the last KEEP_S seconds, handed over or not.
    end = T0 + KEEP_S + 10.5
    window = v.frames(end - 2.0, end)
    sent = [s + k / 4 for s in range(int(KEEP_S) + 10) for k in range(4)]
    expected = [t for t in [*sent, KEEP_S + 10.5] if t >= KEEP_S + 8.5]
    assert [round(t - T0, 2) for t, _ in window] == expected
    assert window[-1][1] == frame(999)
    oldest = min(t for t, _ in v.frames())
    assert oldest >= end - KEEP_S - 1.0


def test_positions_are_kept_with_the_state_stamped_on_the_newest() -> None:
    v = VehicleState("udp:14550", 7, T0)
    for i in range(5):
        v.apply(
            GlobalPosition(
                sysid=7,
                compid=1,
                t_s=T0 + i / 10,
                time_boot_ms=i * 100,
                lat_deg=22.26 + i * 1e-5,
                lon_deg=114.13,
                alt_amsl_m=60.0,
                rel_alt_m=58.0,
                vn_mps=1.0,
                ve_mps=0.5,
                vd_mps=0.0,
                heading_deg=None,
            )
        )
        v.mark_state(i % 3)
    samples = v.samples()
    assert [s.t_s for s in samples] == [T0 + i / 10 for i in range(5)]
    assert [s.state_code for s in samples] == [0, 1, 2, 0, 1]
    assert samples[-1].lat_deg == 22.26 + 4e-5
    assert all(s.heading_deg != s.heading_deg for s in samples)  # NaN: none reported
