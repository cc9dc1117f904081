"""The live sockets' re-reads of their users (``web.holder_checks``) on a real
database: one read per user and beat however many sockets ask, and a change made
in the database is seen at the next beat."""

from __future__ import annotations

import asyncio
import dataclasses

from sqlalchemy.engine import Engine

from booking.model import Role, User
from booking.user_repository import SqlUsers
from tests.integration.conftest import seed_user
from web.db import write_session
from web.holder_checks import HolderChecks, next_beat


def test_the_next_beat_is_the_next_whole_multiple_of_the_period() -> None:
    assert next_beat(1.0, 10.0) == 11.0
    assert next_beat(1.0, 10.4) == 11.0
    assert next_beat(0.5, 10.74) == 11.0
    assert next_beat(2.0, 3.99) == 4.0


async def test_sockets_of_one_user_share_one_read_per_beat(
    sqlite_engine: Engine,
) -> None:
    officer = seed_user(sqlite_engine, "officer", Role.SAFETY_OFFICER, None)
    pilot = seed_user(sqlite_engine, "pilot", Role.PILOT, "op-1")
    checks = HolderChecks(sqlite_engine)

    async def sockets_at(beat: float) -> list[User | None]:
        asks = [checks.user(officer.id, beat) for _ in range(100)]
        asks.append(checks.user(pilot.id, beat))
        return list(await asyncio.gather(*asks))

    first = await sockets_at(1.0)
    assert checks.reads == 2  # one per user, not one per socket
    assert {u.name for u in first if u is not None} == {officer.name, pilot.name}

    with write_session(sqlite_engine) as session:
        SqlUsers(session).save(dataclasses.replace(officer, disabled=True))
    second = await sockets_at(2.0)
    assert checks.reads == 4
    assert all(u is not None and u.disabled for u in second[:100])


async def test_a_cancelled_socket_does_not_cancel_the_read_others_wait_for(
    sqlite_engine: Engine,
) -> None:
    officer = seed_user(sqlite_engine, "officer", Role.SAFETY_OFFICER, None)
    checks = HolderChecks(sqlite_engine)
    leaving = asyncio.ensure_future(checks.user(officer.id, 5.0))
    staying = asyncio.ensure_future(checks.user(officer.id, 5.0))
    await asyncio.sleep(0)
    leaving.cancel()
    user = await staying
    assert user is not None
    assert user.id == officer.id
    assert checks.reads == 1
