"""How every reconnecting loop in SkyBerth waits: exponential back-off with full jitter.

A TCP link to an autopilot, the NATS bus, the database writer's held jobs: each
retries after a failure. Without jitter, every gateway of a deployment retries at
the same instants after a NATS or PostgreSQL restart and hits the server together;
"full jitter" (a uniform draw below the exponential ceiling) spreads them. The
waits come from tenacity's ``wait_random_exponential``, so the policy is the
library's, not ours; this module only fixes the shape every caller uses.
"""

from __future__ import annotations

from collections.abc import Iterator

from tenacity import RetryCallState, wait_random_exponential


def jittered_waits(
    first_s: float, max_s: float, *, floor_s: float = 0.0
) -> Iterator[float]:
    """Endless waits in seconds: uniform in ``[floor_s, min(max_s, first_s * 2**n)]``.

    For loops that retry by themselves (redial, reconnect): take the next wait
    after each failure and start a new iterator after a success.
    """
    if first_s <= 0 or max_s < first_s:
        raise ValueError(f"need 0 < first_s <= max_s, got {first_s} and {max_s}")
    wait = wait_random_exponential(multiplier=first_s, max=max_s)
    attempt = 0
    while True:
        attempt += 1
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]  # tenacity's waits read only attempt_number
        state.attempt_number = attempt
        yield max(floor_s, float(wait(state)))
