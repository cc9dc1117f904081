"""Adding up the gateways' link reports (``telemetry.live.bus.control``)."""

from __future__ import annotations

from typing import Any

from telemetry.live.bus.control import LinkReport, fleet_links


def _report(node: str, received_s: float, vehicles: int, tick_ms: float) -> LinkReport:
    body: dict[str, Any] = {
        "node": node,
        "links": [{"link_id": f"udpin:127.0.0.1:1455{node[-1]}", "streams": []}],
        "vehicles": vehicles,
        "tick_ms_last": tick_ms,
        "tick_ms_max": tick_ms * 2,
    }
    return LinkReport(node, received_s, body)


def test_fleet_links_tags_each_link_with_its_gateway_and_sums_vehicles() -> None:
    got = fleet_links(
        [_report("gw-1", 99.0, 3, 1.5), _report("gw-2", 100.0, 4, 0.5)], 100.5
    )
    assert [(row["node"], row["link_id"]) for row in got["links"]] == [
        ("gw-1", "udpin:127.0.0.1:14551"),
        ("gw-2", "udpin:127.0.0.1:14552"),
    ]
    assert got["vehicles"] == 7
    assert (got["tick_ms_last"], got["tick_ms_max"]) == (1.5, 3.0)
    assert [(g["node"], g["age_s"]) for g in got["gateways"]] == [
        ("gw-1", 1.5),
        ("gw-2", 0.5),
    ]


def test_no_reports_add_up_to_an_empty_fleet() -> None:
    assert fleet_links([], 0.0) == {
        "links": [],
        "vehicles": 0,
        "tick_ms_last": 0.0,
        "tick_ms_max": 0.0,
        "gateways": [],
    }
