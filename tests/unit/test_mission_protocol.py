"""Fence upload and read-back, sans I/O: our ground-station machines against the
simulator's own sans-I/O autopilot (``simulator.mavlink_in.VehicleResponder``),
every message packed and parsed by pymavlink (MAVLink 2) in between."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulator.mavlink_in import VehicleResponder
from telemetry.mavlink.mission_protocol import (
    CMD_EXCLUSION,
    CMD_INCLUSION,
    MAX_RETRIES,
    TIMEOUT_S,
    FenceDownload,
    FenceUpload,
    TransferDone,
    TransferFailed,
    compare_fences,
    fence_differences,
    fence_items,
)

VEHICLE = (1, 1)
GCS = (245, 190)
SQUARE = [
    (114.1290, 22.2610),
    (114.1300, 22.2610),
    (114.1300, 22.2620),
    (114.1290, 22.2620),
]
TRIANGLE = [(114.1294, 22.2614), (114.1296, 22.2614), (114.1295, 22.2616)]
ITEMS = fence_items([(True, SQUARE), (False, TRIANGLE)])


class Autopilot:
    def return_to_launch(self) -> bool:
        return True

    def land(self) -> bool:
        return True

    def loiter(self) -> bool:
        return True


def _wire(sender: tuple[int, int]) -> Callable[[Any], Any]:
    packer = mavlink.MAVLink(None, *sender)
    parser = mavlink.MAVLink(None)

    def carry(msg: Any) -> Any:
        (parsed,) = parser.parse_buffer(msg.pack(packer))
        return parsed

    return carry


def shuttle(
    gcs: FenceUpload | FenceDownload,
    vehicle: VehicleResponder | None,
    drop: Callable[[Any], bool] = lambda m: False,
    limit_s: float = 60.0,
) -> float:
    """Run the exchange to its outcome on a simulated clock; return the time."""
    up, down = _wire(GCS), _wire(VEHICLE)
    now = 0.0
    outbox = gcs.start(now)
    while gcs.outcome is None and now < limit_s:
        replies: list[Any] = []
        for msg in outbox:
            if vehicle is not None:
                replies += vehicle.handle(up(msg), now)
        outbox = []
        for reply in replies:
            if drop(reply):
                continue
            outbox += gcs.receive(down(reply), now)
        if not outbox and gcs.outcome is None:
            now += 0.1
            if vehicle is not None:
                for reply in vehicle.poll(now):
                    if not drop(reply):
                        outbox += gcs.receive(down(reply), now)
            outbox += gcs.poll(now)
    return now


def test_upload_then_download_returns_the_same_items() -> None:
    vehicle = VehicleResponder(Autopilot())
    upload = FenceUpload(VEHICLE, ITEMS)
    shuttle(upload, vehicle)
    assert upload.outcome == TransferDone(ITEMS)
    assert vehicle.fence is not None
    download = FenceDownload(VEHICLE)
    shuttle(download, vehicle)
    assert isinstance(download.outcome, TransferDone)
    assert compare_fences(ITEMS, download.outcome.items) == []


def test_items_carry_their_polygons_vertex_count_in_1e7_degrees() -> None:
    assert [i.command for i in ITEMS] == [CMD_INCLUSION] * 4 + [CMD_EXCLUSION] * 3
    assert [i.param1 for i in ITEMS] == [4.0] * 4 + [3.0] * 3
    assert (ITEMS[0].lat_e7, ITEMS[0].lon_e7) == (222610000, 1141290000)


def test_a_lost_mission_request_int_is_recovered_by_the_retry() -> None:
    vehicle = VehicleResponder(Autopilot())
    lost: list[int] = []

    def drop_second_request(msg: Any) -> bool:
        if msg.get_type() == "MISSION_REQUEST_INT" and msg.seq == 2 and not lost:
            lost.append(msg.seq)
            return True
        return False

    upload = FenceUpload(VEHICLE, ITEMS)
    took = shuttle(upload, vehicle, drop_second_request)
    assert lost == [2]
    assert upload.outcome == TransferDone(ITEMS)
    assert took >= TIMEOUT_S  # waited once for the timeout


def test_a_mission_ack_error_fails_the_upload_with_the_vehicles_reason() -> None:
    vehicle = VehicleResponder(Autopilot())
    too_many = fence_items([(True, SQUARE * 200)])  # over the simulator's storage
    upload = FenceUpload(VEHICLE, too_many)
    shuttle(upload, vehicle)
    assert upload.outcome == TransferFailed(
        "vehicle answered MAV_MISSION_NO_SPACE",
        "MAV_MISSION_NO_SPACE",
        code="vehicle_answered",
        params={"result": "MAV_MISSION_NO_SPACE"},
    )


def test_a_vehicle_that_never_answers_fails_after_the_specs_retries() -> None:
    upload = FenceUpload(VEHICLE, ITEMS)
    took = shuttle(upload, None)
    assert isinstance(upload.outcome, TransferFailed)
    assert upload.outcome.result is None
    assert "no answer" in upload.outcome.reason
    assert upload.outcome.code == "no_answer"
    assert upload.outcome.params == {"retries": MAX_RETRIES, "message": "MISSION_COUNT"}
    # Six waits of 1.5 s, each seen on the next 0.1 s step of the simulated clock.
    assert took == pytest.approx(TIMEOUT_S * (MAX_RETRIES + 1), abs=0.7)


def test_a_different_stored_fence_is_a_mismatch_naming_the_item() -> None:
    vehicle = VehicleResponder(Autopilot())
    moved = list(ITEMS)
    moved[1] = type(moved[1])(
        moved[1].command, moved[1].param1, moved[1].lat_e7 + 50, moved[1].lon_e7
    )
    shuttle(FenceUpload(VEHICLE, moved), vehicle)
    download = FenceDownload(VEHICLE)
    shuttle(download, vehicle)
    assert isinstance(download.outcome, TransferDone)
    (problem,) = compare_fences(ITEMS, download.outcome.items)
    assert problem.startswith("item 1: vertex")
    (difference,) = fence_differences(ITEMS, download.outcome.items)
    assert (difference.code, difference.params["item"]) == ("vertex", 1)
    assert str(difference) == problem


def test_messages_from_another_system_are_ignored() -> None:
    upload = FenceUpload(VEHICLE, ITEMS)
    upload.start(0.0)
    stranger = _wire((9, 1))
    request = mavlink.MAVLink_mission_request_int_message(*GCS, 0, 1)
    assert upload.receive(stranger(request), 0.1) == []
