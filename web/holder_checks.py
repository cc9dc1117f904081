"""Re-reading the users behind open live sockets: one read per user per beat.

An open ``/ws/live`` re-reads its user every ``SKYBERTH_SESSION_CHECK_S`` seconds,
so that a revoked token (password changed, account disabled) ends the stream
(``web.routes.live``). Each socket reading on its own made a hundred sockets of
one safety officer a hundred database sessions a second in worker threads, about
a twentieth of a core under the issue-21 benchmark. The sockets now check on a
shared beat, the whole multiples of ``check_s`` on the monotonic clock, and the
sockets of one user that check at one beat share one read. A revocation is still
noticed within ``check_s``.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session

from booking.model import User
from booking.user_repository import SqlUsers


def next_beat(check_s: float, now_s: float | None = None) -> float:
    """The next whole multiple of ``check_s`` on the monotonic clock after ``now_s``
    (``time.monotonic()`` when None)."""
    now_s = time.monotonic() if now_s is None else now_s
    return (now_s // check_s + 1) * check_s


class HolderChecks:
    """Reads users for the sockets that check at a beat, once per (user, beat)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reading: dict[tuple[str, float], asyncio.Future[User | None]] = {}
        self.reads = 0
        """Database reads so far (for tests and the curious)."""

    async def user(self, user_id: str, beat: float) -> User | None:
        """The user ``user_id`` as stored now: read once for every caller that
        asks for it at ``beat`` while the read is under way."""
        key = (user_id, beat)
        reading = self._reading.get(key)
        if reading is None:
            self.reads += 1
            reading = asyncio.ensure_future(asyncio.to_thread(self._read, user_id))
            self._reading[key] = reading
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        # A cancelled socket must not cancel the read the others wait for.
        return await asyncio.shield(reading)

    def _read(self, user_id: str) -> User | None:
        return read_user(self._engine, user_id)


def read_user(engine: Engine, user_id: str) -> User | None:
    """The user ``user_id`` as stored now (None: no longer exists)."""
    with Session(engine) as session:
        return SqlUsers(session).get(user_id)
