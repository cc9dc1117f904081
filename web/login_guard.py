"""Login throttling: failed attempts limited per user name and per client address.

Failures are counted in moving windows by the ``limits`` library (in this process's
memory: each web process counts its own). Two windows per key make the back-off: a
short one (``5/minute``) stops a burst, a long one (``30/hour``) stops a patient
guesser once the short window has been used up a few times. A refused attempt gets
``429`` with ``Retry-After`` and never reaches argon2, so a flood costs no hashing.
Successful logins are not counted; a success clears the name's failures.

Argon2 is deliberately slow and memory-hungry (~50 ms, 64 MiB per check), so at
most ``password_checks_at_once`` run together; others wait for a slot.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from telemetry.log_limits import RateLimitedLog

logger = logging.getLogger(__name__)

HASH_SLOT_WAIT_S = 30.0
"""How long a login waits for an argon2 slot before it is refused (503)."""


class PasswordChecksBusy(RuntimeError):
    """Every argon2 slot stayed taken for ``HASH_SLOT_WAIT_S``."""


class LoginGuard:
    """Counts failed logins and says when a name or address must wait."""

    def __init__(
        self, per_name: str, per_address: str, checks_at_once: int = 2
    ) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_name: list[RateLimitItem] = parse_many(per_name)
        self._per_address: list[RateLimitItem] = parse_many(per_address)
        self._slots = threading.BoundedSemaphore(checks_at_once)
        self._log = RateLimitedLog(logger, 10.0)

    def _keys(self, name: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [
            *((item, "name", name) for item in self._per_name),
            *((item, "address", address) for item in self._per_address),
        ]

    def wait_s(self, name: str, address: str) -> float | None:
        """Seconds until ``name`` from ``address`` may try again; None: now."""
        waits = [
            self._limiter.get_window_stats(item, kind, key).reset_time - time.time()
            for item, kind, key in self._keys(name, address)
            if not self._limiter.test(item, kind, key)
        ]
        if not waits:
            return None
        wait_s = max(1.0, math.ceil(max(waits)))
        self._log(
            logging.WARNING,
            f"throttled:{name}:{address}",
            "login for %r from %s throttled for %.0f s (too many failures)",
            name,
            address,
            wait_s,
        )
        return wait_s

    def failed(self, name: str, address: str, reason: str) -> None:
        """Count a failed login and log it (rate-limited per name and address)."""
        for item, kind, key in self._keys(name, address):
            self._limiter.hit(item, kind, key)
        self._log(
            logging.WARNING,
            f"failed:{name}:{address}",
            "failed login for %r from %s: %s",
            name,
            address,
            reason,
        )

    def succeeded(self, name: str) -> None:
        """Forget the name's failures (its owner knows the password)."""
        for item in self._per_name:
            self._limiter.clear(item, "name", name)

    @contextmanager
    def password_check(self) -> Iterator[None]:
        """Hold one of the argon2 slots; ``PasswordChecksBusy`` when none frees."""
        if not self._slots.acquire(timeout=HASH_SLOT_WAIT_S):
            raise PasswordChecksBusy("too many logins at once: try again shortly")
        try:
            yield
        finally:
            self._slots.release()
