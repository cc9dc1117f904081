"""The audit hash chain: canonical form, hashing, and verification of tampering."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from booking.audit_chain import (
    GENESIS_HASH,
    canonical_content,
    canonical_time,
    chained,
    link_hash,
    verify_chain,
)

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def content(i: int) -> dict[str, Any]:
    return {
        "at": T0 + timedelta(seconds=i, microseconds=7),
        "actor_id": f"user-{i % 3}",
        "actor_role": "safety_officer",
        "action": "incident.noted",
        "subject_kind": "incident",
        "subject_id": str(i // 2),
        "before_json": None,
        "after_json": '{"state": "open"}' if i % 2 else None,
        "note": f"note {i} ünïcode",
    }


def chain(n: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev = GENESIS_HASH
    for i in range(n):
        record = {"id": i + 1, **chained(prev, content(i))}
        records.append(record)
        prev = record["hash"]
    return records


def test_hash_is_sha256_of_prev_hash_and_canonical_json() -> None:
    values = content(1)
    expected = hashlib.sha256(
        (GENESIS_HASH + canonical_content(values)).encode()
    ).hexdigest()
    assert link_hash(GENESIS_HASH, values) == expected
    assert canonical_content(values).startswith('{"action":"incident.noted",')
    assert '"at":"2026-11-25T02:00:01.000007Z"' in canonical_content(values)


def test_canonical_form_ignores_key_order_extra_keys_and_time_zone() -> None:
    values = content(2)
    shuffled = dict(reversed(list(values.items())))
    shuffled["id"] = 99
    hk = timezone(timedelta(hours=8))
    shuffled["at"] = values["at"].astimezone(hk)
    assert canonical_content(shuffled) == canonical_content(values)
    naive = values["at"].replace(tzinfo=None)
    assert canonical_time(naive) == canonical_time(values["at"])


def test_canonical_form_refuses_a_missing_field_or_a_non_time() -> None:
    values = content(0)
    del values["note"]
    with pytest.raises(KeyError):
        canonical_content(values)
    with pytest.raises(ValueError, match="datetime"):
        canonical_content({**content(0), "at": "2026-11-25"})


def test_an_untouched_chain_verifies() -> None:
    records = chain(20)
    report = verify_chain(records)
    assert report.intact
    assert report.records == 20
    assert report.head_hash == records[-1]["hash"]
    assert report.head_id == 20
    assert records[0]["prev_hash"] == GENESIS_HASH


def test_an_empty_chain_verifies() -> None:
    report = verify_chain([])
    assert report.intact
    assert report.records == 0
    assert report.head_hash == GENESIS_HASH


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("note", "nothing to see"),
        ("actor_id", "someone-else"),
        ("after_json", '{"state": "closed"}'),
        ("at", T0 + timedelta(hours=1)),
    ],
)
def test_an_edited_record_is_the_one_break_found(column: str, value: object) -> None:
    records = chain(10)
    records[4][column] = value
    report = verify_chain(records)
    assert report.break_count == 1
    broken = report.first_break
    assert broken is not None
    assert (broken.record_id, broken.column) == (5, "hash")
    assert broken.found == records[4]["hash"]
    assert broken.expected == link_hash(records[4]["prev_hash"], records[4])
    assert "edited" in str(broken)


def test_a_deleted_record_breaks_the_next_ones_link() -> None:
    records = chain(10)
    removed = records.pop(6)  # id 7
    report = verify_chain(records)
    assert report.break_count == 1
    broken = report.first_break
    assert broken is not None
    assert (broken.record_id, broken.column) == (8, "prev_hash")
    assert broken.expected == records[5]["hash"]
    assert broken.found == removed["hash"]
    assert "removed" in str(broken)


def test_a_rehashed_edit_breaks_the_next_link() -> None:
    records = chain(10)
    records[2]["note"] = "forged"
    records[2]["hash"] = link_hash(records[2]["prev_hash"], records[2])
    report = verify_chain(records)
    assert report.break_count == 1
    assert report.first_break is not None
    assert (report.first_break.record_id, report.first_break.column) == (
        4,
        "prev_hash",
    )


def test_a_record_without_hashes_is_a_break() -> None:
    records = chain(3)
    records[1]["hash"] = None
    report = verify_chain(records)
    assert report.first_break is not None
    assert report.first_break.record_id == 2
    assert report.first_break.found is None
    assert "(none)" in str(report.first_break)


def test_two_tamperings_are_two_breaks_in_order() -> None:
    records = chain(12)
    records[3]["note"] = "x"
    del records[8]
    report = verify_chain(records)
    assert [(b.record_id, b.column) for b in report.breaks] == [
        (4, "hash"),
        (10, "prev_hash"),
    ]
