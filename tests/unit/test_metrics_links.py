"""Link totals for ``/metrics``: one series per link, never per TCP peer, and
counters that do not fall back when a connection closes."""

from __future__ import annotations

from typing import Any

from web.metrics import LinkTotals

LINK = "tcpin:0.0.0.0:5760"


def stream(peer_port: int, frames_ok: int, **more: int) -> dict[str, Any]:
    return {"link_id": f"{LINK}#127.0.0.1:{peer_port}", "frames_ok": frames_ok, **more}


def test_streams_of_one_link_are_summed_under_the_link_id() -> None:
    totals = LinkTotals().update(
        [stream(40001, 10, bad_crc=1), stream(40002, 5), {"link_id": "udpin:x:1"}]
    )
    assert set(totals) == {LINK, "udpin:x:1"}
    assert totals[LINK]["frames_ok"] == 15
    assert totals[LINK]["bad_crc"] == 1


def test_a_link_keeps_the_counts_of_a_connection_that_closed() -> None:
    links = LinkTotals()
    links.update([stream(40001, 10, seq_lost=2)])
    totals = links.update([stream(40002, 3)])  # the drone reconnected
    assert totals[LINK]["frames_ok"] == 13
    assert totals[LINK]["seq_lost"] == 2
    assert links.update([])[LINK]["frames_ok"] == 13
